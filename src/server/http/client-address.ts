/**
 * Who the client is, for limits and logs only (never to build a URL): the socket peer, or — when
 * the peer is one of the trusted proxies (`SPAPI_AUTH_TRUSTED_PROXIES`) — the right-most address of
 * `X-Forwarded-For` that is not itself a trusted proxy. Everything left of that address was written
 * by the client and is ignored; with no trusted proxy configured the header is never read.
 */
import { expandIPv6, mappedIPv4 } from './limits.js';

/** At most this many `X-Forwarded-For` entries are looked at (right to left). */
const MAX_HOPS = 16;

/** One trusted network: the address family, its bits and the prefix length. */
interface Network {
  readonly v6: boolean;
  readonly bits: bigint;
  readonly prefix: number;
}

function bitsOf(address: string): { v6: boolean; bits: bigint } | undefined {
  const v4 = mappedIPv4(address);
  if (v4 !== undefined) {
    const parts = v4.split('.').map(Number);
    if (parts.some((p) => p > 255)) return undefined;
    return {
      v6: false,
      bits: BigInt(((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0),
    };
  }
  const groups = expandIPv6(address);
  if (groups === undefined) return undefined;
  return { v6: true, bits: groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n) };
}

/**
 * Parses a trusted-proxy list (addresses and CIDR networks, IPv4 or IPv6); throws a `RangeError`
 * naming the bad entry's position (never its value) when one is malformed.
 *
 * @example
 * const trusted = parseTrustedProxies(['127.0.0.1', '10.0.0.0/8', 'fd00::/8']);
 */
export function parseTrustedProxies(entries: readonly string[]): readonly Network[] {
  return entries.map((entry, i) => {
    const [addr, len, extra] = entry.trim().split('/');
    const parsed = addr === undefined ? undefined : bitsOf(addr);
    const max = parsed?.v6 ? 128 : 32;
    const prefix = len === undefined ? max : /^\d{1,3}$/.test(len) ? Number(len) : NaN;
    if (parsed === undefined || extra !== undefined || !(prefix >= 0 && prefix <= max)) {
      throw new RangeError(`trusted proxy entry ${i + 1} is not an address or CIDR network`);
    }
    const mask = prefix === 0 ? 0n : ((1n << BigInt(prefix)) - 1n) << BigInt(max - prefix);
    return { v6: parsed.v6, bits: parsed.bits & mask, prefix };
  });
}

function contains(net: Network, address: { v6: boolean; bits: bigint }): boolean {
  if (net.v6 !== address.v6) return false;
  const max = net.v6 ? 128 : 32;
  const mask = net.prefix === 0 ? 0n : ((1n << BigInt(net.prefix)) - 1n) << BigInt(max - net.prefix);
  return (address.bits & mask) === net.bits;
}

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
  const normal = (a: string): string => mappedIPv4(a) ?? a;
  return (req) => {
    const peer = normal(req.remoteAddress);
    if (nets.length === 0) {
      if (onIgnoredHeader !== undefined && req.header('x-forwarded-for') !== undefined) onIgnoredHeader();
      return peer;
    }
    const peerBits = bitsOf(peer);
    if (peerBits === undefined || !trusted(peerBits)) {
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
