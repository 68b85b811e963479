/**
 * Side by side with what users would pick instead: the popular SP-API clients
 * `amazon-sp-api`, `@sp-api-sdk/auth` and the official `@amazon-sp-api-release/amazon-sp-api-sdk-js`,
 * spapi-auth's library and spapi-auth's service, each against its own fresh emulator with 50 ms LWA
 * latency, one scenario at a time; the LWA calls are counted by the emulator.
 *
 * How the popular clients reach the emulator: they all use Node's `https`, so an `https.Agent` whose
 * `createConnection` opens a plain TCP socket to the emulator on 127.0.0.1 is installed as the global
 * agent (axios in @sp-api-sdk/auth, superagent in the official SDK) and passed as amazon-sp-api's
 * `https_proxy_agent`. Their URLs, request code, retries and caches are untouched; only the socket
 * changes. spapi-auth's library uses Node's fetch with `amazonUrl` set to the emulator; the service
 * is `spapi-auth serve` processes with `SPAPI_AUTH_AMAZON_URL` pointing there.
 */
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createMemoryTokenVault, createTokenManager, type TokenManager } from '../../src/core/index.js';
import { createSellingPartner } from '../../src/adapters/amazon-sp-api.js';
import { useSpapiAuth, type OfficialApiClientLike } from '../../src/adapters/official-sdk.js';
import { createSpApiSdkAuth } from '../../src/adapters/sp-api-sdk.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { parseKeyRing } from '../../src/storage/crypto.js';
import { openStore } from '../../src/storage/open.js';
import { createStoreTokenVault } from '../../src/storage/token-vault.js';
import type { Store } from '../../src/storage/store.js';
import { median, si, type BenchRow, type BenchSection } from '../framework.js';
import {
  authorize,
  autocannon,
  createKey,
  CREDS,
  installEmulatorAgent,
  newKeyRing,
  PG_URL,
  refreshCalls,
  serveEnv,
  sleep,
  startServe,
  type EmulatorAgent,
  type ServeProcess,
  serveRuntime,
} from './harness.js';

const SELLER = 'A1EMUSELLERNA01';
const KEY = { sellingPartnerId: SELLER, region: 'na' } as const;
const require = createRequire(import.meta.url);
const RESET_WINDOW_MS = 3_000;
const EXPIRY_TTL_S = 2;
const SERVICE = 'spapi-auth service';

/** One client instance: `get` returns an access token (or makes the call that needs one). */
interface Client {
  get(): Promise<unknown>;
  /** What the adapter adds to each SDK call when `get` is a whole SP-API call: its token step alone. */
  tokenStep?(): Promise<unknown>;
  close?(): Promise<void>;
}

interface System {
  readonly name: string;
  /** spapi-auth's own (the library, the service, an SDK through its adapter): its targets are checked. */
  readonly ours?: boolean;
  /** `count` independent instances sharing the refresh token, as this system would run them. */
  make(emu: RunningEmulator, refreshToken: string, count: number): Promise<Client[]>;
  /** Cache-hit calls/s (with the floor measured beside it, in-process only), or why there is none. */
  cacheHit(client: Client): Promise<{ rate: number; floor?: number } | string>;
}

/**
 * A fresh loop that awaits `fn` call by call for about `ms` and returns calls/s. Each system gets its
 * own compiled loop (its own function literal, so its own type feedback): one shared loop would turn
 * megamorphic after the first system and slow the later ones down.
 */
function freshLoop(): (fn: () => Promise<unknown>, ms: number) => Promise<number> {
  const AsyncFunction = (async () => {}).constructor as new (
    ...args: string[]
  ) => (fn: () => Promise<unknown>, ms: number) => Promise<number>;
  return new AsyncFunction(
    'fn',
    'ms',
    'let calls = 0; const start = performance.now(); let elapsed = 0;' +
      'while (elapsed < ms) { for (let i = 0; i < 10000; i++) await fn(); calls += 10000; elapsed = performance.now() - start; }' +
      'return (calls / elapsed) * 1000;',
  );
}

