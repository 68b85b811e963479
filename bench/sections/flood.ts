/**
 * Genuine sellers under a many-address flood: one `spapi-auth serve` (SQLite, the defaults) while
 * an attacker process floods the Login URI (`GET /oauth/login` with a valid `amazon_callback_uri`)
 * from many client addresses, each at its per-address limit, through a trusted proxy (a new
 * `X-Forwarded-For` per address). Meanwhile genuine sellers run the website flow and the Appstore
 * flow end to end against the emulator, staying on its consent page 10 s or 60 s before they
 * confirm. Reported per configuration: the share of sellers who complete, the attack's requests
 * and refusals, the pending rows it left in the database, the serve process's RSS peak and the
 * growth of the database files.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DEFAULT_OAUTH_RATE_LIMIT } from '../../src/config.js';
import {
  DEV_APPLICATION,
  TEST_SELLERS,
  startEmulator,
  type RunningEmulator,
} from '../../src/emulator/index.js';
import type { EmulatorSeller } from '../../src/emulator/types.js';
import { parseKeyRing } from '../../src/storage/crypto.js';
import { openStore } from '../../src/storage/open.js';
import type { BenchSection } from '../framework.js';
import type { FloodReport } from './attacker.js';
import {
  createKey,
  loadAverage,
  newKeyRing,
  sampler,
  serveEnv,
  serveRuntime,
  sleep,
  startAttacker,
  startServe,
} from './harness.js';

const PUBLIC = 'http://localhost:3000';
/** Sellers of each kind (website, Appstore) per configuration; half wait 10 s, half 60 s. */
const PER_KIND = 20;
const WAITS_S = [10, 60] as const;
/** The flood runs this long before the first seller starts. */
const LEAD_S = 10;
/** Sellers start spread over this many seconds. */
const SPREAD_S = 5;
const ATTACK_CONNECTIONS = 64;

/** One attack configuration: how many addresses, spread over how many /24 networks. */
interface Config {
  readonly label: string;
  readonly addresses: number;
  readonly networks: number;
}
const CONFIGS: readonly Config[] = [
  { label: '400 addresses, each in its own /24', addresses: 400, networks: 400 },
  { label: '4,000 addresses, each in its own /24', addresses: 4_000, networks: 4_000 },
  { label: '4,000 addresses in 16 /24 networks', addresses: 4_000, networks: 16 },
];

const fileBytes = (path: string): number =>
  ['', '-wal', '-shm'].reduce((n, ext) => n + (existsSync(path + ext) ? statSync(path + ext).size : 0), 0);

function countRows(path: string): { appstore: number; website: number; sessions: number; all: number } {
  const db = new Database(path, { readonly: true });
  try {
    const count = (sql: string): number => (db.prepare(sql).get() as { n: number }).n;
    return {
      appstore: count(
        "SELECT COUNT(*) AS n FROM oauth_transactions WHERE flow = 'appstore' AND consumed_at IS NULL",
      ),
      website: count(
        "SELECT COUNT(*) AS n FROM oauth_transactions WHERE flow = 'website' AND consumed_at IS NULL",
      ),
      sessions: count('SELECT COUNT(*) AS n FROM connect_sessions WHERE consumed_at IS NULL'),
      all:
        count('SELECT COUNT(*) AS n FROM oauth_transactions') +
        count('SELECT COUNT(*) AS n FROM connect_sessions'),
    };
  } finally {
    db.close();
  }
}

/** A genuine seller's browser: its own address, its cookies, the service's and the emulator's origins. */
interface Browser {
  readonly address: string;
  readonly service: string;
  readonly emulator: string;
}

const onService = (b: Browser, u: string): string =>
  u.startsWith(PUBLIC) ? b.service + u.slice(PUBLIC.length) : u;

async function get(b: Browser, url: string, cookie?: string): Promise<Response> {
  const headers: Record<string, string> = { 'x-forwarded-for': b.address };
  if (cookie !== undefined) headers['cookie'] = cookie;
  return fetch(onService(b, url), { redirect: 'manual', headers });
}

/**
 * From the emulator's consent page to the service's callback: reads the page, stays on it
 * `waitS` seconds, confirms as `spid`, follows the redirect to the callback with the binding cookie.
 * Throws with the step that failed.
 */
async function consentAndCallback(
  b: Browser,
  consentPage: Response,
  cookie: string,
  spid: string,
  waitS: number,
): Promise<void> {
  const pageHtml = await consentPage.text();
  if (consentPage.status !== 200) throw new Error(`consent page ${consentPage.status}`);
  const id = /name="consent_id" value="([^"]+)"/.exec(pageHtml)?.[1];
  if (id === undefined) throw new Error('consent page without a consent id');
  await sleep(waitS * 1000);
  const confirmed = await fetch(`${b.emulator}/apps/authorize/consent`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ consent_id: id, action: 'confirm', seller: `${spid}:na` }).toString(),
  });
  await confirmed.arrayBuffer();
  if (confirmed.status !== 302) throw new Error(`consent confirm ${confirmed.status}`);
  const callback = await get(b, confirmed.headers.get('location') ?? '', cookie);
  await callback.arrayBuffer();
  if (callback.status !== 200 && callback.status !== 303) throw new Error(`callback ${callback.status}`);
}

