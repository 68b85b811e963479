/**
 * Encryption at rest: AES-256-GCM with a key ring (docs/storage.md, "Encryption at rest").
 *
 * A sealed value is one self-describing ASCII string:
 *
 * ```
 * v1.<kid>.<base64url nonce, 12 bytes>.<base64url ciphertext>.<base64url tag, 16 bytes>
 * ```
 *
 * and its additional authenticated data binds it to where it is stored and to the key id:
 *
 * ```
 * "spapi-auth/v1|" + table + "|" + column + "|" + kid + "|" + rowKey
 * ```
 *
 * so a ciphertext copied into another row or column, a relabelled key id, a flipped bit or a
 * truncated tag fails authentication ({@link StorageIntegrityError}). The nonce is
 * `randomBytes(12)` per seal — never a counter kept in the database, which a restore would repeat.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { KeyRingError, StorageIntegrityError } from './errors.js';

const VERSION = 'v1';
const AAD_PREFIX = 'spapi-auth/v1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
/** A key id of the key ring (the CLI checks `--kid` with it too). */
export const KID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
const B64URL_PATTERN = /^[A-Za-z0-9_-]*$/;

/**
 * A set of 32-byte keys by id; the first (`activeKid`) seals, all open. The key bytes are not
 * enumerable and never printed (`console.log(ring)` shows only the ids).
 *
 * @example
 * ```ts
 * const ring = parseKeyRing(process.env.SPAPI_AUTH_ENCRYPTION_KEYS ?? '');
 * ring.activeKid; // 'k2'
 * ```
 */
export interface KeyRing {
  readonly activeKid: string;
  readonly kids: readonly string[];
  /** How many values this process sealed with `kid` (AES-GCM with random nonces allows 2^32 per key). */
  sealCount(kid: string): number;
}

/** Where a sealed value lives: part of its additional authenticated data. */
export interface SealContext {
  readonly table: string;
  readonly column: string;
  /** The row's key (e.g. `na|A3FHEXAMPLEYWS`). */
  readonly rowKey: string;
}

const secretKeys = new WeakMap<KeyRing, ReadonlyMap<string, Buffer>>();
const sealCounts = new WeakMap<KeyRing, Map<string, number>>();

/**
 * Builds a key ring from `[kid, key]` pairs; the first pair seals.
 *
 * @example
 * ```ts
 * const ring = createKeyRing([['k1', randomBytes(32)]]);
 * ```
 */
export function createKeyRing(entries: readonly (readonly [string, Uint8Array])[]): KeyRing {
  if (entries.length === 0) throw new KeyRingError('A key ring needs at least one key.');
  const keys = new Map<string, Buffer>();
  for (const [kid, key] of entries) {
    if (!KID_PATTERN.test(kid))
      throw new KeyRingError('A key id must be 1-32 characters of A-Z a-z 0-9 _ -.');
    if (key.byteLength !== KEY_BYTES) throw new KeyRingError(`Key "${kid}" must be exactly 32 bytes.`);
    if (keys.has(kid)) throw new KeyRingError(`Key id "${kid}" appears twice.`);
    keys.set(kid, Buffer.from(key));
  }
  const kids = Object.freeze([...keys.keys()]);
  const counts = new Map<string, number>();
  const ring: KeyRing = {
    activeKid: kids[0]!,
    kids,
    sealCount: (kid) => counts.get(kid) ?? 0,
  };
  Object.defineProperty(ring, inspect.custom, { value: () => `KeyRing { kids: ${kids.join(', ')} }` });
  Object.defineProperty(ring, 'toJSON', { value: () => ({ activeKid: ring.activeKid, kids }) });
  secretKeys.set(ring, keys);
  sealCounts.set(ring, counts);
  return Object.freeze(ring);
}

/**
 * Parses `kid1:<base64 of 32 bytes>,kid2:<…>` (standard or url-safe base64, spaces ignored). The
 * first key seals; every key opens. A malformed value throws {@link KeyRingError} naming
 * `variableName` and the entry's position, never the value.
 *
 * @example
 * ```ts
 * const ring = parseKeyRing(`k1:${generateKey()}`);
 * ```
 */
export function parseKeyRing(value: string, variableName = 'SPAPI_AUTH_ENCRYPTION_KEYS'): KeyRing {
  const entries: [string, Buffer][] = [];
  const parts = value.split(',').map((p) => p.trim());
  if (value.trim() === '')
    throw new KeyRingError(`${variableName} is empty: expected kid:<base64 of 32 bytes>.`);
  const seen = new Set<string>();
  parts.forEach((part, i) => {
    const where = `${variableName}: entry ${i + 1}`;
    const colon = part.indexOf(':');
    if (colon <= 0) throw new KeyRingError(`${where} is not kid:<base64 of 32 bytes>.`);
    const kid = part.slice(0, colon);
    const b64 = part.slice(colon + 1);
    if (!KID_PATTERN.test(kid))
      throw new KeyRingError(`${where} has an invalid key id (1-32 of A-Z a-z 0-9 _ -).`);
    if (seen.has(kid)) throw new KeyRingError(`${where} repeats a key id.`);
    seen.add(kid);
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(b64)) throw new KeyRingError(`${where} is not valid base64.`);
    const key = Buffer.from(b64.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (key.length !== KEY_BYTES) throw new KeyRingError(`${where} does not decode to exactly 32 bytes.`);
    entries.push([kid, key]);
  });
  return createKeyRing(entries);
}

/**
 * A fresh random 32-byte key, base64-encoded, for `SPAPI_AUTH_ENCRYPTION_KEYS`.
 *
 * @example
 * ```ts
 * const value = `k${Date.now()}:${generateKey()}`;
 * ```
 */
