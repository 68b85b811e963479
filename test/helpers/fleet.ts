// The multi-process suites' set-up in one place: n `spapi-auth serve` processes on one store (a fresh
// PostgreSQL database, or a SQLite file several processes share), the emulator on a port, sellers
// authorized and stored before any instance starts, an API key — and all of it closed when the test
// or the suite ends.
import { after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EmulatorApplication, EmulatorSeller } from '../../src/emulator/types.js';
import type { RunningEmulator } from '../../src/emulator/index.js';
import type { Scope } from '../../src/server/tokens/api-keys.js';
import type { Store } from '../../src/storage/store.js';
import {
  createKey,
  freePort,
  freshDatabase,
  markerSecrets,
  openTestStore,
  seedSellers,
  serveEnv,
  startServe,
  startTestEmulator,
  type ServeProcess,
} from './e2e.js';
import type { AfterHooks } from './service.js';

export interface FleetOptions {
  /** Names the run's marker secrets and its database. */
  readonly label: string;
  /** The sellers the emulator knows. */
  readonly sellers?: readonly EmulatorSeller[];
  /** The sellers authorized and stored before any instance starts (default: every one of `sellers`). */
  readonly seed?: readonly string[];
  /**
   * How long the seeded access tokens live from the moment seeding starts (default: already
   * expired), and how many code exchanges run at a time.
   */
  readonly seedOptions?: { readonly expiresInMs?: number; readonly concurrency?: number };
  /** A fresh PostgreSQL database (the default), or a SQLite file in a temporary folder. */
  readonly database?: 'postgres' | 'sqlite';
  readonly emulator?: {
    readonly latencyMs?: number;
    readonly tokenTtlS?: number;
    readonly rotateRefreshTokens?: boolean;
  };
  /** The API key's scopes (default: every scope the token API has). */
  readonly scopes?: readonly Scope[];
  /** Added to every instance's environment (a function: of the running emulator, for its URLs). */
  readonly extra?: Record<string, string> | ((amazon: RunningEmulator) => Record<string, string>);
  /** Runs once the sellers are seeded, before any instance starts. */
  readonly beforeServe?: (f: { amazon: RunningEmulator; app: EmulatorApplication }) => Promise<void>;
  /** Start the n instances now (the default), or only reserve their ports for `serve`. */
  readonly start?: boolean;
  /** How long an instance may take to print its "listening on" line (default 40 s). */
  readonly startTimeoutMs?: number;
}

export interface Fleet {
  readonly secrets: ReturnType<typeof markerSecrets>;
  readonly amazon: RunningEmulator;
  readonly app: EmulatorApplication;
  /** The instances' store, opened from the test process. */
  readonly store: Store;
  readonly databaseUrl: string;
  /** With `database: 'sqlite'`: the temporary folder that holds the database file. */
  readonly folder: string | undefined;
  /** The first instance's origin: the public URL every instance is configured with. */
  readonly publicUrl: string;
  /** One port per instance, in order. */
  readonly ports: readonly number[];
  readonly apiKey: string;
  /** The seeded sellers' tokens by seller id (markers for the canary sweeps). */
  readonly seeded: Map<string, { refreshToken: string; accessToken: string }>;
  /** The running instances, in the order of `ports` (empty with `start: false` until `serve`). */
  readonly instances: ServeProcess[];
  /** An instance's environment on `port`, with `extra` over the fleet's. */
  env(port: number, extra?: Record<string, string>): Record<string, string>;
  /** Starts an instance on `port` (closed with the fleet) and adds it to `instances`. */
  serve(port: number, extra?: Record<string, string>): Promise<ServeProcess>;
  /** GET /v1/sellers/:id/access-token on an instance with the fleet's API key. */
  token(instance: ServeProcess, sellerId: string): Promise<Response>;
}

/**
 * Cleanups for a suite: node:test's `after` of the `describe` this is called in (a suite's `before`
 * hook has no `t.after`). Call it in the describe body and pass it where a test's `t` would go.
 *
 * @example
 * describe('…', () => {
 *   const suite = afterSuite();
 *   let fleet: Fleet;
 *   before(async () => { fleet = await startFleet(suite, 3, { label: 'inst' }); });
 * });
 */
