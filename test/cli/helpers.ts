// Shared by the CLI tests: an emulator on a port with an application whose secret is a marker, a
// SQLite store in a temporary folder, the service's environment pointing at both, sellers seeded
// with real refresh tokens from the emulator, and a leak check over everything the CLI printed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exchangeAuthorizationCode } from '../../src/core/lwa.js';
import type { Region } from '../../src/core/marketplaces.js';
import { devApplication, startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { parseKeyRing } from '../../src/storage/crypto.js';
import { createSqliteStore } from '../../src/storage/sqlite.js';
import type { Store } from '../../src/storage/store.js';
import { runCli, type CliResult } from '../helpers/cli.js';

export const PUBLIC_URL = 'http://localhost:3000';
/** Marker secrets: none may appear in anything the CLI prints (unless the command exists to print it). */
export const CANARY_SECRET = 'CANARYcliClientSecret00000000000000000000000000';
export const APP = { ...devApplication(PUBLIC_URL), clientSecret: CANARY_SECRET };

/** A fresh key-ring entry `kid:<base64 of 32 bytes>`. */
export function keyEntry(kid: string): string {
  return `${kid}:${randomBytes(32).toString('base64')}`;
}

export interface CliWorld {
  readonly dir: string;
  readonly emulator: RunningEmulator;
  readonly dbPath: string;
  readonly keys: string;
  /** The service's environment for the CLI (SQLite store, emulator, marker secret). */
  readonly env: Record<string, string>;
  /** Opens the store in-process (same file and key ring, or another ring). */
  openStore(keys?: string): Promise<Store>;
  /** Runs the CLI with the world's environment, overridden by `env` (undefined removes a variable). */
  cli(
    args: string[],
    opts?: { env?: Record<string, string | undefined>; input?: string },
  ): Promise<CliResult>;
  /** Token-endpoint calls at the emulator for a grant type. */
  lwaCalls(grant: string): Promise<number>;
  close(): Promise<void>;
}

/** Starts an emulator on a port and prepares a migrated SQLite store in a temporary folder. */
export async function cliWorld(opts: { migrate?: boolean } = {}): Promise<CliWorld> {
  const dir = mkdtempSync(join(tmpdir(), 'spapi-auth-cli-'));
  const emulator = await startEmulator({ port: 0, applications: [APP] });
  const dbPath = join(dir, 'spapi-auth.db');
  const keys = keyEntry('k1');
  const env: Record<string, string> = {
    LWA_CLIENT_ID: APP.clientId,
    LWA_CLIENT_SECRET: CANARY_SECRET,
    SPAPI_APPLICATION_ID: APP.id,
    SPAPI_AUTH_PUBLIC_URL: PUBLIC_URL,
    SPAPI_AUTH_AMAZON_URL: emulator.url,
    SPAPI_AUTH_ENCRYPTION_KEYS: keys,
    DATABASE_URL: `sqlite:${dbPath}`,
  };
  const openStore = (k = keys): Promise<Store> =>
    createSqliteStore({ path: dbPath, keyRing: parseKeyRing(k) });
  if (opts.migrate !== false) await (await openStore()).close();
  return {
    dir,
    emulator,
    dbPath,
    keys,
    env,
    openStore,
    cli: (args, o = {}) =>
      runCli(args, { env: { ...env, ...o.env }, ...(o.input === undefined ? {} : { input: o.input }) }),
    async lwaCalls(grant) {
      const stats = await emulator.emulator.control.stats();
      return Object.values(stats.token[grant] ?? {}).reduce((a, b) => a + b, 0);
    },
    async close() {
      await emulator.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A refresh token for a test seller, from the emulator's consent (auto mode) and code exchange. */
export async function emulatorRefreshToken(world: CliWorld, sellingPartnerId: string): Promise<string> {
  const control = world.emulator.emulator.control;
  await control.consentMode('auto', sellingPartnerId);
  const q = new URLSearchParams({
    application_id: APP.id,
    state: 'cli-test',
    redirect_uri: APP.redirectUris[0]!,
  });
  const res = await fetch(`${world.emulator.url}/apps/authorize/consent?${q}`, { redirect: 'manual' });
  assert.equal(res.status, 302, 'the emulator consents at once in auto mode');
  const code = new URL(res.headers.get('location')!).searchParams.get('spapi_oauth_code')!;
  const t = await exchangeAuthorizationCode(
    { clientId: APP.clientId, clientSecret: CANARY_SECRET },
    { code, redirectUri: APP.redirectUris[0]! },
    { amazonUrl: world.emulator.url },
  );
  return t.refreshToken;
}

/** Stores an authorization the way the callback does (with a real refresh token unless given). */
export async function seedSeller(
  world: CliWorld,
  store: Store,
  seller: {
    id: string;
    region: Region;
    userRef?: string;
    kind?: 'seller' | 'vendor';
    refreshToken?: string;
    marketplace?: string;
  },
): Promise<string> {
  const refreshToken = seller.refreshToken ?? (await emulatorRefreshToken(world, seller.id));
  await store.saveAuthorization({
    sellingPartnerId: seller.id,
    region: seller.region,
    kind: seller.kind ?? 'seller',
    userRef: seller.userRef ?? `user-${seller.id}`,
    marketplace: seller.marketplace ?? (seller.region === 'na' ? 'US' : seller.region === 'eu' ? 'DE' : 'JP'),
    refreshToken,
  });
  return refreshToken;
}

/** Fails when any marker appears in the CLI's output. */
export function assertNoLeak(result: CliResult, markers: readonly string[]): void {
  const text = result.stdout + result.stderr;
  for (const m of markers)
    assert.ok(!text.includes(m), `the CLI output must not contain a secret (${m.slice(0, 8)}…)`);
}

/** Asserts one line on stderr and the exit code, and returns the line. */
export function assertFailure(result: CliResult, code: 1 | 2, pattern: RegExp): string {
  assert.equal(result.code, code, `exit code (stderr: ${result.stderr})`);
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got: ${result.stderr}`);
  assert.match(lines[0]!, pattern);
  return lines[0]!;
}