/** The floor: an async function doing a Map lookup and an expiry check. */
const floorMap = new Map([['k', { token: 'Atza|x', refreshAt: Date.now() + 3_600_000 }]]);
const floorFn = async (): Promise<string> => {
  const e = floorMap.get('k');
  if (e !== undefined && Date.now() < e.refreshAt) return e.token;
  throw new Error('miss');
};
const floorLoop = freshLoop();

/**
 * Cache-hit calls/s of a client beside the floor, alternating three 300 ms runs of each (the machine
 * is shared, so the floor is taken next to each system); medians.
 */
const inProcessHit = async (c: Client): Promise<{ rate: number; floor: number }> => {
  await c.get();
  const loop = freshLoop();
  await loop(c.get, 100);
  await floorLoop(floorFn, 100);
  const ours: number[] = [];
  const floors: number[] = [];
  for (let i = 0; i < 3; i++) {
    floors.push(await floorLoop(floorFn, 300));
    ours.push(await loop(c.get, 300));
  }
  return { rate: median(ours), floor: median(floors) };
};

/**
 * superagent (the official SDK's HTTP client) asks for no pooling (`agent: false`) unless a request
 * is given an agent: give each of its POSTs the emulator agent; the URL stays Amazon's.
 */
function redirectSuperagent(agent: EmulatorAgent): void {
  const superagent = require('superagent') as { post: (url: string) => { agent(a: unknown): unknown } };
  const post = superagent.post.bind(superagent);
  superagent.post = ((url: string) => post(url).agent(agent)) as typeof superagent.post;
}

/**
 * `count` token managers as spapi-auth's library runs them: one over a memory vault, or several
 * sharing tokens and the refresh lease through one SQLite store (distinct lease owners).
 */
async function libraryManagers(
  emu: RunningEmulator,
  refreshToken: string,
  count: number,
  tmp: string,
): Promise<{ managers: TokenManager[]; close(): Promise<void> }> {
  const manager = (vault: Parameters<typeof createTokenManager>[0]['vault']) =>
    createTokenManager({ credentials: CREDS, vault, amazonUrl: emu.url });
  if (count === 1) {
    const vault = createMemoryTokenVault();
    vault.put(KEY, refreshToken);
    return { managers: [manager(vault)], close: async () => undefined };
  }
  const store = await openStore(`sqlite:${join(tmp, `lib-${Date.now()}-${Math.random()}.db`)}`, {
    keyRing: parseKeyRing(newKeyRing()),
  });
  await saveSeller(store, refreshToken);
  const managers = Array.from({ length: count }, (_, i) =>
    manager(createStoreTokenVault(store, { owner: `bench-instance-${i}` })),
  );
  return { managers, close: () => store.close() };
}

/** The official SDK's module, as far as the bench uses it (the SDK ships no types). */
interface OfficialSdk {
  LwaAuthClient: new (
    id: string,
    secret: string,
    refreshToken: string,
  ) => { getAccessToken(): Promise<string> };
  SellersSpApi: {
    ApiClient: new (basePath: string) => OfficialApiClientLike & {
      disableRateLimiter(): void;
      requestAgent: unknown;
    };
    SellersApi: new (client: unknown) => { getMarketplaceParticipations(): Promise<unknown> };
  };
}
const officialSdk = () =>
  import('@amazon-sp-api-release/amazon-sp-api-sdk-js' as string) as Promise<OfficialSdk>;