export function afterSuite(): AfterHooks {
  const cleanups: (() => Promise<void> | void)[] = [];
  // In the order registered, as `t.after` runs them.
  after(async () => {
    for (const fn of cleanups) await fn();
  });
  return { after: (fn) => void cleanups.push(fn) };
}

/**
 * Starts `n` serve processes on one store, with what they need, and registers their cleanup with
 * `t` (the instances stopped — resumed first if a test paused one — the store and the emulator
 * closed, the database dropped), also when starting fails half-way.
 *
 * @example
 * const fleet = await startFleet(t, 2, { label: 'soak', sellers, emulator: { tokenTtlS: 20 } });
 */
export async function startFleet(t: AfterHooks, n: number, opts: FleetOptions): Promise<Fleet> {
  const instances: ServeProcess[] = [];
  let store: Store | undefined;
  let amazon: RunningEmulator | undefined;
  let drop: (() => Promise<void> | void) | undefined;
  t.after(async () => {
    for (const i of instances) i.child.kill('SIGCONT');
    await Promise.all(instances.map((i) => i.stop()));
    await store?.close();
    await amazon?.close();
    await drop?.();
  });
  const secrets = markerSecrets(opts.label);
  let databaseUrl: string;
  let folder: string | undefined;
  if (opts.database === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), `spapi-auth-${opts.label}-`));
    folder = dir;
    drop = () => rmSync(dir, { recursive: true, force: true });
    databaseUrl = `sqlite:${join(dir, 'spapi-auth.db')}`;
  } else {
    const db = await freshDatabase(opts.label);
    drop = () => db.drop();
    databaseUrl = db.url;
  }
  const ports = await Promise.all(Array.from({ length: n }, () => freePort()));
  const publicUrl = `http://127.0.0.1:${ports[0]}`;
  const sellers = opts.sellers ?? [];
  const started = await startTestEmulator(publicUrl, secrets.clientSecret, { sellers, ...opts.emulator });
  amazon = started.amazon;
  const app = started.app;
  store = await openTestStore(databaseUrl, secrets.encryptionKeys);
  const seed = opts.seed ?? sellers.map((s) => s.sellingPartnerId);
  const seededAt = Date.now();
  const { expiresInMs, concurrency } = opts.seedOptions ?? {};
  const seeded = await seedSellers(amazon, app, secrets.clientSecret, store, seed, {
    ...(expiresInMs === undefined ? {} : { expiresAt: seededAt + expiresInMs }),
    ...(concurrency === undefined ? {} : { concurrency }),
  });
  const apiKey = await createKey(store, opts.scopes);
  await opts.beforeServe?.({ amazon, app });
  const running = amazon;
  const fleetExtra = typeof opts.extra === 'function' ? opts.extra(amazon) : opts.extra;
  const env = (port: number, extra: Record<string, string> = {}): Record<string, string> =>
    serveEnv({
      app,
      secrets,
      amazon: running,
      databaseUrl,
      publicUrl,
      port,
      extra: { ...fleetExtra, ...extra },
    });
  const serve = async (port: number, extra?: Record<string, string>): Promise<ServeProcess> => {
    const instance = await startServe(env(port, extra), opts.startTimeoutMs ?? 40_000);
    instances.push(instance);
    return instance;
  };
  if (opts.start ?? true) {
    const settled = await Promise.allSettled(
      ports.map((port) => startServe(env(port), opts.startTimeoutMs ?? 40_000)),
    );
    for (const r of settled) if (r.status === 'fulfilled') instances.push(r.value);
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
  return {
    secrets,
    amazon,
    app,
    store,
    databaseUrl,
    folder,
    publicUrl,
    ports,
    apiKey,
    seeded,
    instances,
    env,
    serve,
    token: (instance, sellerId) =>
      fetch(`${instance.url}/v1/sellers/${sellerId}/access-token`, {
        headers: { authorization: `Bearer ${apiKey}` },
      }),
  };
}