const cookieOf = (r: Response): string => (r.headers.get('set-cookie') ?? '').split(';')[0]!;

/** The website flow: connect link (API key) → link → consent page → wait → confirm → callback. */
async function websiteSeller(b: Browser, apiKey: string, spid: string, waitS: number): Promise<void> {
  const session = await fetch(`${b.service}/v1/connect-sessions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ user_ref: `user-${spid}`, marketplace: 'US' }),
  });
  if (session.status !== 201) throw new Error(`connect-sessions ${session.status}`);
  const { url } = (await session.json()) as { url: string };
  const link = await get(b, url);
  await link.arrayBuffer();
  if (link.status !== 302) throw new Error(`connect link ${link.status}`);
  const consent = await fetch(link.headers.get('location') ?? '', { redirect: 'manual' });
  await consentAndCallback(b, consent, cookieOf(link), spid, waitS);
}

/** The Appstore flow: "Authorize now" → Login URI → Amazon's confirm → consent page → wait → callback. */
async function appstoreSeller(b: Browser, spid: string, waitS: number): Promise<void> {
  const start = await fetch(
    `${b.emulator}/appstore/authorize?application_id=${DEV_APPLICATION.id}&selling_partner_id=${spid}`,
    { redirect: 'manual' },
  );
  await start.arrayBuffer();
  if (start.status !== 302) throw new Error(`appstore authorize ${start.status}`);
  const login = await get(b, start.headers.get('location') ?? '');
  await login.arrayBuffer();
  if (login.status !== 302) throw new Error(`login uri ${login.status}`);
  const confirm = await fetch(login.headers.get('location') ?? '', { redirect: 'manual' });
  await consentAndCallback(b, confirm, cookieOf(login), spid, waitS);
}

/** Outcomes of one configuration's sellers: per (kind, wait), completed and stored of started. */
interface SellerOutcome {
  readonly kind: 'website' | 'appstore';
  readonly waitS: number;
  readonly done: boolean;
  readonly failure?: string;
}

interface ConfigRun {
  readonly config: Config;
  readonly outcomes: readonly SellerOutcome[];
  readonly attack: FloodReport;
  readonly rows: ReturnType<typeof countRows>;
  readonly rssPeak: number;
  readonly rssStart: number;
  readonly dbGrowth: number;
}

async function runConfig(
  emu: RunningEmulator,
  tmp: string,
  n: number,
  config: Config,
  sellers: readonly EmulatorSeller[],
  log: (m: string) => void,
): Promise<ConfigRun> {
  const ring = newKeyRing();
  const path = join(tmp, `flood-${n}.db`);
  const store = await openStore(`sqlite:${path}`, { keyRing: parseKeyRing(ring) });
  const apiKey = await createKey(store);
  await store.close();
  const before = fileBytes(path);
  const svc = await startServe(
    serveEnv({
      amazonUrl: emu.url,
      databaseUrl: `sqlite:${path}`,
      keyRing: ring,
      extra: { SPAPI_AUTH_TRUSTED_PROXIES: '127.0.0.1,::1', SPAPI_AUTH_KEY_RATE_LIMIT: '0' },
    }),
  );
  const rssStart = svc.rss();
  const rss = sampler(() => svc.rss());
  const callback = `${emu.url}/apps/authorize/confirm/${DEV_APPLICATION.id}`;
  const query = `?amazon_callback_uri=${encodeURIComponent(callback)}&amazon_state=flood&selling_partner_id=A1EMUSELLERNA01`;
  const attacker = startAttacker<FloodReport>({
    kind: 'flood',
    url: `${svc.url}/oauth/login${query}`,
    addresses: config.addresses,
    networks: config.networks,
    perMinute: DEFAULT_OAUTH_RATE_LIMIT,
    connections: ATTACK_CONNECTIONS,
  });
  let attack: FloodReport;
  const outcomes: SellerOutcome[] = [];
  try {
    await sleep(LEAD_S * 1000);
    const runs: Promise<void>[] = [];
    sellers.forEach((seller, i) => {
      const kind = i % 2 === 0 ? 'website' : 'appstore';
      const waitS = WAITS_S[Math.floor(i / 2) % WAITS_S.length]!;
      // Each seller its own address in a network of its own, away from the attack's 10/8.
      const b: Browser = {
        address: `198.18.${n * 64 + (i >> 2)}.${1 + (i & 3)}`,
        service: svc.url,
        emulator: emu.url,
      };
      runs.push(
        (async () => {
          await sleep((SPREAD_S * 1000 * i) / sellers.length);
          try {
            if (kind === 'website') await websiteSeller(b, apiKey, seller.sellingPartnerId, waitS);
            else await appstoreSeller(b, seller.sellingPartnerId, waitS);
            const stored = await fetch(`${svc.url}/v1/sellers/${seller.sellingPartnerId}`, {
              headers: { authorization: `Bearer ${apiKey}` },
            });
            await stored.arrayBuffer();
            if (stored.status !== 200) throw new Error(`seller not stored (${stored.status})`);
            outcomes.push({ kind, waitS, done: true });
          } catch (err) {
            outcomes.push({ kind, waitS, done: false, failure: (err as Error).message });
          }
        })(),
      );
    });
    await Promise.all(runs);
  } finally {
    attack = await attacker.stop();
    await svc.stop();
  }
  const rssPeak = rss.stop();
  const rows = countRows(path);
  const failures = outcomes.filter((o) => !o.done).map((o) => `${o.kind}: ${o.failure}`);
  log(
    `${config.label}: ${outcomes.filter((o) => o.done).length}/${outcomes.length} sellers completed` +
      `${failures.length > 0 ? ` (failures: ${[...new Set(failures)].join('; ')})` : ''}; attack ${attack.sent} sent ${JSON.stringify(attack.byStatus)}; rows ${JSON.stringify(rows)}; RSS peak ${(rssPeak / 2 ** 20).toFixed(0)} MiB`,
  );
  return { config, outcomes, attack, rows, rssPeak, rssStart, dbGrowth: fileBytes(path) - before };
}

export const flood: BenchSection = {
  name: 'flood',
  title: 'Genuine sellers under a many-address flood of the Login URI',
  async run({ log }) {
    const load = loadAverage();
    const tmp = mkdtempSync(join(tmpdir(), 'spapi-auth-bench-flood-'));
    const perConfig = 2 * PER_KIND;
    const sellers: EmulatorSeller[] = Array.from({ length: CONFIGS.length * perConfig }, (_, i) => ({
      sellingPartnerId: `A1FLOODSELL${String(i).padStart(4, '0')}`,
      name: `Flood bench seller ${i}`,
      kind: 'seller',
      regions: ['na'],
      marketplaces: ['US'],
    }));
    const emu = await startEmulator({ port: 0, consentMode: 'page', sellers: [...TEST_SELLERS, ...sellers] });
    const runs: ConfigRun[] = [];
    try {
      for (const [n, config] of CONFIGS.entries()) {
        runs.push(
          await runConfig(emu, tmp, n, config, sellers.slice(n * perConfig, (n + 1) * perConfig), log),
        );
      }
    } finally {
      await emu.close();
      rmSync(tmp, { recursive: true, force: true });
    }
    const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;
    const rows = runs.flatMap((r) => {
      const share = (kind: SellerOutcome['kind'], waitS: number): string => {
        const of = r.outcomes.filter((o) => o.kind === kind && o.waitS === waitS);
        return `${of.filter((o) => o.done).length}/${of.length}`;
      };
      const done = r.outcomes.filter((o) => o.done).length;
      const refused = r.attack.byStatus['429'] ?? 0;
      const admitted = r.attack.byStatus['302'] ?? 0;
      const intended = (r.config.addresses * DEFAULT_OAUTH_RATE_LIMIT) / 60;
      return [
        {
          metric: `${r.config.label}: genuine sellers who completed (website 10 s / 60 s on the consent page; Appstore 10 s / 60 s)`,
          result: `${done}/${r.outcomes.length} (website ${share('website', 10)} / ${share('website', 60)}; Appstore ${share('appstore', 10)} / ${share('appstore', 60)})`,
          target: 'all',
          met: done === r.outcomes.length,
        },
        {
          metric: `${r.config.label}: attack requests sent / refused (429) / admitted (302)`,
          result: `${r.attack.sent.toLocaleString('en-US')} / ${refused.toLocaleString('en-US')} / ${admitted.toLocaleString('en-US')} in ${r.attack.seconds.toFixed(0)} s (${(r.attack.sent / r.attack.seconds).toFixed(0)}/s sent of ${intended.toFixed(0)}/s intended; ${r.attack.errors} errors)`,
        },
        {
          metric: `${r.config.label}: rows left in the database: pending (Appstore transactions; website transactions; sessions); all, consumed included`,
          result: `${r.rows.appstore.toLocaleString('en-US')}; ${r.rows.website}; ${r.rows.sessions}; ${r.rows.all.toLocaleString('en-US')} (each website seller's connect link and transaction, each Appstore seller's single-use record: ${3 * PER_KIND} expected)`,
        },
        {
          metric: `${r.config.label}: serve RSS at start → peak; database growth`,
          result: `${mib(r.rssStart)} → ${mib(r.rssPeak)}; ${(r.dbGrowth / 1e6).toFixed(1)} MB`,
        },
      ];
    });
    return {
      rows,
      notes: [
        `Method: for each configuration a fresh \`spapi-auth serve\` (${serveRuntime().label}, SQLite in a temporary directory, the defaults: ${DEFAULT_OAUTH_RATE_LIMIT} Login URI requests a minute per address and ${DEFAULT_OAUTH_RATE_LIMIT * 10} per /24), with \`SPAPI_AUTH_TRUSTED_PROXIES=127.0.0.1,::1\` so that a client address is the one in \`X-Forwarded-For\`. The attacker is a process of its own with ${ATTACK_CONNECTIONS} keep-alive connections sending \`GET /oauth/login\` with a valid \`amazon_callback_uri\` (each admitted request is answered 302 with a carried state and a binding cookie, and stores nothing), every address at exactly its limit (${DEFAULT_OAUTH_RATE_LIMIT} a minute, evenly spread); addresses are \`10.x.y.z\`, either one per /24 (a botnet spread over the Internet) or ${CONFIGS[2]!.addresses / CONFIGS[2]!.networks} per /24 in ${CONFIGS[2]!.networks} networks. The flood runs ${LEAD_S} s before the first seller starts and until the last one finished. Sellers (${PER_KIND} website, ${PER_KIND} Appstore per configuration, each a distinct emulator seller from its own address in 198.18.0.0/15, starting over ${SPREAD_S} s) run in the benchmark process against the emulator (in the benchmark process too, consent in page mode): website = \`POST /v1/connect-sessions\` → \`GET /connect/:token\` → consent page → ${WAITS_S.join(' s or ')} s on it → Confirm → \`GET /oauth/callback\` with the binding cookie; Appstore = the emulator's "Authorize now" → the Login URI → Amazon's confirm → consent page → ${WAITS_S.join(' s or ')} s → Confirm → callback. A seller counts as completed when \`GET /v1/sellers/:id\` finds it stored. Rows are counted in the database after the process stopped: pending ones (unconsumed), and all of them (a callback records its state's single use as a consumed row); RSS is sampled from /proc every 500 ms; database growth is that of the main file, WAL and shared memory. Machine load when the section started: ${load} (1-minute average).`,
        whatTheFiguresSay(runs),
      ],
    };
  },
};