/** Each SDK through its adapter, its tokens from spapi-auth's library (one token manager per instance). */
function adapterSystems(agent: EmulatorAgent, tmp: string): System[] {
  const withManagers =
    (client: (tokens: TokenManager) => Promise<Client>) =>
    async (emu: RunningEmulator, refreshToken: string, count: number): Promise<Client[]> => {
      const { managers, close } = await libraryManagers(emu, refreshToken, count, tmp);
      const clients = await Promise.all(managers.map(client));
      clients[0] = { ...clients[0]!, close };
      return clients;
    };
  const participations = { operation: 'getMarketplaceParticipations', endpoint: 'sellers' };
  const adapterHit = async (c: Client) => inProcessHit({ get: c.tokenStep ?? c.get });
  return [
    {
      name: 'amazon-sp-api + adapter',
      ours: true,
      make: withManagers(async (tokens) => {
        type Sp = {
          callAPI(req: object): Promise<unknown>;
          refreshAccessToken(scope?: string): Promise<void>;
        };
        const SellingPartner = require('amazon-sp-api') as new (config: object) => Sp;
        const sp = createSellingPartner(SellingPartner, {
          tokens,
          ...KEY,
          options: { https_proxy_agent: agent, auto_request_throttled: false },
        });
        // The adapter's step before each callAPI: the seller's token from spapi-auth.
        return { get: () => sp.callAPI(participations), tokenStep: () => sp.refreshAccessToken() };
      }),
      cacheHit: adapterHit,
    },
    {
      name: '@sp-api-sdk + adapter',
      ours: true,
      make: withManagers(async (tokens) => {
        const { SellingPartnerApiAuth } = await import('@sp-api-sdk/auth');
        const auth = createSpApiSdkAuth(SellingPartnerApiAuth, { tokens, ...KEY });
        return { get: () => auth.getAccessToken() };
      }),
      cacheHit: adapterHit,
    },
    {
      name: 'official SDK + adapter',
      ours: true,
      make: withManagers(async (tokens) => {
        const { SellersSpApi } = await officialSdk();
        const client = (): InstanceType<OfficialSdk['SellersSpApi']['ApiClient']> => {
          const c = new SellersSpApi.ApiClient('https://sellingpartnerapi-na.amazon.com');
          c.disableRateLimiter(); // its own limiter would queue 1,000 calls for minutes
          c.requestAgent = agent;
          return c;
        };
        const api = new SellersSpApi.SellersApi(useSpapiAuth(client(), { tokens, ...KEY }));
        // The token step alone: an ApiClient whose request is a no-op, wrapped the same way.
        const bare = client();
        bare.callApi = (async () => undefined) as typeof bare.callApi;
        useSpapiAuth(bare, { tokens, ...KEY });
        return { get: () => api.getMarketplaceParticipations(), tokenStep: () => bare.callApi() };
      }),
      cacheHit: adapterHit,
    },
  ];
}

