/**
 * Scale (issue 9, item 3): 100,000 sellers in SQLite and 1,000,000 in PostgreSQL behind one
 * `spapi-auth serve` process: start time, resident memory, a token served from the store (not
 * memory), the admin dashboard's list page and a seller lookup, and the token API's `/v1/sellers`
 * list and lookup.
 *
 * Seeding is bulk SQL, not the store API (saving a million authorizations one by one would take
 * the whole time budget), but every secret is a real ciphertext made by the storage crypto
 * (`sealValue`, AES-256-GCM with the table / column / row-key additional data the store uses), so
 * the service decrypts exactly what it would have written itself.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { parseKeyRing, sealValue, type KeyRing } from '../../src/storage/crypto.js';
import { openStore } from '../../src/storage/open.js';
import type { BenchRow, BenchSection } from '../framework.js';
import {
  createKey,
  loadAverage,
  newKeyRing,
  PG_URL,
  quantile,
  serveEnv,
  startServe,
  type ServeProcess,
  serveRuntime,
} from './harness.js';

const MB = 2 ** 20;
const ADMIN_PASSWORD = 'bench-admin-password-0123456789';
/** Where the service sends Amazon calls: nothing listens; no call is expected (tokens are fresh). */
const NO_AMAZON = 'http://127.0.0.1:9';
// Token requests (for other sellers) before the timed ones.
const WARM_UP = 1000;

export const sellerId = (i: number): string => `ABENCH${String(i).padStart(8, '0')}`;

const COLUMNS = [
  'selling_partner_id',
  'region',
  'kind',
  'user_ref',
  'status',
  'marketplace',
  'refresh_token_enc',
  'access_token_enc',
  'access_token_expires_at',
  'version',
  'authorized_at',
  'created_at',
  'updated_at',
] as const;

/** One seeded row, in {@link COLUMNS} order, with real ciphertexts. */
function row(ring: KeyRing, i: number, now: number): (string | number)[] {
  const id = sellerId(i);
  const rowKey = `na|${id}`;
  return [
    id,
    'na',
    'seller',
    `user-${i}`,
    'active',
    'US',
    sealValue(
      ring,
      { table: 'sellers', column: 'refresh_token', rowKey },
      `Atzr|IwEBbench-refresh-${i}-${'r'.repeat(300)}`,
    ),
    sealValue(
      ring,
      { table: 'sellers', column: 'access_token', rowKey },
      `Atza|IwEBbench-access-${i}-${'a'.repeat(300)}`,
    ),
    now + 3_600_000,
    1,
    now,
    now,
    now,
  ];
}

export function seedSqlite(path: string, ring: KeyRing, n: number): void {
  const db = new Database(path);
  try {
    const insert = db.prepare(
      `INSERT INTO sellers (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`,
    );
    const now = Date.now();
    const batch = db.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) insert.run(...row(ring, i, now));
    });
    for (let i = 0; i < n; i += 10_000) batch(i, Math.min(n, i + 10_000));
  } finally {
    db.close();
  }
}

