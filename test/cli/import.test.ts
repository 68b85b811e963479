// `spapi-auth sellers import` and `sellers export` against the emulator on a port (in-process CLI):
// good lines imported and serving tokens, refused lines reported by number with their code,
// nothing in clear in the store or the output, re-runs idempotent, and an encrypted export from
// SQLite imported into PostgreSQL with every seller active.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/cli.js';
import { createPostgresStore } from '../../src/storage/postgres.js';
import { parseKeyRing } from '../../src/storage/crypto.js';
import { freshDatabase, postgresUnavailable } from '../helpers/e2e.js';
import { cliWorld, emulatorRefreshToken, seedSeller, type CliWorld } from './helpers.js';

async function run(
  world: CliWorld,
  argv: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    env: { ...world.env, ...env },
    cwd: world.dir,
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
  });
  return { code, stdout, stderr };
}

test('import: good lines imported and serving tokens; revoked, malformed, bad region and duplicate lines reported by line; nothing in clear', async () => {
  const world = await cliWorld();
  try {
    const na = await emulatorRefreshToken(world, 'A1EMUSELLERNA01');
    const eu = await emulatorRefreshToken(world, 'A1EMUSELLEREU01');
    const revoked = await emulatorRefreshToken(world, 'A1EMUSELLERFE01');
    await world.emulator.emulator.control.revoke('A1EMUSELLERFE01');
    const authorizedAt = new Date(Date.now() - 100 * 86_400_000).toISOString();
    const lines = [
      JSON.stringify({
        selling_partner_id: 'A1EMUSELLERNA01',
        region: 'na',
        refresh_token: na,
        user_ref: 'acct-1',
        marketplace: 'US',
        authorized_at: authorizedAt,
      }),
      '{"selling_partner_id": "A1EMUSELLERXX01", "region": ',
      JSON.stringify({ selling_partner_id: 'A1EMUSELLERFE01', region: 'fe', refresh_token: revoked }),
      '',
      JSON.stringify({ selling_partner_id: 'A1EMUSELLEREU01', region: 'mars', refresh_token: eu }),
      JSON.stringify({
        selling_partner_id: 'A1EMUSELLEREU01',
        region: 'eu',
        refresh_token: eu,
        kind: 'seller',
      }),
      JSON.stringify({ selling_partner_id: 'A1EMUSELLERNA01', region: 'na', refresh_token: na }),
    ];
    const file = join(world.dir, 'sellers.jsonl');
    writeFileSync(file, lines.join('\n') + '\n');
    const r = await run(world, ['sellers', 'import', file, '--json']);
    assert.equal(r.code, 1, r.stderr);
    const summary = JSON.parse(r.stdout) as {
      imported: number;
      failed: number;
      lwa_calls: number;
      authorized_at_defaulted: number;
      failures: { line: number; code: string }[];
    };
    assert.equal(summary.imported, 2);
    assert.deepEqual(
      summary.failures.map((f) => [f.line, f.code]),
      [
        [2, 'malformed_line'],
        [3, 'invalid_grant'],
        [5, 'invalid_region'],
        [7, 'duplicate'],
      ],
    );
    assert.equal(summary.lwa_calls, 3, 'one LWA refresh per verified line');
    assert.equal(summary.authorized_at_defaulted, 2);
    for (const secret of [na, eu, revoked]) {
      assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), 'a refresh token in the output');
      assert.ok(!readFileSync(world.dbPath).includes(secret), 'a refresh token in clear in the store');
    }
    const store = await world.openStore();
    try {
      const naSeller = await store.getSeller({ sellingPartnerId: 'A1EMUSELLERNA01', region: 'na' });
      assert.equal(naSeller?.status, 'active');
      assert.equal(naSeller?.userRef, 'acct-1');
      assert.equal(naSeller?.authorizedAt, Date.parse(authorizedAt), 'authorized_at kept for the 365 days');
      assert.equal(await store.getSeller({ sellingPartnerId: 'A1EMUSELLERFE01', region: 'fe' }), null);
      assert.equal(
        (await store.getSellerProfile({ sellingPartnerId: 'A1EMUSELLEREU01', region: 'eu' }))?.storeName,
        'Emulator Seller (Europe)',
      );
      const events = await store.claimWebhookEvents('t', { limit: 10, leaseMs: 1000 });
      assert.deepEqual(events.map((e) => [e.type, e.data.source, e.data.selling_partner_id]).sort(), [
        ['seller.authorized', 'import', 'A1EMUSELLEREU01'],
        ['seller.authorized', 'import', 'A1EMUSELLERNA01'],
      ]);
    } finally {
      await store.close();
    }
    // Each imported seller serves a token.
    for (const id of ['A1EMUSELLERNA01', 'A1EMUSELLEREU01']) {
      const t = await run(world, ['token', id, '--json']);
      assert.equal(t.code, 0, t.stderr);
      assert.match((JSON.parse(t.stdout) as { access_token: string }).access_token, /^Atza\|/);
    }
    // Human output names the line and the code; the re-run changes nothing and calls LWA only for the refused one.
    const again = await run(world, ['sellers', 'import', file]);
    assert.equal(again.code, 1);
    assert.match(again.stdout, /^line 3: A1EMUSELLERFE01 \(fe\) invalid_grant — /m);
    assert.match(again.stdout, /6 lines: 0 imported, 2 unchanged, 4 failed; 1 LWA refresh\n/);
  } finally {
    await world.close();
  }
});

