/**
 * Who the client is, for limits and logs only (never to build a URL): the socket peer, or — when
 * the peer is one of the trusted proxies (`SPAPI_AUTH_TRUSTED_PROXIES`) — the right-most address of
 * `X-Forwarded-For` that is not itself a trusted proxy. Everything left of that address was written
 * by the client and is ignored; with no trusted proxy configured the header is never read.
 */
import { bitsOf, contains, mappedIPv4, parseTrustedProxies } from '../../common/ip-networks.js';

/** At most this many `X-Forwarded-For` entries are looked at (right to left). */
const MAX_HOPS = 16;

/**
 * Whether a socket peer is one of the trusted proxies: their connections carry many clients, so
 * the per-client share of the connection cap does not apply to them (the proxy limits its clients).
 *
 * @example
 * const isProxy = trustedProxyCheck(['10.0.0.0/8']);
 * isProxy('10.1.2.3'); // true
 */
export function trustedProxyCheck(trustedProxies: readonly string[]): (address: string) => boolean {
  const nets = parseTrustedProxies(trustedProxies);
  if (nets.length === 0) return () => false;
  return (address) => {
    const bits = bitsOf(address);
    return bits !== undefined && nets.some((n) => contains(n, bits));
  };
}

/** What the client address is read from: the socket peer and the request headers. */
export interface PeerAndHeaders {
  readonly remoteAddress: string;
  header(name: string): string | undefined;
}

/** The client address of a request, as {@link createClientAddress} resolves it. */
export type ClientAddress = (req: PeerAndHeaders) => string;

/**
 * The client-address function for a list of trusted proxies (empty: the socket peer, always).
 * The result is normalised (an IPv4-mapped IPv6 peer as its IPv4 form).
 *
 * @example
 * const clientAddress = createClientAddress(['127.0.0.1']);
 * clientAddress(req); // '203.0.113.9' for a request nginx on 127.0.0.1 forwarded
 */
export function createClientAddress(
  trustedProxies: readonly string[],
  onIgnoredHeader?: () => void,
): ClientAddress {
  const nets = parseTrustedProxies(trustedProxies);
  const trusted = (a: { v6: boolean; bits: bigint }): boolean => nets.some((n) => contains(n, a));
  const isTrustedPeer = trustedProxyCheck(trustedProxies);
  const normal = (a: string): string => mappedIPv4(a) ?? a;
  return (req) => {
    const peer = normal(req.remoteAddress);
    if (!isTrustedPeer(peer)) {
      if (onIgnoredHeader !== undefined && req.header('x-forwarded-for') !== undefined) onIgnoredHeader();
      return peer;
    }
    const header = req.header('x-forwarded-for');
    if (header === undefined) return peer;
    const hops = header.split(',');
    let client = peer;
    for (let i = hops.length - 1, n = 0; i >= 0 && n < MAX_HOPS; i--, n++) {
      const hop = hops[i]!.trim();
      const bits = bitsOf(hop);
      // A malformed entry was not written by a trusted proxy: the last good hop is the client.
      if (bits === undefined) return client;
      client = normal(hop);
      if (!trusted(bits)) return client;
    }
    return client;
  };
}