export async function seedPostgres(
  schema: string,
  ring: KeyRing,
  n: number,
  log: (m: string) => void,
): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`SET search_path TO "${schema}"`);
    const types = [
      'text',
      'text',
      'text',
      'text',
      'text',
      'text',
      'text',
      'text',
      'bigint',
      'bigint',
      'bigint',
      'bigint',
      'bigint',
    ];
    const sql = `INSERT INTO sellers (${COLUMNS.join(', ')}) SELECT * FROM unnest(${types.map((t, i) => `$${i + 1}::${t}[]`).join(', ')})`;
    const now = Date.now();
    const t0 = performance.now();
    const batch = (from: number): (string | number)[][] => {
      const cols: (string | number)[][] = COLUMNS.map(() => []);
      for (let j = from; j < Math.min(n, from + 10_000); j++) {
        const r = row(ring, j, now);
        for (let c = 0; c < r.length; c++) cols[c]!.push(r[c]!);
      }
      return cols;
    };
    // Build (seal) the next batch while PostgreSQL inserts the current one: two cores, two workers.
    let pending: Promise<unknown> = Promise.resolve();
    for (let i = 0; i < n; i += 10_000) {
      const cols = batch(i);
      await pending;
      pending = client.query(sql, cols);
      if ((i / 10_000) % 20 === 19)
        log(`  ${i + 10_000} rows in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    }
    await pending;
    await client.query('ANALYZE sellers');
  } finally {
    await client.end();
  }
}

/** Latencies (ms) of `count` GETs made `concurrency` at a time. */
async function timeGets(
  count: number,
  concurrency: number,
  url: (i: number) => string,
  headers: Record<string, string>,
): Promise<{ ms: number[]; failed: number }> {
  const ms: number[] = [];
  let failed = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const t0 = performance.now();
        const r = await fetch(url(i), { headers, redirect: 'manual' });
        await r.arrayBuffer();
        ms.push(performance.now() - t0);
        if (r.status !== 200) failed++;
      }
    }),
  );
  return { ms, failed };
}

/** Logs in to the admin dashboard with the password; returns the session cookie header. */
async function adminLogin(base: string): Promise<string> {
  const page = await fetch(`${base}/admin/login`, { redirect: 'manual' });
  const html = await page.text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  const pre = (page.headers.get('set-cookie') ?? '').split(';')[0]!;
  if (csrf === undefined) throw new Error(`admin login page without a CSRF token (status ${page.status})`);
  const r = await fetch(`${base}/admin/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: pre },
    body: new URLSearchParams({ password: ADMIN_PASSWORD, csrf }).toString(),
  });
  await r.arrayBuffer();
  const cookie = (r.headers.get('set-cookie') ?? '').split(';')[0]!;
  if (r.status !== 303 || cookie === '') throw new Error(`admin login failed (status ${r.status})`);
  return cookie;
}

type Latencies = { p50: number; p99: number; failed: number; count: number };

const latencies = (r: { ms: number[]; failed: number }): Latencies => ({
  p50: quantile(r.ms, 0.5),
  p99: quantile(r.ms, 0.99),
  failed: r.failed,
  count: r.ms.length,
});

interface ScaleResult {
  readonly startMs: number;
  readonly rssStartMb: number;
  readonly rssPeakMb: number;
  readonly storeToken: Latencies;
  /** The warm-up requests (the first after start), reported apart. */
  readonly firstTokens: Latencies;
  readonly pages: ReadonlyArray<{ name: string; p50: number; max: number; failed: number }>;
}

async function measure(svc: ServeProcess, n: number, apiKey: string): Promise<ScaleResult> {
  let peak = svc.rss();
  const rssStartMb = peak / MB;
  const sampler = setInterval(() => (peak = Math.max(peak, svc.rss())), 100);
  try {
    const auth = { authorization: `Bearer ${apiKey}` };
    // Distinct sellers, each asked for once: none is in the service's memory, every token comes
    // from the store (a read and a decryption).
    const picks = Array.from({ length: 2000 }, (_, i) => Math.floor(((i + Math.random()) * n) / 2000));
    // Warm-up: the first requests after start also pay for compiling the request path (JIT) and
    // for the store's first reads; they are timed and reported on their own row.
    const first = await timeGets(
      WARM_UP,
      1,
      (i) => `${svc.url}/v1/sellers/${sellerId(picks[i]! + 1)}/access-token`,
      auth,
    );
    const tok = await timeGets(
      2000,
      1,
      (i) => `${svc.url}/v1/sellers/${sellerId(picks[i]!)}/access-token`,
      auth,
    );
    const cookie = { cookie: await adminLogin(svc.url) };
    const some = (i: number): string => sellerId(Math.floor(((i + 0.5) * n) / 20));
    const pageTargets: ReadonlyArray<[string, (i: number) => string, Record<string, string>]> = [
      ['admin: home (counts by status)', () => `${svc.url}/admin`, cookie],
      ['admin: sellers list, first page', () => `${svc.url}/admin/sellers`, cookie],
      [
        'admin: sellers list, search by id prefix',
        (i) => `${svc.url}/admin/sellers?q=${some(i).slice(0, 10)}`,
        cookie,
      ],
      ['admin: seller page', (i) => `${svc.url}/admin/sellers/${some(i)}`, cookie],
      ['API: `GET /v1/sellers?limit=50`', () => `${svc.url}/v1/sellers?limit=50`, auth],
      ['API: `GET /v1/sellers/:id`', (i) => `${svc.url}/v1/sellers/${some(i)}`, auth],
    ];
    const pages = [];
    for (const [name, url, headers] of pageTargets) {
      await timeGets(2, 1, url, headers);
      const r = await timeGets(20, 1, url, headers);
      pages.push({ name, p50: quantile(r.ms, 0.5), max: Math.max(...r.ms), failed: r.failed });
    }
    peak = Math.max(peak, svc.rss());
    return {
      startMs: svc.startMs,
      rssStartMb,
      rssPeakMb: peak / MB,
      storeToken: latencies(tok),
      firstTokens: latencies(first),
      pages,
    };
  } finally {
    clearInterval(sampler);
  }
}

