// `spapi-auth sellers import` and `sellers export` against the emulator on a port (in-process CLI):
// good lines imported and serving tokens, refused lines reported by number with their code,
// nothing in clear in the store or the output, re-runs idempotent, and an encrypted export from
// SQLite imported into PostgreSQL with every seller active.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import { main } from '../../src/cli/cli.js';
import { createPostgresStore } from '../../src/storage/postgres.js';
import { parseKeyRing } from '../../src/storage/crypto.js';
import { importSellers, type ImportCounts } from '../../src/server/sellers/import.js';
import {
  MAX_LINE_BYTES,
  readTransferLines,
  type TransferLine,
} from '../../src/server/sellers/transfer-format.js';
import { spApiCaller } from '../../src/server/tokens/gateway.js';
import { freshDatabase, postgresUnavailable } from '../helpers/e2e.js';
import { APP, CANARY_SECRET, cliWorld, emulatorRefreshToken, seedSeller, type CliWorld } from './helpers.js';
import { closeAfter } from '../helpers/after.js';

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
    assert.equal(summary.authorized_at_defaulted, 1, 'only lines imported: the revoked one is not counted');
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

test('import: --dry-run calls nothing and stores nothing; CSV; another owner refused; exit 0 when all lines import', async (t) => {
  const world = closeAfter(t, await cliWorld());
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
  assert.match(
    ok.stdout,
    /^note: 1 line imported without authorized_at: their 365-day re-authorization clock starts now$/m,
  );
  const usage = await run(world, ['sellers', 'import', csv, '--format', 'xml']);
  assert.equal(usage.code, 2);
  const missing = await run(world, ['sellers', 'import', join(world.dir, 'nope.jsonl')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read .*nope\.jsonl \(ENOENT\)/);
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

test('import: the format follows the extension or the first line; --format overrides, with a hint when the file is in the other format', async (t) => {
  const world = closeAfter(t, await cliWorld());
  const na = await emulatorRefreshToken(world, 'A1EMUSELLERNA01');
  const eu = await emulatorRefreshToken(world, 'A1EMUSELLEREU01');
  const csvText = 'selling_partner_id,region,refresh_token\n' + `A1EMUSELLERNA01,na,${na}\n`;
  const csv = join(world.dir, 'sellers.csv');
  writeFileSync(csv, csvText);
  const byExtension = await run(world, ['sellers', 'import', csv, '--json']);
  assert.equal(byExtension.code, 0, byExtension.stdout + byExtension.stderr);
  assert.equal((JSON.parse(byExtension.stdout) as { imported: number }).imported, 1);
  // No extension: the first line decides (a CSV header here, JSON lines below).
  const bare = join(world.dir, 'sellers');
  writeFileSync(bare, '\n' + csvText);
  const sniffedCsv = await run(world, ['sellers', 'import', bare, '--json']);
  assert.equal((JSON.parse(sniffedCsv.stdout) as { unchanged: number }).unchanged, 1, sniffedCsv.stderr);
  const txt = join(world.dir, 'sellers.txt');
  writeFileSync(
    txt,
    JSON.stringify({ selling_partner_id: 'A1EMUSELLEREU01', region: 'eu', refresh_token: eu }) + '\r\n',
  );
  const sniffedJson = await run(world, ['sellers', 'import', txt, '--json']);
  assert.equal((JSON.parse(sniffedJson.stdout) as { imported: number }).imported, 1, sniffedJson.stderr);
  // --format wins over the extension; a file in the other format says which to give.
  const forced = await run(world, ['sellers', 'import', csv, '--format', 'jsonl']);
  assert.equal(forced.code, 2);
  assert.match(forced.stderr, /the file starts with a CSV header: give --format csv/);
  const misnamed = join(world.dir, 'really-json.csv');
  writeFileSync(misnamed, readFileSync(txt));
  const wrong = await run(world, ['sellers', 'import', misnamed]);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /the file holds JSON lines, not CSV: give --format jsonl/);
  const overridden = await run(world, ['sellers', 'import', misnamed, '--format', 'jsonl', '--json']);
  assert.equal((JSON.parse(overridden.stdout) as { unchanged: number }).unchanged, 1);
});

test('import: a refresh token stored for another seller id (also one stored before fingerprints existed), or given to another id earlier in the file, is refused before any LWA call; the summary says the ids are unverified', async () => {
  const world = await cliWorld();
  try {
    const store = await world.openStore();
    const stored = await seedSeller(world, store, { id: 'A1EMUSELLERNA01', region: 'na' });
    await store.close();
    // As a row written before migration 013: no fingerprint.
    const sqlite = new Database(world.dbPath);
    assert.equal(sqlite.prepare('UPDATE sellers SET refresh_token_fingerprint = NULL').run().changes, 1);
    sqlite.close();
    const eu = await emulatorRefreshToken(world, 'A1EMUSELLEREU01');
    const file = join(world.dir, 'sellers.jsonl');
    writeFileSync(
      file,
      [
        // A mistyped id with the token of a seller already stored.
        { selling_partner_id: 'A1EMUSELLERNA0I', region: 'na', refresh_token: stored },
        { selling_partner_id: 'A1EMUSELLEREU01', region: 'eu', refresh_token: eu },
        { selling_partner_id: 'A1EMUSELLEREU02', region: 'eu', refresh_token: eu },
      ]
        .map((l) => JSON.stringify(l))
        .join('\n'),
    );
    const before = await world.lwaCalls('refresh_token');
    const dry = await run(world, ['sellers', 'import', file, '--dry-run', '--json']);
    assert.deepEqual(
      (JSON.parse(dry.stdout) as { failures: { line: number; code: string }[] }).failures.map((f) => [
        f.line,
        f.code,
      ]),
      [
        [1, 'refresh_token_in_use'],
        [3, 'refresh_token_in_use'],
      ],
    );
    const r = await run(world, ['sellers', 'import', file, '--json']);
    assert.equal(r.code, 1);
    const summary = JSON.parse(r.stdout) as {
      lines: number;
      imported: number;
      failed: number;
      lwa_calls: number;
      notes: { code: string; message: string }[];
      failures: { line: number; code: string; selling_partner_id: string }[];
    };
    assert.deepEqual(
      summary.failures.map((f) => [f.line, f.code, f.selling_partner_id]),
      [
        [1, 'refresh_token_in_use', 'A1EMUSELLERNA0I'],
        [3, 'refresh_token_in_use', 'A1EMUSELLEREU02'],
      ],
    );
    assert.equal(summary.imported, 1);
    assert.equal(summary.lwa_calls, 1, 'refused lines cost no LWA call');
    assert.equal(await world.lwaCalls('refresh_token'), before + 1);
    assert.deepEqual(
      summary.notes.map((n) => n.code),
      ['seller_ids_unverified', 'authorized_at_defaulted'],
    );
    assert.match(
      summary.notes[0]!.message,
      /^1 seller id taken from the file: .*not which selling partner it belongs to/,
    );
    const check = await world.openStore();
    try {
      assert.equal(await check.getSeller({ sellingPartnerId: 'A1EMUSELLERNA0I', region: 'na' }), null);
      assert.equal(await check.getSeller({ sellingPartnerId: 'A1EMUSELLEREU02', region: 'eu' }), null);
      assert.deepEqual(await check.findSellersByRefreshToken(stored), [
        { sellingPartnerId: 'A1EMUSELLERNA01', region: 'na' },
      ]);
    } finally {
      await check.close();
    }
    const human = await run(world, ['sellers', 'import', file]);
    assert.match(human.stdout, /^line 1: A1EMUSELLERNA0I \(na\) refresh_token_in_use — /m);
    assert.match(human.stdout, /^3 lines: 0 imported, 1 unchanged, 2 failed; 0 LWA refreshes$/m);
    assert.doesNotMatch(human.stdout, /note: /, 'nothing imported, nothing to note');
    for (const secret of [stored, eu]) assert.ok(!(r.stdout + human.stdout + r.stderr).includes(secret));
  } finally {
    await world.close();
  }
});

test('import: the running count is the summary’s — every step, and at the last line the same numbers', async () => {
  const world = await cliWorld();
  try {
    const na = await emulatorRefreshToken(world, 'A1EMUSELLERNA01');
    const revoked = await emulatorRefreshToken(world, 'A1EMUSELLERFE01');
    await world.emulator.emulator.control.revoke('A1EMUSELLERFE01');
    const text = [
      JSON.stringify({ selling_partner_id: 'A1EMUSELLERNA01', region: 'na', refresh_token: na }),
      'not json',
      JSON.stringify({ selling_partner_id: 'A1EMUSELLERFE01', region: 'fe', refresh_token: revoked }),
      JSON.stringify({ selling_partner_id: 'A1EMUSELLERNA01', region: 'na', refresh_token: na }),
      JSON.stringify({ selling_partner_id: 'A1EMUSELLEREU01', region: 'mars', refresh_token: na }),
    ].join('\n');
    const store = await world.openStore();
    const seen: ImportCounts[] = [];
    try {
      const summary = await importSellers(readTransferLines(Readable.from([Buffer.from(text)]), 'auto'), {
        store,
        credentials: () => ({ clientId: APP.clientId, clientSecret: CANARY_SECRET }),
        lwa: { amazonUrl: world.emulator.url },
        spapi: { callSpApi: spApiCaller({ sandbox: false, amazonUrl: world.emulator.url }) },
        ratePerSecond: 0,
        onProgress: (c) => seen.push(c),
      });
      assert.equal(seen.length, 5, 'one report per line');
      for (const c of seen) assert.equal(c.lines, c.imported + c.unchanged + c.valid + c.failed);
      assert.deepEqual(
        seen.map((c) => c.lines),
        [1, 2, 3, 4, 5],
      );
      const { lines, imported, unchanged, valid, failed } = summary;
      assert.deepEqual(seen.at(-1), { lines, imported, unchanged, valid, failed });
      assert.deepEqual([lines, imported, failed], [5, 1, 4]);
    } finally {
      await store.close();
    }
  } finally {
    await world.close();
  }
});

test('import: a line longer than 16 KiB is refused as soon as it passes the limit, its rest skipped unbuffered; the next line is read', async () => {
  const chunk = Buffer.alloc(64 * 1024, 0x61); // one buffer, sent again and again: the source allocates nothing
  let produced = 0;
  let producedAtRefusal = -1;
  async function* source(): AsyncGenerator<Buffer> {
    for (let i = 0; i < 1024; i++) {
      produced += chunk.length; // 64 MiB in all
      yield chunk;
    }
    yield Buffer.from('\n{"selling_partner_id":"A1","region":"na","refresh_token":"Atzr|x"}\n');
  }
  const memory = (): number => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  const start = memory();
  let peak = 0;
  const got: { line: number; kind: string }[] = [];
  for await (const l of readTransferLines(source(), 'jsonl')) {
    if (l.kind === 'malformed') producedAtRefusal = produced;
    peak = Math.max(peak, memory() - start);
    got.push({ line: l.line, kind: l.kind });
  }
  assert.deepEqual(got, [
    { line: 1, kind: 'malformed' },
    { line: 2, kind: 'record' },
  ]);
  assert.equal(
    producedAtRefusal,
    64 * 1024,
    'refused at the first chunk past the limit, not at the end of the line',
  );
  assert.ok(peak < 16 * 1024 * 1024, `the reader held ${peak} bytes for a 64 MiB line`);
  // CRLF lines, a BOM, a multi-byte character split across two chunks, and a line of exactly the limit.
  const exact = JSON.stringify({ selling_partner_id: 'A2', pad: 'x'.repeat(MAX_LINE_BYTES - 36) });
  assert.equal(exact.length, MAX_LINE_BYTES);
  const record = Buffer.from(`\uFEFF{"selling_partner_id":"A1","note":"é"}\r\n${exact}\r\n`);
  const split = record.indexOf(Buffer.from('é')) + 1;
  const lines: TransferLine[] = [];
  for await (const l of readTransferLines(
    Readable.from([record.subarray(0, split), record.subarray(split)]),
    'auto',
  ))
    lines.push(l);
  assert.deepEqual(
    lines.map((l) => (l.kind === 'record' ? l.record.selling_partner_id : l.kind)),
    ['A1', 'A2'],
  );
  assert.equal((lines[0] as { record: Record<string, unknown> } | undefined)?.record.note, 'é');
});
