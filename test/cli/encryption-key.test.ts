// `spapi-auth encryption-key generate|rewrap`: a new key, then every stored value moved onto it.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseKeyRing, sealedKeyId } from '../../src/storage/crypto.js';
import type { Store } from '../../src/storage/store.js';
import { cliCommand, repoRoot } from '../helpers/cli.js';
import { assertFailure, assertNoLeak, cliWorld, keyEntry, seedSeller, type CliWorld } from './helpers.js';
import { closeAfter } from '../helpers/after.js';

/** How many stored values each key id seals. */
async function valuesByKid(store: Store): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let cursor: string | null = null;
  do {
    const page = await store.listEncryptedValues({ cursor, limit: 100 });
    for (const v of page.items) {
      const kid = sealedKeyId(v.ciphertext) ?? '?';
      counts[kid] = (counts[kid] ?? 0) + 1;
    }
    cursor = page.nextCursor;
  } while (cursor !== null);
  return counts;
}

describe('spapi-auth encryption-key generate', () => {
  it('prints a new kid:<32 bytes base64> entry once, and how to install it', async (t) => {
    const world = closeAfter(t, await cliWorld({ migrate: false }));
    const r = await world.cli(['encryption-key', 'generate', '--kid', 'k2']);
    assert.equal(r.code, 0, r.stderr);
    const entry = r.stdout.trim();
    assert.match(entry, /^k2:[A-Za-z0-9+/]{43}=$/);
    assert.equal(Buffer.from(entry.slice(3), 'base64').length, 32);
    parseKeyRing(`${entry},${world.keys}`); // usable as is, in front of the configured ring
    assert.match(r.stderr, /prepend it: SPAPI_AUTH_ENCRYPTION_KEYS=k2:…,k1:…/);
    assert.match(r.stderr, /encryption-key rewrap/);
    assertNoLeak({ ...r, stdout: '' }, [entry.slice(3), world.keys.slice(3)]);
    const json = await world.cli(['encryption-key', 'generate', '--json']);
    const body = JSON.parse(json.stdout) as { kid: string; key: string; entry: string };
    assert.match(body.kid, /^k\d{8}$/);
    assert.equal(body.entry, `${body.kid}:${body.key}`);
    assert.notEqual(body.key, entry.slice(3), 'a new key each time');
    assertFailure(
      await world.cli(['encryption-key', 'generate', '--kid', 'k1']),
      2,
      /key id 'k1' is already in SPAPI_AUTH_ENCRYPTION_KEYS/,
    );
    const refused = assertFailure(
      await world.cli(['encryption-key', 'generate', '--kid', 'k1']),
      2,
      /no key was generated: a new key under the same id could not decrypt what the current one wrote\. .*--kid k2/,
    );
    assertNoLeak({ code: 2, stdout: '', stderr: refused }, [world.keys.slice(3)]);
    assertFailure(await world.cli(['encryption-key', 'generate', '--kid', 'no spaces']), 2, /--kid/);
    assertFailure(await world.cli(['encryption-key']), 2, /missing subcommand \(generate, rewrap\)/);
    assertFailure(await world.cli(['encryption-key', 'rotate']), 2, /unknown subcommand 'rotate'/);
    assertFailure(await world.cli(['encryption-key', 'generate', '--batch-size', '5']), 2, /does not apply/);
  });
});

describe('spapi-auth encryption-key rewrap', () => {
  let world: CliWorld;
  const k2 = keyEntry('k2');
  const sellers = [
    'A1EMUSELLERNA01',
    'A1EMUSELLEREU01',
    'A1EMUSELLERFE01',
    'A1EMUSELLERGL01',
    'A1EMUVENDORNA01',
  ];
  const refreshTokens: string[] = [];
  before(async () => {
    world = await cliWorld();
    const store = await world.openStore();
    try {
      for (const [i, id] of sellers.entries()) {
        refreshTokens.push(
          await seedSeller(world, store, {
            id,
            region: 'na',
            refreshToken: `Atzr|CANARYrewrap${i}0000000000000000`,
          }),
        );
      }
    } finally {
      await store.close();
    }
  });
  after(() => world.close());

  it('refuses bad usage and a missing key ring, changing nothing', async () => {
    assertFailure(
      await world.cli(['encryption-key', 'rewrap', '--batch-size', '0']),
      2,
      /--batch-size must be/,
    );
    assertFailure(
      await world.cli(['encryption-key', 'rewrap'], { env: { SPAPI_AUTH_ENCRYPTION_KEYS: undefined } }),
      1,
      /SPAPI_AUTH_ENCRYPTION_KEYS: is required for this command/,
    );
  });

  it('fails with credential_integrity_error when the ring lacks the key the values use, changing nothing', async (t) => {
    const r = await world.cli(['encryption-key', 'rewrap'], { env: { SPAPI_AUTH_ENCRYPTION_KEYS: k2 } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /credential_integrity_error/);
    assert.equal(r.stderr.trim().split('\n').at(-1)!.startsWith('spapi-auth encryption-key:'), true);
    const store = closeAfter(t, await world.openStore());
    assert.deepEqual(await valuesByKid(store), { k1: sellers.length });
  });

  it('re-encrypts every value with the first key, in batches, with a running count; a second run has nothing to do', async () => {
    const ring = `${k2},${world.keys}`;
    const r = await world.cli(['encryption-key', 'rewrap', '--batch-size', '2'], {
      env: { SPAPI_AUTH_ENCRYPTION_KEYS: ring },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /rewrap: 5 scanned, 5 re-encrypted, 0 already on k2/);
    assert.match(r.stdout, /^re-encrypted\s+5$/m);
    assert.match(r.stdout, /k1\) can be removed/);
    assertNoLeak(r, [...refreshTokens, k2.slice(3), world.keys.slice(3)]);
    const store = await world.openStore(ring);
    try {
      assert.deepEqual(await valuesByKid(store), { k2: sellers.length });
      // Every token still opens, now with the new key alone.
      const onlyNew = await world.openStore(k2);
      try {
        for (const [i, id] of sellers.entries()) {
          const t = await onlyNew.loadTokens({ sellingPartnerId: id, region: 'na' });
          assert.equal(t!.refreshToken, refreshTokens[i]);
        }
      } finally {
        await onlyNew.close();
      }
    } finally {
      await store.close();
    }
    const again = await world.cli(['encryption-key', 'rewrap', '--json'], {
      env: { SPAPI_AUTH_ENCRYPTION_KEYS: ring },
    });
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout), {
      active_kid: 'k2',
      scanned: 5,
      rewrapped: 0,
      current: 5,
      raced: 0,
    });
  });
});