function rowsOf(label: string, n: number, r: ScaleResult, memTargetMb: number, seedS: number): BenchRow[] {
  const f = (x: number): string => x.toFixed(1);
  return [
    { metric: `${label}: seeding ${n.toLocaleString('en-US')} sellers`, result: `${f(seedS)} s` },
    {
      metric: `${label}: service start (spawn → listening)`,
      result: `${(r.startMs / 1000).toFixed(2)} s`,
      target: '< 3 s',
      met: r.startMs < 3000,
    },
    {
      metric: `${label}: resident memory (after start / peak during the run)`,
      result: `${f(r.rssStartMb)} MB / ${f(r.rssPeakMb)} MB`,
      target: `< ${memTargetMb} MB`,
      met: r.rssPeakMb < memTargetMb,
    },
    {
      metric: `${label}: token served from the store, the first ${r.firstTokens.count} requests after start (warm-up, other sellers)`,
      result: `p50 ${f(r.firstTokens.p50)} ms, p99 ${f(r.firstTokens.p99)} ms (${r.firstTokens.failed} failed)`,
    },
    {
      metric: `${label}: token served from the store, ${r.storeToken.count} distinct sellers after the warm-up, one at a time`,
      result: `p50 ${f(r.storeToken.p50)} ms, p99 ${f(r.storeToken.p99)} ms (${r.storeToken.failed} failed)`,
      target: 'p99 < 5 ms',
      met: r.storeToken.p99 < 5 && r.storeToken.failed === 0,
    },
    ...r.pages.map((p) => ({
      metric: `${label}: ${p.name}, 20 requests`,
      result: `p50 ${f(p.p50)} ms, max ${f(p.max)} ms${p.failed ? ` (${p.failed} failed)` : ''}`,
      target: '< 100 ms',
      met: p.max < 100 && p.failed === 0,
    })),
  ];
}

