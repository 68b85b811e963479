/**
 * Rows one client can make the service store through the routes anyone can reach: `GET
 * /oauth/login` hammered by one client (autocannon, 8 connections) against one `spapi-auth serve`
 * on SQLite — once as before the per-address limit and the pending-flow cap (both off), once with
 * the defaults — and the rows many addresses together leave behind the pending-flow cap (a client
 * behind a trusted proxy sending a new `X-Forwarded-For` on every request). Rows counted in the
 * database, bytes as the growth of the SQLite files.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DEFAULT_MAX_PENDING_FLOWS, DEFAULT_OAUTH_RATE_LIMIT } from '../../src/config.js';
import { DEV_APPLICATION, startEmulator } from '../../src/emulator/index.js';
import { parseKeyRing } from '../../src/storage/crypto.js';
import { openStore } from '../../src/storage/open.js';
import type { BenchSection } from '../framework.js';
import { autocannon, newKeyRing, serveEnv, serveRuntime, startServe } from './harness.js';

const CONNECTIONS = 8;
const UNLIMITED_S = 10;
const LIMITED_S = 60;
const MANY_S = 10;
// The many-address run's cap: below what the loop creates in MANY_S, so the cap is what is measured.
const MANY_CAP = 1_000;

function fileBytes(path: string): number {
  return ['', '-wal', '-shm'].reduce(
    (n, ext) => n + (existsSync(path + ext) ? statSync(path + ext).size : 0),
    0,
  );
}

function pendingRows(path: string): { transactions: number; sessions: number } {
  const db = new Database(path, { readonly: true });
  try {
    const count = (sql: string): number => (db.prepare(sql).get() as { n: number }).n;
    return {
      transactions: count('SELECT COUNT(*) AS n FROM oauth_transactions'),
      sessions: count('SELECT COUNT(*) AS n FROM connect_sessions'),
    };
  } finally {
    db.close();
  }
}

interface Run {
  readonly rows: number;
  readonly bytes: number;
  readonly requests: number;
  readonly seconds: number;
}

export const flowAbuse: BenchSection = {
  name: 'flow-abuse',
  title: 'Rows one client can create through the browser flows (per-address limit, pending-flow cap)',
  async run({ log }) {
    const tmp = mkdtempSync(join(tmpdir(), 'spapi-auth-bench-abuse-'));
    const emu = await startEmulator({ port: 0 });
    const callback = `${emu.url}/apps/authorize/confirm/${DEV_APPLICATION.id}`;
    const query = `?amazon_callback_uri=${encodeURIComponent(callback)}&amazon_state=bench&selling_partner_id=A1EMUSELLERNA01`;
    let n = 0;
    const serve = async (
      extra: Record<string, string>,
      load: (loginUrl: string) => Promise<number>,
      seconds: number,
    ): Promise<Run> => {
      const ring = newKeyRing();
      const path = join(tmp, `abuse-${++n}.db`);
      const store = await openStore(`sqlite:${path}`, { keyRing: parseKeyRing(ring) });
      await store.close();
      const before = fileBytes(path);
      const svc = await startServe(
        serveEnv({ amazonUrl: emu.url, databaseUrl: `sqlite:${path}`, keyRing: ring, extra }),
      );
      let requests: number;
      try {
        requests = await load(`${svc.url}/oauth/login${query}`);
      } finally {
        await svc.stop();
      }
      const rows = pendingRows(path);
      return { rows: rows.transactions + rows.sessions, bytes: fileBytes(path) - before, requests, seconds };
    };
    const hammer = (seconds: number) => async (url: string) =>
      (await autocannon(url, { connections: CONNECTIONS, seconds })).total;
    try {
      // As before: no per-address limit, no cap.
      const before = await serve(
        { SPAPI_AUTH_OAUTH_RATE_LIMIT: '0', SPAPI_AUTH_MAX_PENDING_FLOWS: '100000000' },
        hammer(UNLIMITED_S),
        UNLIMITED_S,
      );
      log(
        `without the limit: ${before.rows} rows, ${before.bytes} bytes in ${UNLIMITED_S} s (${before.requests} requests)`,
      );
      // The defaults, one whole minute.
      const limited = await serve({}, hammer(LIMITED_S), LIMITED_S);
      log(
        `with the limit: ${limited.rows} rows, ${limited.bytes} bytes in ${LIMITED_S} s (${limited.requests} requests)`,
      );
      // Many addresses: a new X-Forwarded-For on every request through a trusted "proxy".
      let created = 0;
      const many = await serve(
        { SPAPI_AUTH_TRUSTED_PROXIES: '127.0.0.1,::1', SPAPI_AUTH_MAX_PENDING_FLOWS: String(MANY_CAP) },
        async (url) => {
          const until = performance.now() + MANY_S * 1000;
          let sent = 0;
          await Promise.all(
            Array.from({ length: CONNECTIONS }, async (_, worker) => {
              for (let i = 0; performance.now() < until; i++) {
                const address = `10.${worker}.${(i >> 8) & 255}.${i & 255}`;
                const res = await fetch(url, { redirect: 'manual', headers: { 'x-forwarded-for': address } });
                await res.arrayBuffer();
                sent++;
                if (res.status === 302) created++;
              }
            }),
          );
          return sent;
        },
        MANY_S,
      );
      log(`many addresses: ${created} created, ${many.rows} kept (cap ${MANY_CAP})`);

      const perMinute = (r: Run): number => (r.rows * 60) / r.seconds;
      const mb = (b: number): string => `${(b / 1e6).toFixed(1)} MB`;
      const beforeRowsMin = perMinute(before);
      const beforeBytesMin = (before.bytes * 60) / before.seconds;
      const rowBytes = before.rows > 0 ? before.bytes / before.rows : 0;
      // A row lives 10 minutes, then up to 1 h of grace and 10 minutes before the purge removes it.
      const purgeWindowMin = 80;
      return {
        rows: [
          {
            metric: `without the limit (as before): rows one client creates per minute, ${CONNECTIONS} connections`,
            result: `${Math.round(beforeRowsMin).toLocaleString('en-US')} rows/min, ${mb(beforeBytesMin)}/min (${before.rows.toLocaleString('en-US')} rows, ${mb(before.bytes)} in ${UNLIMITED_S} s; ${Math.round(rowBytes)} B a row; ${mb(beforeBytesMin * purgeWindowMin)} per ${purgeWindowMin}-minute purge window)`,
          },
          {
            metric: `with the limit (${DEFAULT_OAUTH_RATE_LIMIT}/min per address, the default): rows one client creates in a minute`,
            result: `${limited.rows} rows, ${(limited.bytes / 1e3).toFixed(0)} kB in ${LIMITED_S} s (${limited.requests.toLocaleString('en-US')} requests, the rest 429)`,
            target: `≤ ${2 * DEFAULT_OAUTH_RATE_LIMIT} (burst + a minute's refill)`,
            met: limited.rows <= 2 * DEFAULT_OAUTH_RATE_LIMIT && limited.rows > 0,
          },
          {
            metric: 'ratio: rows per minute without the limit / with it (same run)',
            result: `${Math.round(beforeRowsMin / Math.max(1, limited.rows)).toLocaleString('en-US')}×`,
          },
          {
            metric: `many addresses (a new X-Forwarded-For per request through a trusted proxy, ${MANY_S} s), \`SPAPI_AUTH_MAX_PENDING_FLOWS=${MANY_CAP}\`: rows kept`,
            result: `${many.rows.toLocaleString('en-US')} kept of ${created.toLocaleString('en-US')} created (${many.requests.toLocaleString('en-US')} requests, each address under its limit)`,
            target: `≤ cap + 1 % (${Math.floor(MANY_CAP * 1.01).toLocaleString('en-US')}), with more created than the cap`,
            met: many.rows <= MANY_CAP * 1.01 && created > MANY_CAP,
          },
        ],
        notes: [
          `Method: one \`spapi-auth serve\` process (SQLite in a temporary directory, ${serveRuntime().label}) per run; the client is autocannon in its own process with ${CONNECTIONS} keep-alive connections sending a valid Login URI request (\`GET /oauth/login\` with an \`amazon_callback_uri\` on the emulator), each of which, when allowed, stores one OAuth transaction and answers 302. "Without the limit" sets \`SPAPI_AUTH_OAUTH_RATE_LIMIT=0\` and the pending-flow cap out of reach (\`SPAPI_AUTH_MAX_PENDING_FLOWS=100000000\`), which is the behaviour before either existed; it runs ${UNLIMITED_S} s and is scaled to a minute. "With the limit" runs the defaults for a whole minute. Rows are counted in the database after the process stopped; bytes are the growth of the database files (main file, WAL and shared memory). The purge deletes transactions an hour after they expire, checked every 10 minutes: a row stays up to 80 minutes. The many-address run trusts 127.0.0.1 as a proxy and sends \`X-Forwarded-For: 10.w.x.y\`, a new address per request (each under its limit), from the benchmark process with ${CONNECTIONS} concurrent loops; what it shows is the cap, not the limit, so its cap is set to ${MANY_CAP.toLocaleString('en-US')} (the default is ${DEFAULT_MAX_PENDING_FLOWS.toLocaleString('en-US')}, about ${Math.round((DEFAULT_MAX_PENDING_FLOWS * 300) / 1e6)} MB of rows at the size measured here). Client, emulator and service share the two cores.`,
        ],
      };
    } finally {
      await emu.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  },
};
