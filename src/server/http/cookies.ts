/** Reading and writing cookies, with the attributes the flows need and nothing else. */

/** Attributes for {@link serializeCookie}. */
export interface CookieOptions {
  readonly maxAgeSeconds: number;
  readonly secure: boolean;
  readonly sameSite: 'Lax' | 'Strict';
  readonly httpOnly?: boolean;
}

/**
 * A `Set-Cookie` value. Always `Path=/` and never `Domain`, as `__Host-` cookies require.
 *
 * @example
 * serializeCookie('__Host-spapi_tx', nonce, { maxAgeSeconds: 600, secure: true, sameSite: 'Lax' });
 */
export function serializeCookie(name: string, value: string, opts: CookieOptions): string {
  if (!/^[A-Za-z0-9_-]+$/.test(name) || !/^[A-Za-z0-9_-]*$/.test(value)) {
    throw new TypeError('serializeCookie: name and value must be base64url characters');
  }
  let out = `${name}=${value}; Path=/; Max-Age=${opts.maxAgeSeconds}; SameSite=${opts.sameSite}`;
  if (opts.httpOnly !== false) out += '; HttpOnly';
  if (opts.secure) out += '; Secure';
  return out;
}

/**
 * The value of one cookie from a `Cookie` header; undefined when absent or present more than once
 * (a duplicate is a sign of cookie tossing, and either value could be the attacker's).
 *
 * @example
 * readCookie('a=1; spapi_tx=xyz', 'spapi_tx'); // 'xyz'
 */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined || header.length > 8192) return undefined;
  let found: string | undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    if (found !== undefined) return undefined;
    found = part.slice(eq + 1).trim();
  }
  return found;
}