export function generateKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

function aad(context: SealContext, kid: string): Buffer {
  return Buffer.from(`${AAD_PREFIX}|${context.table}|${context.column}|${kid}|${context.rowKey}`, 'utf8');
}

/**
 * Seals `plaintext` with the ring's active key for the given place.
 *
 * @example
 * ```ts
 * const sealed = sealValue(ring, { table: 'sellers', column: 'refresh_token', rowKey: 'na|A1' }, refreshToken);
 * ```
 */
export function sealValue(ring: KeyRing, context: SealContext, plaintext: string): string {
  const keys = secretKeys.get(ring);
  if (!keys) throw new TypeError('not a key ring made by createKeyRing or parseKeyRing');
  const kid = ring.activeKid;
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keys.get(kid)!, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad(context, kid));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const counts = sealCounts.get(ring)!;
  counts.set(kid, (counts.get(kid) ?? 0) + 1);
  return [VERSION, kid, b64u(nonce), b64u(ciphertext), b64u(cipher.getAuthTag())].join('.');
}

/**
 * Opens a sealed value for the given place; throws {@link StorageIntegrityError} on any failure
 * (malformed, unknown key id — no other key is tried —, wrong place, tampered).
 *
 * @example
 * ```ts
 * const refreshToken = openValue(ring, { table: 'sellers', column: 'refresh_token', rowKey: 'na|A1' }, sealed);
 * ```
 */
export function openValue(ring: KeyRing, context: SealContext, sealed: string): string {
  const keys = secretKeys.get(ring);
  if (!keys) throw new TypeError('not a key ring made by createKeyRing or parseKeyRing');
  const where = `${context.table}.${context.column}`;
  const parts = sealed.split('.');
  if (parts.length !== 5 || parts[0] !== VERSION || !parts.slice(2).every((p) => B64URL_PATTERN.test(p))) {
    throw new StorageIntegrityError(`A sealed value in ${where} is malformed.`);
  }
  const [, kid, nonceText, ciphertextText, tagText] = parts as [string, string, string, string, string];
  const key = keys.get(kid);
  if (!key)
    throw new StorageIntegrityError(`A sealed value in ${where} uses a key id the key ring does not have.`);
  const nonce = Buffer.from(nonceText, 'base64url');
  const tag = Buffer.from(tagText, 'base64url');
  // Node accepts short GCM tags unless told the length (DEP0182); reject them before setAuthTag.
  if (nonce.length !== NONCE_BYTES || tag.length !== TAG_BYTES) {
    throw new StorageIntegrityError(`A sealed value in ${where} has a bad nonce or tag length.`);
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad(context, kid));
    decipher.setAuthTag(tag);
    const plain = Buffer.concat([
      decipher.update(Buffer.from(ciphertextText, 'base64url')),
      decipher.final(),
    ]);
    return plain.toString('utf8');
  } catch {
    throw new StorageIntegrityError(`A sealed value in ${where} failed authentication.`);
  }
}

/**
 * The key id a sealed value names, or null when it is not a sealed value; no decryption.
 *
 * @example
 * ```ts
 * if (sealedKeyId(ref.ciphertext) !== ring.activeKid) rewrapOne(ref);
 * ```
 */
export function sealedKeyId(sealed: string): string | null {
  const parts = sealed.split('.');
  return parts.length === 5 && parts[0] === VERSION && KID_PATTERN.test(parts[1]!) ? parts[1]! : null;
}

const fingerprintKeys = new WeakMap<KeyRing, Map<string, Buffer>>();

/**
 * A keyed fingerprint of a secret, to find a stored secret equal to a given one without opening
 * any: `<kid>.<base64url HMAC-SHA256>`, under a key derived (HKDF-SHA256) from the ring's key
 * `kid` for this `purpose` — never the encryption key itself. `kid` defaults to the active key.
 *
 * @example
 * ```ts
 * const fp = fingerprintValue(ring, 'sellers.refresh_token', refreshToken); // 'k2.Qm9…'
 * ```
 */
export function fingerprintValue(
  ring: KeyRing,
  purpose: string,
  plaintext: string,
  kid: string = ring.activeKid,
): string {
  const keys = secretKeys.get(ring);
  const key = keys?.get(kid);
  if (!keys || !key) throw new TypeError('not a key of a ring made by createKeyRing or parseKeyRing');
  let derived = fingerprintKeys.get(ring);
  if (!derived) fingerprintKeys.set(ring, (derived = new Map()));
  const cacheKey = `${kid}|${purpose}`;
  let macKey = derived.get(cacheKey);
  if (!macKey) {
    macKey = Buffer.from(
      hkdfSync('sha256', key, Buffer.alloc(0), `${AAD_PREFIX}|fingerprint|${purpose}`, 32),
    );
    derived.set(cacheKey, macKey);
  }
  return `${kid}.${b64u(createHmac('sha256', macKey).update(plaintext, 'utf8').digest())}`;
}

/**
 * The fingerprints `plaintext` may be stored under: one per key of the ring (a fingerprint made
 * before a key rotation names the older key).
 *
 * @example
 * ```ts
 * const rows = await db.all(`SELECT … WHERE fp IN (${fps.map(() => '?').join(', ')})`, fingerprintCandidates(ring, purpose, token));
 * ```
 */
export function fingerprintCandidates(ring: KeyRing, purpose: string, plaintext: string): string[] {
  return ring.kids.map((kid) => fingerprintValue(ring, purpose, plaintext, kid));
}

function b64u(bytes: Buffer): string {
  return bytes.toString('base64url');
}
