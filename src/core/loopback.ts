/**
 * What counts as this machine, in one place. Two questions, one answer:
 *
 * - a socket peer address (who connected): the loopback ranges, IPv4 127.0.0.0/8 (RFC 1122), IPv6
 *   `::1` (RFC 4291) and IPv4-mapped `::ffff:127.x.y.z`. The `Host` header says nothing about who
 *   connected (a remote client can send `Host: localhost`), so only this answers "is it local?".
 * - a host name (a URL's hostname, a `Host` header without its port, a `HOST` to listen on):
 *   `localhost` or one of those addresses, IPv6 with or without its brackets. These are the hosts
 *   browsers treat as secure without TLS ("potentially trustworthy" origins), which is why plain
 *   http is accepted exactly there: the public URL in dev, an emulator as the Amazon URL, a local
 *   OpenID provider, a local queue.
 *
 * All of 127.0.0.0/8 counts, not only 127.0.0.1: every address of it stays on the machine.
 */

/**
 * Whether a socket peer address is this machine.
 *
 * @example
 * isLoopbackAddress('::ffff:127.0.0.1'); // true
 */
export function isLoopbackAddress(address: string): boolean {
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4 === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/**
 * Whether a host name names this machine only: `localhost` or a loopback address (`[::1]` as a
 * URL writes it, or `::1`).
 *
 * @example
 * isLoopbackHost(new URL('http://[::1]:4010').hostname); // true
 * isLoopbackHost('0.0.0.0'); // false
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1');
  return h.toLowerCase() === 'localhost' || isLoopbackAddress(h);
}

/** The hosts {@link isLoopbackHost} accepts, as error messages name them. */
export const LOOPBACK_HOSTS = 'localhost, 127.0.0.0/8 or [::1]';