describe('spapi-auth encryption-key rewrap, interrupted', () => {
  it('stops after the batch in hand on SIGINT, says so, and a second run finishes the rest', async () => {
    const world = await cliWorld();
    try {
      const store = await world.openStore();
      const N = 2000;
      try {
        for (let i = 0; i < N; i++) {
          await store.saveAuthorization({
            sellingPartnerId: `A1RW${String(i).padStart(5, '0')}`,
            region: 'na',
            kind: 'seller',
            userRef: null,
            marketplace: 'US',
            refreshToken: `Atzr|rw${i}`,
          });
        }
      } finally {
        await store.close();
      }
      const ring = `${keyEntry('k2')},${world.keys}`;
      const env = { ...world.env, SPAPI_AUTH_ENCRYPTION_KEYS: ring };
      const [cmd, ...prefix] = cliCommand();
      const child = spawn(cmd!, [...prefix, 'encryption-key', 'rewrap', '--batch-size', '1', '--json'], {
        cwd: repoRoot,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        // The first running-count line: the job is under way; interrupt it.
        if (stderr === '' && d.includes('rewrap:')) child.kill('SIGINT');
        stderr += d;
      });
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.equal(code, 1, `interrupted, not finished (stdout: ${stdout.slice(0, 200)})`);
      assert.equal(stdout, '', 'no summary document for an unfinished job');
      const last = stderr.trimEnd().split('\n').at(-1)!;
      const m =
        /^spapi-auth encryption-key: interrupted \(SIGINT\) after (\d+) re-encrypted: run `spapi-auth encryption-key rewrap` again/.exec(
          last,
        );
      assert.ok(m, last);
      const first = Number(m[1]);
      assert.ok(first >= 1 && first < N, `stopped part-way (${first})`);
      const again = await world.cli(['encryption-key', 'rewrap', '--json'], {
        env: { SPAPI_AUTH_ENCRYPTION_KEYS: ring },
      });
      assert.equal(again.code, 0, again.stderr);
      const result = JSON.parse(again.stdout) as { rewrapped: number; current: number; scanned: number };
      assert.equal(result.scanned, N);
      assert.equal(result.current, first, 'what the first run did is skipped');
      assert.equal(result.rewrapped, N - first, 'the rest is done now');
    } finally {
      await world.close();
    }
  });
});

describe("the README's key-ring line", () => {
  it('sets SPAPI_AUTH_ENCRYPTION_KEYS when run once, and keeps it when run again in the same shell', async () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const line = readme.split('\n').find((l) => /^export SPAPI_AUTH_ENCRYPTION_KEYS=/.test(l));
    assert.ok(line !== undefined, 'the README exports the key ring in its CLI block');
    const script = [
      `spapi-auth() { ${cliCommand()
        .map((a) => `'${a}'`)
        .join(' ')} "$@"; }`,
      line,
      'first="$SPAPI_AUTH_ENCRYPTION_KEYS"',
      line,
      'printf "%s\\n%s\\n" "$first" "$SPAPI_AUTH_ENCRYPTION_KEYS"',
    ].join('\n');
    const r = spawnSync('bash', ['-c', script], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const [first, second] = r.stdout.trim().split('\n');
    assert.match(first ?? '', /^k1:[A-Za-z0-9+/]{43}=$/);
    assert.equal(second, first, 'the second run keeps the ring instead of emptying it');
  });
});