test('import: --dry-run calls nothing and stores nothing; CSV; another owner refused; exit 0 when all lines import', async () => {
  const world = await cliWorld();
  try {
    const na = await emulatorRefreshToken(world, 'A1EMUSELLERNA01');
    const store = await world.openStore();
    await seedSeller(world, store, { id: 'A1EMUSELLEREU01', region: 'eu', userRef: 'owner-a' });
    await store.close();
    const eu = await emulatorRefreshToken(world, 'A1EMUSELLEREU01');
    const csv = join(world.dir, 'sellers.csv');
    writeFileSync(
      csv,
      'selling_partner_id,region,refresh_token,user_ref,kind\n' +
        `A1EMUSELLERNA01,na,"${na}",acct-7,seller\n` +
        `A1EMUSELLEREU01,eu,${eu},owner-b,seller\n`,
    );
    const before = await world.lwaCalls('refresh_token');
    const dry = await run(world, ['sellers', 'import', csv, '--format', 'csv', '--dry-run', '--json']);
    const drySummary = JSON.parse(dry.stdout) as {
      valid: number;
      failures: { line: number; code: string }[];
    };
    assert.equal(drySummary.valid, 1);
    assert.deepEqual(
      drySummary.failures.map((f) => [f.line, f.code]),
      [[3, 'seller_owned_by_other_user']],
    );
    assert.equal(await world.lwaCalls('refresh_token'), before, 'a dry run calls no LWA');
    const s2 = await world.openStore();
    assert.equal(await s2.getSeller({ sellingPartnerId: 'A1EMUSELLERNA01', region: 'na' }), null);
    await s2.close();
    writeFileSync(
      csv,
      'selling_partner_id,region,refresh_token,user_ref\n' + `A1EMUSELLERNA01,na,${na},acct-7\n`,
    );
    const ok = await run(world, ['sellers', 'import', csv, '--format', 'csv']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /1 line: 1 imported, 0 unchanged, 0 failed; 1 LWA refresh/);
    assert.match(ok.stdout, /had no authorized_at: their 365-day re-authorization clock starts now/);
    const usage = await run(world, ['sellers', 'import', csv, '--format', 'xml']);
    assert.equal(usage.code, 2);
    const missing = await run(world, ['sellers', 'import', join(world.dir, 'nope.jsonl')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read .*nope\.jsonl \(ENOENT\)/);
  } finally {
    await world.close();
  }
});

test('export: tokens encrypted for the receiver; clear only behind its flag; SQLite → PostgreSQL keeps every seller active and serving tokens', async (t) => {
  const world = await cliWorld();
  try {
    const store = await world.openStore();
    const tokens: string[] = [];
    for (const [id, region] of [
      ['A1EMUSELLERNA01', 'na'],
      ['A1EMUSELLEREU01', 'eu'],
      ['A1EMUSELLERGL01', 'na'],
      ['A1EMUVENDORNA01', 'na'],
    ] as const)
      tokens.push(
        await seedSeller(world, store, { id, region, kind: id.includes('VENDOR') ? 'vendor' : 'seller' }),
      );
    await store.close();
    const pass = join(world.dir, 'pass.txt');
    writeFileSync(pass, 'correct horse battery staple\n');
    const refused = await run(world, ['sellers', 'export']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--unencrypted-refresh-tokens/);
    const out = join(world.dir, 'export.jsonl');
    const exported = await run(world, ['sellers', 'export', '--passphrase-file', pass, '--out', out]);
    assert.equal(exported.code, 0, exported.stderr);
    const text = readFileSync(out, 'utf8');
    assert.equal(text.trim().split('\n').length, 5, 'a header and four sellers');
    for (const tok of tokens)
      assert.ok(!text.includes(tok), 'a refresh token in clear in an encrypted export');
    const clear = await run(world, ['sellers', 'export', '--unencrypted-refresh-tokens']);
    assert.equal(clear.code, 0);
    assert.ok(tokens.every((tok) => clear.stdout.includes(tok)));
    assert.match(clear.stderr, /in clear/);

    const unavailable = await postgresUnavailable();
    if (unavailable) {
      if (process.env.CI === 'true') assert.fail(unavailable);
      t.diagnostic(`PostgreSQL part skipped: ${unavailable}`);
      return;
    }
    const db = await freshDatabase('import');
    try {
      const pgEnv = { DATABASE_URL: db.url };
      assert.equal((await run(world, ['migrate'], pgEnv)).code, 0);
      const wrong = join(world.dir, 'wrong.txt');
      writeFileSync(wrong, 'not the passphrase at all\n');
      const bad = await run(world, ['sellers', 'import', out, '--passphrase-file', wrong, '--json'], pgEnv);
      assert.equal(bad.code, 1);
      assert.ok(
        (JSON.parse(bad.stdout) as { failures: { code: string }[] }).failures.every(
          (f) => f.code === 'refresh_token_undecryptable',
        ),
      );
      const noPass = await run(world, ['sellers', 'import', out, '--json'], pgEnv);
      assert.equal(
        (JSON.parse(noPass.stdout) as { failures: { code: string }[] }).failures[0]?.code,
        'passphrase_required',
      );
      const imported = await run(
        world,
        ['sellers', 'import', out, '--passphrase-file', pass, '--json'],
        pgEnv,
      );
      assert.equal(imported.code, 0, imported.stdout);
      assert.equal((JSON.parse(imported.stdout) as { imported: number }).imported, 4);
      const pg = await createPostgresStore({ url: db.url, keyRing: parseKeyRing(world.keys) });
      try {
        const { items } = await pg.listSellers({ limit: 10 });
        assert.equal(items.length, 4);
        assert.ok(items.every((s) => s.status === 'active'));
        assert.equal(items.find((s) => s.sellingPartnerId === 'A1EMUVENDORNA01')?.kind, 'vendor');
      } finally {
        await pg.close();
      }
      for (const id of ['A1EMUSELLERNA01', 'A1EMUSELLEREU01', 'A1EMUSELLERGL01', 'A1EMUVENDORNA01']) {
        const tok = await run(world, ['token', id], pgEnv);
        assert.equal(tok.code, 0, `${id}: ${tok.stderr}`);
        assert.match(tok.stdout, /^Atza\|/);
      }
    } finally {
      await db.drop();
    }
  } finally {
    await world.close();
  }
});
