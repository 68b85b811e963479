/**
 * IP addresses and CIDR networks, parsed without Node: the trusted-proxy list is read both by the
 * configuration (to refuse a malformed one at start-up) and by the server (to find the client
 * address), so the rule lives here, below both.
 */

/** `::ffff:a.b.c.d` → `a.b.c.d`; an IPv4 address as it is; otherwise undefined. */
export function mappedIPv4(address: string): string | undefined {
  const m = /^(?:::ffff:)?(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return m ? m[1] : undefined;
}

/** The eight 16-bit groups of an IPv6 address (a zone id dropped), or undefined when it is not one. */
export function expandIPv6(address: string): number[] | undefined {
  let a = address.replace(/%.*$/, '');
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  if (!a.includes(':') || !/^[0-9a-f:.]+$/i.test(a)) return undefined;
  // A trailing dotted IPv4 part counts as two groups.
  const tail = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(a);
  if (tail) {
    const b = tail.slice(1).map(Number);
    if (b.some((x) => x > 255)) return undefined;
    a = `${a.slice(0, tail.index)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const halves = a.split('::');
  if (halves.length > 2) return undefined;
  const part = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const head = part(halves[0]!);
  const rest = halves.length === 2 ? part(halves[1]!) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  if (all.some((g) => !/^[0-9a-f]{1,4}$/i.test(g))) return undefined;
  return all.map((g) => parseInt(g, 16));
}

/** One trusted network: the address family, its bits and the prefix length. */
export interface Network {
  readonly v6: boolean;
  readonly bits: bigint;
  readonly prefix: number;
}

export function bitsOf(address: string): { v6: boolean; bits: bigint } | undefined {
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

export function contains(net: Network, address: { v6: boolean; bits: bigint }): boolean {
  if (net.v6 !== address.v6) return false;
  const max = net.v6 ? 128 : 32;
  const mask = net.prefix === 0 ? 0n : ((1n << BigInt(net.prefix)) - 1n) << BigInt(max - net.prefix);
  return (address.bits & mask) === net.bits;
}