export const scale: BenchSection = {
  name: 'scale',
  title: 'Scale: 100,000 sellers in SQLite, 1,000,000 in PostgreSQL',
  async run({ log }) {
    const load = loadAverage();
    const rows: BenchRow[] = [];
    const extra = { SPAPI_AUTH_KEY_RATE_LIMIT: '0', SPAPI_AUTH_ADMIN_PASSWORD: ADMIN_PASSWORD };
    // SQLite, 100,000 sellers, in a temporary directory.
    {
      const n = 100_000;
      const tmp = mkdtempSync(join(tmpdir(), 'spapi-auth-bench-'));
      try {
        const ringValue = newKeyRing();
        const ring = parseKeyRing(ringValue);
        const databaseUrl = `sqlite:${join(tmp, 'scale.db')}`;
        const store = await openStore(databaseUrl, { keyRing: ring });
        const apiKey = await createKey(store);
        await store.close();
        const t0 = performance.now();
        seedSqlite(join(tmp, 'scale.db'), ring, n);
        const seedS = (performance.now() - t0) / 1000;
        log(`SQLite: seeded ${n} sellers in ${seedS.toFixed(1)} s`);
        const svc = await startServe(
          serveEnv({ amazonUrl: NO_AMAZON, databaseUrl, keyRing: ringValue, extra }),
        );
        try {
          const r = await measure(svc, n, apiKey);
          rows.push(...rowsOf('SQLite, 100,000', n, r, 300, seedS));
        } finally {
          await svc.stop();
        }
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    }
    // PostgreSQL, 1,000,000 sellers, in a fresh schema dropped afterwards.
    {
      const n = 1_000_000;
      const schema = `bench_scale_${process.pid}_${Date.now()}`;
      const ringValue = newKeyRing();
      const ring = parseKeyRing(ringValue);
      try {
        const store = await openStore(PG_URL, { keyRing: ring, schema });
        const apiKey = await createKey(store);
        await store.close();
        const t0 = performance.now();
        await seedPostgres(schema, ring, n, log);
        const seedS = (performance.now() - t0) / 1000;
        log(`PostgreSQL: seeded ${n} sellers in ${seedS.toFixed(1)} s`);
        const databaseUrl = `${PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
        const svc = await startServe(
          serveEnv({ amazonUrl: NO_AMAZON, databaseUrl, keyRing: ringValue, extra }),
        );
        try {
          const r = await measure(svc, n, apiKey);
          rows.push(...rowsOf('PostgreSQL, 1,000,000', n, r, 500, seedS));
        } finally {
          await svc.stop();
        }
      } finally {
        const client = new pg.Client({ connectionString: PG_URL });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await client.end();
      }
    }
    for (const r of rows) log(`${r.metric}: ${r.result}`);
    return {
      rows,
      notes: [
        "Seeding: bulk SQL (better-sqlite3 prepared inserts in transactions of 10,000; PostgreSQL `INSERT … SELECT FROM unnest(…)` batches of 10,000, then `ANALYZE`), not the store API. Every row carries a refresh token and a cached access token (valid one hour) as real ciphertexts made by `sealValue` from `src/storage/crypto.ts` with the store's additional data (table, column, `region|seller id`) and a fresh key ring, so the service reads and decrypts them exactly as its own writes; the plaintext tokens are made up, so a refresh would fail (none is needed: `SPAPI_AUTH_AMAZON_URL` points at a closed port and any LWA call would show up as a failure). The SQLite file lives in a temporary directory; the PostgreSQL schema is fresh and dropped afterwards.",
        `Service: one \`spapi-auth serve\` child process (${serveRuntime().label}${serveRuntime().label.includes('tsx') ? ", so start time includes loading TypeScript from tsx's cache" : ''}), \`SPAPI_AUTH_KEY_RATE_LIMIT=0\`, an admin password. ` +
          'Start time: spawn to the "listening on" line. Resident memory: `VmRSS` from /proc right after start and the peak sampled every 100 ms during the run. ' +
          `Token from the store: 2,000 different sellers spread over the whole table, each asked for once through \`GET /v1/sellers/:id/access-token\`, one request in flight (a latency, not a load test: on two shared cores, requests in flight queue behind each other and the client), timed by the client (Node fetch over loopback, so the client's own time is included). Before them, ${WARM_UP.toLocaleString('en-US')} requests for other sellers, timed and reported on their own row: the first requests after start also pay for compiling the request path (V8 optimises it only after some thousands of calls; through tsx as here, about twice the server CPU per request at first) and for the store's first reads. The target row is the service as it runs once warm. Each request reads the seller's regions (one indexed query, cached 30 s), then its row (one indexed query by primary key) and decrypts the refresh and access tokens (AES-256-GCM); its audit record is buffered and written once a second, 100 records per transaction with a turn of the event loop between (one 1,000-record transaction held every read behind it for 5-7 ms on SQLite). On PostgreSQL every timed read is the first read of its row since the bulk load, so some miss the PostgreSQL buffer cache (the table is about a gigabyte); the connection pool is opened by the warm-up. The p99 of 2,000 requests is their 20th slowest: on this shared machine (two cores, other engineers' test suites running at the same time) it moves by several milliseconds from run to run with the load, while the server's own work per request is a few hundred microseconds. Machine load when the section started: ${load} (1-minute load average, two cores). ` +
          'Pages: 20 sequential requests each after 2 warm-ups (the admin pages with a logged-in session); the admin list page is `/admin/sellers` (50 per page, keyset paging), the lookup `/admin/sellers/:id`. ' +
          'The admin home and `/metrics` take the counts by status from a 5-second cache in the service (`src/server/ops/seller-counts.ts`, one query in flight): the GROUP BY itself (about 0.4 s over 1,000,000 rows on PostgreSQL) runs at most once per 5 s, during the warm-ups here, so at most one view in each window waits for it. The id-prefix search is two range queries, one per index (id, user_ref), merged (UNION ALL), instead of one OR that PostgreSQL answered with a full scan.',
      ],
    };
  },
};
