/**
 * CSRF state and PKCE (RFC 7636, S256) from WebCrypto. The state is 32 random bytes (256 bits, as
 * LWA recommends), kept server-side only as a SHA-256 hash and compared in constant time.
 */

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Base64url without padding (RFC 4648 §5).
 *
 * @example
 * base64url(new Uint8Array([251, 255])); // '-_8'
 */
export function base64url(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += B64URL[n >> 18]! + B64URL[(n >> 12) & 63]! + B64URL[(n >> 6) & 63]! + B64URL[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += B64URL[n >> 18]! + B64URL[(n >> 12) & 63]!;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += B64URL[n >> 18]! + B64URL[(n >> 12) & 63]! + B64URL[(n >> 6) & 63]!;
  }
  return out;
}

/**
 * `n` bytes from the platform CSPRNG, base64url-encoded.
 *
 * @example
 * randomToken(32).length; // 43
 */
export function randomToken(n = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(n)));
}

/**
 * SHA-256 of a UTF-8 string, base64url-encoded.
 *
 * @example
 * await sha256Base64url('abc'); // 'ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0'
 */
export async function sha256Base64url(value: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(value));
  return base64url(new Uint8Array(digest));
}

/**
 * A new OAuth `state`: 32 random bytes, base64url (43 characters). Send it in the consent URL,
 * store only {@link hashState}'s result.
 *
 * @example
 * const state = createState();
 * await store.saveTransaction({ stateHash: await hashState(state) });
 */
export function createState(): string {
  return randomToken(32);
}

/**
 * The value to store for a state (or a binding cookie): SHA-256, base64url. A leaked store row
 * does not reveal a usable state.
 *
 * @example
 * const row = await store.findTransaction(await hashState(callback.state));
 */
export function hashState(state: string): Promise<string> {
  return sha256Base64url(state);
}

/**
 * Compares two strings in time that depends only on their lengths (for hashes of equal length:
 * constant). Use it for every comparison of a secret or a hash of one.
 *
 * @example
 * timingSafeEqual(await hashState(cookie), row.cookieHash); // true | false
 */
export function timingSafeEqual(a: string, b: string): boolean {
  const len = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  for (let i = 0; i < len; i++) {
    diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0);
  }
  return diff === 0;
}

/**
 * True when `state` hashes to `expectedHash` (compared in constant time).
 *
 * @example
 * if (!(await verifyState(callback.state, row.stateHash))) throw new StateError('state_invalid', 'state mismatch');
 */
export async function verifyState(state: string, expectedHash: string): Promise<boolean> {
  return timingSafeEqual(await hashState(state), expectedHash);
}

/**
 * A PKCE pair: keep the verifier with the transaction, send the challenge in the consent URL.
 *
 * @example
 * const pkce: Pkce = await createPkce();
 * buildConsentUrl({ ...options, codeChallenge: pkce.codeChallenge }); // keep pkce.codeVerifier
 */
export interface Pkce {
  /** 43 characters of base64url (32 random bytes), sent as `code_verifier` at the exchange. */
  readonly codeVerifier: string;
  /** BASE64URL(SHA-256(verifier)), sent as `code_challenge` with `code_challenge_method=S256`. */
  readonly codeChallenge: string;
  readonly codeChallengeMethod: 'S256';
}

/**
 * A new PKCE verifier and its S256 challenge (RFC 7636 §4.1–4.2). Amazon does not document PKCE on
 * the SP-API consent URL; the emulator enforces it when a challenge is sent.
 *
 * @example
 * const pkce = await createPkce();
 * buildConsentUrl({ marketplace: 'US', applicationId, state, codeChallenge: pkce.codeChallenge });
 */
export async function createPkce(): Promise<Pkce> {
  const codeVerifier = randomToken(32);
  return Object.freeze({
    codeVerifier,
    codeChallenge: await pkceChallenge(codeVerifier),
    codeChallengeMethod: 'S256' as const,
  });
}

/**
 * The S256 challenge of a verifier.
 *
 * @example
 * await pkceChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'); // 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'
 */
export function pkceChallenge(codeVerifier: string): Promise<string> {
  return sha256Base64url(codeVerifier);
}