/** The reading of the figures, from the figures: whether every seller completed, what the attack cost. */
function whatTheFiguresSay(runs: readonly ConfigRun[]): string {
  const all = runs.every((r) => r.outcomes.every((o) => o.done));
  const pending = runs.reduce((n, r) => n + r.rows.appstore + r.rows.sessions, 0);
  const refused = runs.flatMap((r) =>
    r.outcomes.filter((o) => !o.done).map((o) => `${r.config.label}: ${o.kind} ${o.waitS} s (${o.failure})`),
  );
  const peak = Math.max(...runs.map((r) => r.rssPeak - r.rssStart)) / 2 ** 20;
  const growth = Math.max(...runs.map((r) => r.dbGrowth)) / 1e6;
  const admitted = runs.map((r) => (r.attack.byStatus['302'] ?? 0).toLocaleString('en-US')).join(', ');
  const refusals = runs
    .map(
      (r) =>
        `${r.config.label} ${(r.attack.byStatus['429'] ?? 0).toLocaleString('en-US')} of ${r.attack.sent.toLocaleString('en-US')}`,
    )
    .join('; ');
  return (
    `What the figures say. The Login URI stores nothing (the Appstore transaction travels in a signed state with the binding cookie; its single use is recorded at the callback), so the ${admitted} attack requests admitted in the three configurations left ${pending} pending rows and the only rows written are the genuine sellers' own (a connect link per website seller, a single-use record per callback). ` +
    (all
      ? `Every website and every Appstore seller completed in every configuration, after 10 s or 60 s on the consent page, spread over 4,000 /24s or concentrated in 16: with no row to admit there is no budget an attacker's networks can fill, and the per-address and per-network rate limits are the only bound on it (refused: ${refusals}). `
      : `Not every seller completed: ${refused.join('; ')}. `) +
    `The attack's cost to the service is CPU and memory while it runs (RSS at most ${peak.toFixed(0)} MiB above the start) and the database grew by at most ${growth.toFixed(1)} MB. With the earlier design the Login URI stored one Appstore transaction per admitted request, within budgets of 20 per address, 200 per /24 and 10,000 per instance: 4,000 addresses in as many /24s filled the instance's budget within seconds and every Appstore seller who arrived after that was refused (0/20 completed).`
  );
}