function systems(agent: EmulatorAgent, tmp: string): System[] {
  const times = <T>(n: number, f: (i: number) => Promise<T>): Promise<T[]> =>
    Promise.all(Array.from({ length: n }, (_, i) => f(i)));
  return [
    {
      name: 'amazon-sp-api',
      async make(_emu, refreshToken, count) {
        const SellingPartner = require('amazon-sp-api') as new (config: object) => {
          callAPI(req: object): Promise<unknown>;
        };
        return times(count, async () => {
          const sp = new SellingPartner({
            region: 'na',
            refresh_token: refreshToken,
            credentials: {
              SELLING_PARTNER_APP_CLIENT_ID: CREDS.clientId,
              SELLING_PARTNER_APP_CLIENT_SECRET: CREDS.clientSecret,
            },
            options: { https_proxy_agent: agent, auto_request_throttled: false },
          });
          // It has no "get a token" call: it refreshes inside callAPI (when it has no token, or
          // after SP-API answers 403 "expired"), so the calls here are real SP-API calls.
          return {
            get: () => sp.callAPI({ operation: 'getMarketplaceParticipations', endpoint: 'sellers' }),
          };
        });
      },
      cacheHit: async () => 'n/a: no token call (keeps a token until SP-API answers 403)',
    },
    {
      name: '@sp-api-sdk/auth',
      async make(_emu, refreshToken, count) {
        const { SellingPartnerApiAuth } = await import('@sp-api-sdk/auth');
        return times(count, async () => {
          const auth = new SellingPartnerApiAuth({ ...CREDS, refreshToken });
          return { get: () => auth.getAccessToken() };
        });
      },
      cacheHit: inProcessHit,
    },
    {
      name: 'official SDK',
      async make(_emu, refreshToken, count) {
        const { LwaAuthClient } = await officialSdk();
        return times(count, async () => {
          const c = new LwaAuthClient(CREDS.clientId, CREDS.clientSecret, refreshToken);
          return { get: () => c.getAccessToken() };
        });
      },
      cacheHit: inProcessHit,
    },
    ...adapterSystems(agent, tmp),
    {
      name: 'spapi-auth library',
      ours: true,
      async make(emu, refreshToken, count) {
        const { managers, close } = await libraryManagers(emu, refreshToken, count, tmp);
        const clients: Client[] = managers.map((m) => ({ get: () => m.getAccessToken(KEY) }));
        clients[0] = { ...clients[0]!, close };
        return clients;
      },
      cacheHit: inProcessHit,
    },
    {
      name: SERVICE,
      ours: true,
      async make(emu, refreshToken, count) {
        const ring = newKeyRing();
        let databaseUrl: string;
        let store: Store;
        let dropSchema = async (): Promise<void> => {};
        if (count === 1) {
          databaseUrl = `sqlite:${join(tmp, `svc-${Date.now()}.db`)}`;
          store = await openStore(databaseUrl, { keyRing: parseKeyRing(ring) });
        } else {
          // Several processes: one PostgreSQL schema, as in a real multi-instance deployment.
          const schema = `bench_lib_${process.pid}_${Date.now()}`;
          store = await openStore(PG_URL, { keyRing: parseKeyRing(ring), schema });
          databaseUrl = `${PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
          dropSchema = () => dropPgSchema(schema);
        }
        const apiKey = await createKey(store);
        await saveSeller(store, refreshToken);
        await store.close();
        const env = serveEnv({
          amazonUrl: emu.url,
          databaseUrl,
          keyRing: ring,
          extra: { SPAPI_AUTH_KEY_RATE_LIMIT: '0' },
        });
        const procs: ServeProcess[] = await times(count, () => startServe(env));
        const headers = { authorization: `Bearer ${apiKey}` };
        return procs.map((p, i) => ({
          url: `${p.url}/v1/sellers/${SELLER}/access-token`,
          headers,
          get: async () => {
            const r = await fetch(`${p.url}/v1/sellers/${SELLER}/access-token`, {
              headers,
              signal: AbortSignal.timeout(20_000),
            });
            const body = await r.text();
            if (r.status !== 200) {
              const code = (JSON.parse(body) as { error?: { code?: string } }).error?.code;
              throw Object.assign(new Error(`token API status ${r.status}`), { code });
            }
            return body;
          },
          close: async () => {
            await p.stop();
            if (i === 0) await dropSchema();
          },
        }));
      },
      async cacheHit(c) {
        const { url, headers } = c as Client & { url: string; headers: Record<string, string> };
        await c.get();
        const r = await autocannon(url, { connections: 10, seconds: 3, headers });
        return r.non2xx + r.errors > 0 ? 'errors under load' : { rate: r.requestsPerSecond };
      },
    },
  ];
}

async function saveSeller(store: Store, refreshToken: string): Promise<void> {
  await store.saveAuthorization({
    sellingPartnerId: SELLER,
    region: 'na',
    kind: 'seller',
    userRef: 'bench',
    marketplace: 'US',
    refreshToken,
  });
}

async function dropPgSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

const closeAll = async (cs: readonly Client[]): Promise<void> => {
  for (const c of cs) await c.close?.();
};

/** One scenario for one system on a fresh emulator; returns the table cell. */
type Scenario = (sys: System, agent: EmulatorAgent) => Promise<string>;

async function withEmulator<T>(
  agent: EmulatorAgent,
  opts: { tokenTtlS?: number },
  fn: (emu: RunningEmulator, refreshToken: string) => Promise<T>,
): Promise<T> {
  const emu = await startEmulator({
    port: 0,
    consentMode: 'auto',
    latencyMs: 50,
    ...(opts.tokenTtlS ? { tokenTtlS: opts.tokenTtlS } : {}),
    // amazon-sp-api makes real SP-API calls; keep the emulator's SP-API throttling out of the way.
    rates: { getMarketplaceParticipations: { rate: 1e6, burst: 1e6 } },
  });
  agent.port = emu.port;
  try {
    return await fn(emu, await authorize(emu, SELLER));
  } finally {
    await emu.close();
  }
}

const settle = async (ps: readonly Promise<unknown>[]): Promise<number> =>
  (await Promise.allSettled(ps)).filter((r) => r.status === 'rejected').length;

const failedNote = (failed: number): string => (failed > 0 ? ` (${failed} calls failed)` : '');

const cold =
  (n: number): Scenario =>
  (sys, agent) =>
    withEmulator(agent, {}, async (emu, rt) => {
      const [c] = await sys.make(emu, rt, 1);
      try {
        const before = await refreshCalls(emu);
        const failed = await settle(Array.from({ length: n }, () => c!.get()));
        return `${(await refreshCalls(emu)) - before}${failedNote(failed)}`;
      } finally {
        await closeAll([c!]);
      }
    });

const afterExpiry: Scenario = (sys, agent) =>
  withEmulator(agent, { tokenTtlS: EXPIRY_TTL_S }, async (emu, rt) => {
    const [c] = await sys.make(emu, rt, 1);
    try {
      await c!.get();
      await sleep(EXPIRY_TTL_S * 1000 + 200);
      const before = await refreshCalls(emu);
      const failed = await settle(Array.from({ length: 50 }, () => c!.get()));
      return `${(await refreshCalls(emu)) - before}${failedNote(failed)}`;
    } finally {
      await closeAll([c!]);
    }
  });

/** Three instances on one refresh token, `total` concurrent calls spread round-robin over them. */
const threeInstances =
  (total: number): Scenario =>
  (sys, agent) =>
    withEmulator(agent, {}, async (emu, rt) => {
      const cs = await sys.make(emu, rt, 3);
      try {
        const before = await refreshCalls(emu);
        const failed = await settle(Array.from({ length: total }, (_, i) => cs[i % 3]!.get()));
        return `${(await refreshCalls(emu)) - before}${failedNote(failed)}`;
      } finally {
        await closeAll(cs);
      }
    });

const resetConnection: Scenario = (sys, agent) =>
  withEmulator(agent, {}, async (emu, rt) => {
    const [c] = await sys.make(emu, rt, 1);
    try {
      const before = await refreshCalls(emu);
      await emu.emulator.control.fault({ target: 'token', reset: true, count: 0 });
      const t0 = performance.now();
      let settledAt: number | null = null;
      let outcome = 'pending';
      const p = c!.get().then(
        () => ((outcome = 'token'), (settledAt = performance.now() - t0)),
        () => ((outcome = 'error'), (settledAt = performance.now() - t0)),
      );
      await Promise.race([p, sleep(RESET_WINDOW_MS)]);
      // Give a call that gave up a moment to show it made no more attempts.
      if (settledAt !== null) await sleep(200);
      const attempts = (await refreshCalls(emu)) - before;
      await emu.emulator.control.clearFaults();
      await Promise.race([p, sleep(5_000)]);
      const at = settledAt as number | null;
      return at !== null && at <= RESET_WINDOW_MS
        ? `${attempts} attempt(s), then ${outcome === 'error' ? 'an error' : 'a token'} after ${at.toFixed(0)} ms: bounded`
        : `${attempts} attempts in ${RESET_WINDOW_MS / 1000} s, still retrying: unbounded`;
    } finally {
      await closeAll([c!]);
    }
  });

/** Why calls failed, by the errors' codes (names and codes only: a third-party error may carry secrets). */
function failureCodes(results: readonly PromiseSettledResult<unknown>[]): string {
  const codes = new Set<string>();
  for (const r of results) {
    if (r.status === 'fulfilled') codes.add('a success');
    else {
      const e = r.reason as { code?: unknown; name?: string } | null;
      codes.add(typeof e?.code === 'string' ? e.code : (e?.name ?? 'error'));
    }
  }
  return [...codes].sort().join(', ');
}

/**
 * A seller who revoked the app, cold cache: 1,000 concurrent calls, then 1,000 more once those
 * failed; the LWA calls of each wave and what the callers got.
 */
const revoked: Scenario = (sys, agent) =>
  withEmulator(agent, {}, async (emu, rt) => {
    const [c] = await sys.make(emu, rt, 1);
    try {
      await emu.emulator.control.revoke(SELLER);
      const waves: number[] = [];
      let results: PromiseSettledResult<unknown>[] = [];
      for (let i = 0; i < 2; i++) {
        const before = await refreshCalls(emu);
        results = await Promise.allSettled(Array.from({ length: 1000 }, () => c!.get()));
        waves.push((await refreshCalls(emu)) - before);
      }
      return `${waves.join(' + ')}; callers get ${failureCodes(results)}`;
    } finally {
      await closeAll([c!]);
    }
  });

const cacheHit: Scenario = (sys, agent) =>
  withEmulator(agent, {}, async (emu, rt) => {
    const [c] = await sys.make(emu, rt, 1);
    try {
      const r = await sys.cacheHit(c!);
      if (typeof r === 'string') return r;
      return r.floor === undefined
        ? `${si(r.rate)} requests/s over HTTP`
        : `${si(r.rate)} calls/s (${(r.rate / r.floor).toFixed(2)}× floor of ${si(r.floor)})`;
    } finally {
      await closeAll([c!]);
    }
  });

const SCENARIOS: ReadonlyArray<{
  metric: string;
  run: Scenario;
  target?: string;
  ok?: (cell: string) => boolean;
}> = [
  { metric: 'LWA calls: 50 concurrent calls, cold cache', run: cold(50), target: '1', ok: (c) => c === '1' },
  {
    metric: 'LWA calls: 1,000 concurrent calls, cold cache',
    run: cold(1000),
    target: '1',
    ok: (c) => c === '1',
  },
  {
    metric: `LWA calls: 50 concurrent calls after the token expired (emulator \`--token-ttl ${EXPIRY_TTL_S}\`)`,
    run: afterExpiry,
    target: '1',
    ok: (c) => c === '1',
  },
  {
    metric: '3 instances sharing one refresh token, 50 concurrent calls each, cold: LWA calls',
    run: threeInstances(150),
    target: '1',
    ok: (c) => c === '1',
  },
  {
    metric: '3 instances sharing one refresh token, 1,000 concurrent calls spread over them, cold: LWA calls',
    run: threeInstances(1000),
    target: '1',
    ok: (c) => c === '1',
  },
  {
    metric:
      'Seller revoked the app, cold cache: LWA calls for 1,000 concurrent calls + 1,000 more after they failed',
    run: revoked,
    target: '1 + 0',
    ok: (c) => c.startsWith('1 + 0;'),
  },
  {
    metric: `LWA connection reset on every attempt: attempts in a ${RESET_WINDOW_MS / 1000} s window`,
    run: resetConnection,
    target: 'bounded',
    ok: (c) => c.endsWith(': bounded'),
  },
  { metric: 'cache-hit calls per second', run: cacheHit },
];

export const libraries: BenchSection = {
  name: 'libraries',
  title: 'Side by side with the popular SP-API clients',
  async run({ log }) {
    const agent = installEmulatorAgent();
    redirectSuperagent(agent);
    const tmp = mkdtempSync(join(tmpdir(), 'spapi-auth-bench-'));
    try {
      const syss = systems(agent, tmp);
      const cells: string[][] = [];
      for (const sc of SCENARIOS) {
        const row: string[] = [];
        for (const sys of syss) {
          let cell: string;
          try {
            cell = await sc.run(sys, agent);
          } catch (err) {
            // The name and code only: a third-party error may carry request bodies (secrets).
            const e = err as { name?: string; code?: unknown };
            cell = `failed (${e.name ?? 'error'}${typeof e.code === 'string' ? ` ${e.code}` : ''})`;
          }
          log(`${sc.metric} — ${sys.name}: ${cell}`);
          row.push(cell);
        }
        cells.push(row);
      }
      const ours = syss.flatMap((sys, j) => (sys.ours ? [j] : []));
      const rows: BenchRow[] = [];
      SCENARIOS.forEach((sc, i) => {
        for (const j of ours) {
          if (sc.target === undefined) continue;
          rows.push({
            metric: `${syss[j]!.name}: ${sc.metric}`,
            result: cells[i]![j]!,
            target: sc.target,
            met: sc.ok!(cells[i]![j]!),
          });
        }
      });
      const table = [
        `| | ${syss.map((s) => s.name).join(' | ')} |`,
        `|---|${syss.map(() => '---').join('|')}|`,
        ...SCENARIOS.map((sc, i) => `| ${sc.metric} | ${cells[i]!.join(' | ')} |`),
      ].join('\n');
      return {
        rows,
        notes: [
          '### One column per system\n\n' + table,
          'Every cell is measured on its own fresh emulator (`src/emulator`, 50 ms latency on the LWA token endpoint) with a refresh token from a real consent (auto mode) and code exchange; LWA calls are counted by the emulator (`grant_type=refresh_token`, faults included).',
          "How each system is reached: `@sp-api-sdk/auth` (axios) and the official SDK's `LwaAuthClient` (superagent) keep their `https://api.amazon.com` URL; Node's global `https.Agent` is replaced by one whose `createConnection` opens a plain TCP socket to the emulator on 127.0.0.1. `amazon-sp-api` gets the same agent through its `https_proxy_agent` option and makes real `getMarketplaceParticipations` SP-API calls (the emulator answers SP-API by path), because it refreshes only inside `callAPI`: when it has no token, or after SP-API answers 403 \"expired\". spapi-auth's library uses Node's fetch with `amazonUrl` pointing at the emulator; the service is `spapi-auth serve` child processes (" +
            serveRuntime().label +
            ") with `SPAPI_AUTH_AMAZON_URL` pointing there and the token API's per-key rate limit off.",
          `Instances: for the three client libraries, three independent client objects in one process (that is all they offer: no shared cache); for spapi-auth's library and for each SDK through its adapter, three token managers in one process over one SQLite store (\`createStoreTokenVault\`, distinct lease owners), one per instance; for the service, three \`spapi-auth serve\` processes on one fresh PostgreSQL schema (dropped afterwards). After expiry: the emulator issues ${EXPIRY_TTL_S}-second tokens, each client is warmed with one call, then ${EXPIRY_TTL_S}.2 s later 50 concurrent calls are made; the official SDK subtracts a fixed 60 s from every lifetime, so with short tokens it never caches (its cold number applies). Reset: the emulator destroys the connection of every token request (control-API fault \`reset\`, count 0) while one call is made on a cold client; attempts are counted for ${RESET_WINDOW_MS / 1000} s, then the fault is cleared. "Bounded" means the call gave up (or got a token) within the window. Revoked: the seller's grant is revoked at the emulator before any call (control API \`revoke\`), 1,000 concurrent calls are made on a cold client, then 1,000 more once they all failed; the cell is the LWA calls of each wave and the error codes the callers got.`,
          "The adapter columns are the unchanged SDKs through spapi-auth (\`spapi-auth/adapters/…\`) with their tokens from spapi-auth's token manager in the same process: `amazon-sp-api + adapter` makes real `getMarketplaceParticipations` calls with `callAPI` (its own refresh off); `official SDK + adapter` makes real calls with `SellersApi` on an `ApiClient` wrapped by `useSpapiAuth` (its rate limiter off, the emulator agent as its `requestAgent`); `@sp-api-sdk + adapter` calls the adapter's `auth.getAccessToken()`, which the SDK's clients call before each request. Their cache-hit rate is the step the adapter adds to each SDK call, beside the floor: `refreshAccessToken()` of the amazon-sp-api instance (what `callAPI` does first), `getAccessToken()` of the `auth`, and the wrapped `callApi` of an official `ApiClient` whose own request is replaced by a no-op.",
          'Cache-hit rates: each in-process client is measured beside the floor (an async function doing a `Map` lookup and an expiry check), alternating three 300 ms runs of each, awaiting every call, medians; each gets its own freshly compiled loop so that the calls of one system do not slow the next one down; the service column is over HTTP (autocannon, 10 connections, 3 s, in a separate process) and so not comparable to the in-process numbers — see the token API section for its ratio to a bare `node:http` server.',
        ],
      };
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  },
};
