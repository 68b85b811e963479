import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import {
  KeyRingError,
  StorageIntegrityError,
  createKeyRing,
  generateKey,
  openValue,
  parseKeyRing,
  sealValue,
  sealedKeyId,
} from '../../src/storage/index.js';

const PLACE = { table: 'sellers', column: 'refresh_token', rowKey: 'na|A3FHEXAMPLEYWS' };
const K1 = generateKey();
const K2 = generateKey();
const RING = parseKeyRing(`k1:${K1},k2:${K2}`);

function isIntegrityError(err: unknown): boolean {
  return err instanceof StorageIntegrityError && err.code === 'credential_integrity_error';
}

/** Decodes one base64url segment of a sealed value, flips bit `bit` of byte `i`, re-encodes. */
function flip(sealed: string, segment: number, i: number, bit = 0): string {
  const parts = sealed.split('.');
  const bytes = Buffer.from(parts[segment]!, 'base64url');
  bytes[i] = bytes[i]! ^ (1 << bit);
  parts[segment] = bytes.toString('base64url');
  return parts.join('.');
}

describe('key ring', () => {
  it('parses kid:base64 pairs; the first seals and every key opens', () => {
    assert.equal(RING.activeKid, 'k1');
    assert.deepEqual(RING.kids, ['k1', 'k2']);
    const byK2 = sealValue(parseKeyRing(`k2:${K2}`), PLACE, 'Atzr|x');
    assert.equal(sealedKeyId(byK2), 'k2');
    assert.equal(openValue(RING, PLACE, byK2), 'Atzr|x');
    assert.equal(sealedKeyId(sealValue(RING, PLACE, 'Atzr|x')), 'k1');
    // url-safe base64 and spaces around entries are accepted
    const urlSafe = Buffer.from(K1, 'base64').toString('base64url');
    assert.equal(parseKeyRing(` k1:${urlSafe} , k3:${generateKey()}`).activeKid, 'k1');
  });

  it('refuses malformed rings naming the variable and never printing the value', () => {
    const marker = Buffer.from('MARKER-KEY-VALUE-0123456789abcde').toString('base64'); // 32 bytes
    const cases = [
      '',
      'no-colon-here',
      `:${marker}`,
      `bad kid!:${marker}`,
      `k1:${marker},k1:${marker}`,
      'k1:not*base64',
      `k1:${randomBytes(31).toString('base64')}`,
      `k1:${randomBytes(33).toString('base64')}`,
      `k1:${marker},`,
    ];
    for (const value of cases) {
      assert.throws(
        () => parseKeyRing(value, 'MY_KEYS'),
        (err: unknown) =>
          err instanceof KeyRingError &&
          err.code === 'invalid_encryption_keys' &&
          err.message.includes('MY_KEYS') &&
          !err.message.includes(marker) &&
          !err.message.includes('MARKER') &&
          (value === '' || !err.message.includes(value)),
        `case ${JSON.stringify(value.slice(0, 12))}`,
      );
    }
    assert.throws(() => parseKeyRing('x'), /SPAPI_AUTH_ENCRYPTION_KEYS/);
  });

  it('never shows key bytes when printed or serialized', () => {
    const ring = parseKeyRing(`k1:${K1}`);
    const hex = Buffer.from(K1, 'base64').toString('hex');
    for (const text of [
      inspect(ring, { showHidden: true, depth: 5 }),
      JSON.stringify(ring),
      String(Object.keys(ring)),
    ]) {
      assert.ok(!text.includes(K1) && !text.includes(hex), text);
    }
  });

  it('generates distinct 32-byte keys', () => {
    const a = generateKey();
    assert.equal(Buffer.from(a, 'base64').length, 32);
    assert.notEqual(a, generateKey());
    assert.throws(() => createKeyRing([]), KeyRingError);
  });
});

describe('sealing', () => {
  it('round-trips random and unicode values', () => {
    for (let i = 0; i < 2000; i++) {
      const value = i % 2 ? randomBytes(i % 300).toString('base64') : `Atzr|${'é☃🚀'.repeat(i % 7)}${i}`;
      assert.equal(openValue(RING, PLACE, sealValue(RING, PLACE, value)), value);
    }
  });

  it('binds a value to its table, column and row', () => {
    const sealed = sealValue(RING, PLACE, 'Atzr|bound');
    for (const place of [
      { ...PLACE, table: 'app_secrets' },
      { ...PLACE, column: 'access_token' },
      { ...PLACE, rowKey: 'na|OTHERSELLER' },
      { ...PLACE, rowKey: 'eu|A3FHEXAMPLEYWS' },
    ]) {
      assert.throws(() => openValue(RING, place, sealed), isIntegrityError);
    }
  });

  it('detects every flipped bit in the nonce, the ciphertext and the tag', () => {
    const sealed = sealValue(RING, PLACE, 'Atzr|flip-me');
    let attempts = 0;
    for (const segment of [2, 3, 4]) {
      const length = Buffer.from(sealed.split('.')[segment]!, 'base64url').length;
      for (let i = 0; i < length; i++) {
        for (const bit of [0, 7]) {
          attempts++;
          assert.throws(() => openValue(RING, PLACE, flip(sealed, segment, i, bit)), isIntegrityError);
        }
      }
    }
    assert.equal(attempts, 2 * (12 + 'Atzr|flip-me'.length + 16));
  });

  it('rejects a truncated tag, a relabelled or unknown key id, and garbage', () => {
    const sealed = sealValue(RING, PLACE, 'Atzr|x');
    const parts = sealed.split('.');
    const tag12 = Buffer.from(parts[4]!, 'base64url').subarray(0, 12).toString('base64url');
    const variants = [
      [...parts.slice(0, 4), tag12].join('.'),
      ['v1', 'k2', ...parts.slice(2)].join('.'),
      ['v1', 'k9', ...parts.slice(2)].join('.'),
      ['v2', ...parts.slice(1)].join('.'),
      parts.slice(0, 4).join('.'),
      `${sealed}.x`,
      'Atzr|plaintext',
      '',
      sealed.replace(/\.[^.]*$/, '.!!!'),
    ];
    for (const variant of variants) assert.throws(() => openValue(RING, PLACE, variant), isIntegrityError);
    assert.equal(sealedKeyId('Atzr|plaintext'), null);
  });

  it('never repeats a nonce over 100,000 seals, and counts seals per key', () => {
    const ring = parseKeyRing(`k1:${K1}`);
    const nonces = new Set<string>();
    for (let i = 0; i < 100_000; i++) nonces.add(sealValue(ring, PLACE, 'Atzr|same').split('.')[2]!);
    assert.equal(nonces.size, 100_000);
    assert.equal(ring.sealCount('k1'), 100_000);
    assert.equal(ring.sealCount('k2'), 0);
  });

  it('says nothing secret in integrity errors', () => {
    const sealed = sealValue(RING, PLACE, 'Atzr|secret-marker');
    try {
      openValue(RING, { ...PLACE, rowKey: 'na|B' }, sealed);
      assert.fail('should throw');
    } catch (err) {
      const text = `${(err as Error).message} ${inspect(err)}`;
      assert.ok(!text.includes('secret-marker') && !text.includes(sealed.split('.')[3]!));
    }
  });
});
