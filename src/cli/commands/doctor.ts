// `spapi-auth doctor`: checks the configuration, the store, the key ring and Login with Amazon, one
// line per check with a verdict and, when something is wrong, what to do about it.
import { existsSync } from 'node:fs';
import {
  CONFIGURATION_DOCS,
  ConfigError,
  loadConfig,
  loadStoreConfig,
  type Config,
  type EffectiveSetting,
} from '../../config.js';
import { isSpapiAuthError } from '../../core/errors.js';
import { getGrantlessToken } from '../../core/lwa.js';
import { parseKeyRing, type KeyRing } from '../../storage/crypto.js';
import { keyRingProblem, sampleKeyRing, type KeyRingSample } from '../../storage/key-ring-check.js';
import { StorageError } from '../../storage/errors.js';
import { sqlitePathProblem } from '../../storage/sqlite-file.js';
import type { Store } from '../../storage/store.js';
import { credentialsOf } from '../../server/tokens/gateway.js';
import { openServiceStore } from '../../server/service.js';
import { QUEUE_LEASE, openSqsQueue } from '../../server/ops/notification-queue.js';
import { rotationStatus } from '../../server/ops/secret-rotation.js';
import type { CliContext, Command } from '../command.js';
import { formatTable, printJson } from '../output.js';
import { appCredentials, sqlitePathOf, withCode } from '../runtime.js';
import { printableOnly } from '../../core/printable.js';

const help = `Usage: spapi-auth doctor [--json]

Checks, one line each with a verdict (ok, warn, fail, skip):
  configuration   every required setting present and well-formed (as \`serve\` reads them)
  amazon          where Amazon calls go (Amazon itself, or an emulator via SPAPI_AUTH_AMAZON_URL)
  store           DATABASE_URL reachable and its schema migrated
  key ring        SPAPI_AUTH_ENCRYPTION_KEYS parses and decrypts a sample of stored values
  lwa             Login with Amazon reachable and the client credentials accepted (a grantless
                  token request for sellingpartnerapi::notifications)
  public URLs     redirect URI and Login URI are https (plain http only for local testing)
  clock           skew between this machine and Login with Amazon (its Date header)
  client secret   where the client-secret rotation stands and the next deadline
  notification queue
                  with SPAPI_AUTH_NOTIFICATIONS_QUEUE_URL: the queue readable (GetQueueAttributes,
                  AWS credentials from the standard chain), which instance consumes it, and the
                  notifications kept aside because they could not be applied
Then the effective configuration: every variable read, its value (secrets shown as
[redacted], a PostgreSQL URL without its password, the key ring as its key ids) and where it
came from (environment, file for NAME_FILE, default).
Exits 1 when a check fails, and says what to do. Never prints a secret.

Options:
  --json   print { ok, checks: [{ check, verdict, detail, fix? }],
                   configuration: [{ variable, value, source }] }
  --help   show this help
`;

/** The verdict of one check. */
type Verdict = 'ok' | 'warn' | 'fail' | 'skip';

interface Check {
  readonly check: string;
  readonly verdict: Verdict;
  readonly detail: string;
  readonly fix?: string;
}

const SAMPLE = 50;
const CLOCK_WARN_S = 30;
const CLOCK_FAIL_S = 300;

function describeError(err: unknown): string {
  if (err instanceof StorageError || err instanceof ConfigError || isSpapiAuthError(err)) {
    return withCode(err.message, err.code);
  }
  const e = err as { name?: string; code?: unknown; message?: string };
  const code = typeof e.code === 'string' ? ` ${e.code}` : '';
  return `${e.name ?? 'Error'}${code}: ${printableOnly(e.message ?? '', ' ').slice(0, 160)}`;
}

/** The configuration check, the warnings it raised, and what it read (secrets redacted). */
interface ConfigChecks {
  readonly config: Config | null;
  readonly checks: Check[];
  readonly effective: readonly EffectiveSetting[];
}

function checkConfig(ctx: CliContext): ConfigChecks {
  try {
    const config = loadConfig(ctx.env, { mode: 'serve' });
    // Remarks about values (a misspelt variable, a client id of an odd shape); where Amazon calls
    // go and plain-http public URLs have checks of their own below.
    const remarks = config.warnings.filter(
      (w) => !w.startsWith('SPAPI_AUTH_AMAZON_URL') && !w.startsWith('SPAPI_AUTH_PUBLIC_URL'),
    );
    const checks: Check[] = [
      remarks.length === 0
        ? { check: 'configuration', verdict: 'ok', detail: 'complete and well-formed' }
        : { check: 'configuration', verdict: 'warn', detail: remarks.join('; ') },
    ];
    checks.push(
      config.amazonUrl === undefined
        ? { check: 'amazon', verdict: 'ok', detail: 'calls go to Amazon (LWA and SP-API production hosts)' }
        : {
            check: 'amazon',
            verdict: 'warn',
            detail: `every Amazon call goes to ${config.amazonUrl} (SPAPI_AUTH_AMAZON_URL: an emulator)`,
            fix: 'unset SPAPI_AUTH_AMAZON_URL in production',
          },
    );
    return { config, checks, effective: config.effective };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return {
      config: null,
      effective: err.effective,
      checks: [
        {
          check: 'configuration',
          verdict: 'fail',
          detail: err.message,
          fix: `set ${err.variable} correctly (${CONFIGURATION_DOCS}); the checks that need it are skipped`,
        },
      ],
    };
  }
}

async function checkStore(
  ctx: CliContext,
  databaseUrl: string,
): Promise<{ store: Store | null; check: Check }> {
  const file = sqlitePathOf(databaseUrl, ctx.cwd);
  const unusable = file === undefined ? undefined : sqlitePathProblem(file);
  if (unusable !== undefined) {
    return {
      store: null,
      check: { check: 'store', verdict: 'fail', detail: describeError(unusable) },
    };
  }
  if (file !== undefined && !existsSync(file)) {
    return {
      store: null,
      check: {
        check: 'store',
        verdict: 'fail',
        detail: `no SQLite database at ${file}`,
        fix: 'run `spapi-auth migrate` (or start the service once), or point DATABASE_URL at the database',
      },
    };
  }
  let store: Store | null = null;
  try {
    store = await openServiceStore(databaseUrl, ctx.cwd, null, { migrate: false });
    const pending = await store.pendingMigrations();
    if (pending.length > 0) {
      return {
        store,
        check: {
          check: 'store',
          verdict: 'fail',
          detail: `${store.engine} reachable, ${pending.length} migration(s) pending (${pending.join(', ')})`,
          fix: 'run `spapi-auth migrate`',
        },
      };
    }
    const counts = await store.countSellersByStatus();
    const total = counts.active + counts.reauthorization_required;
    return {
      store,
      check: {
        check: 'store',
        verdict: 'ok',
        detail: `${store.engine} reachable, schema up to date, ${total} seller authorization(s) (${counts.active} active, ${counts.reauthorization_required} need re-authorization)`,
      },
    };
  } catch (err) {
    await store?.close().catch(() => undefined);
    return {
      store: null,
      check: {
        check: 'store',
        verdict: 'fail',
        detail: describeError(err),
        fix: 'check DATABASE_URL and that the database server is up and accepts this user',
      },
    };
  }
}

async function checkKeyRing(value: string | undefined, store: Store | null): Promise<Check> {
  if (value === undefined) {
    return {
      check: 'key ring',
      verdict: 'fail',
      detail: 'SPAPI_AUTH_ENCRYPTION_KEYS is not set',
      fix: 'run `spapi-auth encryption-key generate` and set SPAPI_AUTH_ENCRYPTION_KEYS to its output',
    };
  }
  let ring: KeyRing;
  try {
    ring = parseKeyRing(value);
  } catch (err) {
    return {
      check: 'key ring',
      verdict: 'fail',
      detail: describeError(err),
      fix: 'each entry is kid:<base64 of 32 bytes>; see `spapi-auth encryption-key generate`',
    };
  }
  const kids = `key id(s) ${ring.kids.join(', ')}, ${ring.activeKid} encrypts`;
  if (store === null) return { check: 'key ring', verdict: 'skip', detail: `${kids}; store unavailable` };
  let sample: KeyRingSample;
  try {
    sample = await sampleKeyRing(store, ring, SAMPLE);
  } catch (err) {
    return { check: 'key ring', verdict: 'skip', detail: `${kids}; ${describeError(err)}` };
  }
  if (sample.sampled === 0)
    return { check: 'key ring', verdict: 'ok', detail: `${kids}; nothing stored yet` };
  const problem = keyRingProblem(sample);
  if (problem !== undefined) {
    return {
      check: 'key ring',
      verdict: 'fail',
      detail: `${sample.failed} of ${sample.sampled} sampled values do not decrypt (credential_integrity_error)`,
      fix: problem,
    };
  }
  const { old, sampled } = sample;
  if (old > 0) {
    return {
      check: 'key ring',
      verdict: 'warn',
      detail: `${sampled} sampled values decrypt; ${old} still use an older key`,
      fix: 'run `spapi-auth encryption-key rewrap`',
    };
  }
  return { check: 'key ring', verdict: 'ok', detail: `${kids}; ${sampled} sampled values decrypt` };
}

async function checkLwa(ctx: CliContext, config: Config): Promise<Check[]> {
  // The secrets the service would use (stored ones after an accepted rotation); the store's own
  // problems are reported by the store check.
  const credentials = await appCredentials(ctx, config).catch(() => credentialsOf(config));
  let dateHeader: string | null = null;
  let sentAt = 0;
  let receivedAt = 0;
  const capture = async (req: Request): Promise<Response> => {
    sentAt = Date.now();
    const res = await fetch(req);
    receivedAt = Date.now();
    dateHeader = res.headers.get('date');
    return res;
  };
  const transport = {
    fetch: capture,
    retry: { maxAttempts: 1, timeoutMs: 10_000 },
    ...(config.amazonUrl === undefined ? {} : { amazonUrl: config.amazonUrl }),
  };
  const checks: Check[] = [];
  const started = Date.now();
  try {
    const result = await getGrantlessToken(credentials, 'sellingpartnerapi::notifications', transport);
    checks.push(
      result.clientSecretUsed === 'next'
        ? {
            check: 'lwa',
            verdict: 'warn',
            detail: 'the current client secret was refused; the next one was accepted',
            fix: 'set LWA_CLIENT_SECRET to the secret now in use (or run `spapi-auth secret accept`)',
          }
        : {
            check: 'lwa',
            verdict: 'ok',
            detail: `reachable, client credentials accepted (${Date.now() - started} ms)`,
          },
    );
  } catch (err) {
    const code = isSpapiAuthError(err) ? err.code : 'error';
    checks.push({
      check: 'lwa',
      verdict: 'fail',
      detail: describeError(err),
      fix:
        code === 'invalid_client'
          ? 'check LWA_CLIENT_ID and LWA_CLIENT_SECRET; during a rotation set LWA_CLIENT_SECRET_NEXT or run `spapi-auth secret accept`'
          : code === 'upstream_unavailable'
            ? 'check the network path to Login with Amazon (proxy, firewall, DNS) or SPAPI_AUTH_AMAZON_URL'
            : 'see docs/errors.md for this code',
    });
  }
  checks.push(clockCheck(dateHeader, sentAt, receivedAt));
  return checks;
}

function clockCheck(dateHeader: string | null, sentAt: number, receivedAt: number): Check {
  if (dateHeader === null) {
    return {
      check: 'clock',
      verdict: 'skip',
      detail: 'no Date header from Login with Amazon to compare with',
    };
  }
  const remote = Date.parse(dateHeader);
  if (Number.isNaN(remote)) return { check: 'clock', verdict: 'skip', detail: 'unreadable Date header' };
  // The header has one-second resolution and was stamped somewhere between send and receive.
  const local = (sentAt + receivedAt) / 2;
  const skewMs = local - remote;
  const skewS = Math.abs(skewMs) < 1_000 + (receivedAt - sentAt) / 2 ? 0 : Math.round(skewMs / 1000);
  const detail =
    skewS === 0
      ? 'in step with Login with Amazon (within a second)'
      : `this machine is ${Math.abs(skewS)} s ${skewS > 0 ? 'ahead of' : 'behind'} Login with Amazon`;
  if (Math.abs(skewS) > CLOCK_FAIL_S) {
    return {
      check: 'clock',
      verdict: 'fail',
      detail,
      fix: 'synchronise the clock (NTP): token expiry times are computed from it',
    };
  }
  if (Math.abs(skewS) > CLOCK_WARN_S) {
    return { check: 'clock', verdict: 'warn', detail, fix: 'synchronise the clock (NTP)' };
  }
  return { check: 'clock', verdict: 'ok', detail };
}

const DAY_MS = 86_400_000;

const ROTATION_FIXES: Readonly<Record<string, string>> = {
  rotation_not_enrolled:
    'register the notification queue in Developer Console → Notification Preferences ("Application Client New Secret")',
  rotation_timeout:
    "no new secret reached the queue: check its access policy lets Amazon's principal 437568002678 send",
  rotation_refused:
    'see the audit log (client_secret.rotation_failed); rotate by hand with `spapi-auth secret rotate`',
  rotation_failed: 'Amazon was unreachable or throttled; it is tried again by itself',
};

/** Where the unattended rotation stands (the `secret_rotations` table), and the next deadline. */
async function checkRotation(config: Config, store: Store | null): Promise<Check> {
  if (store === null) return { check: 'client secret', verdict: 'skip', detail: 'store unavailable' };
  const rotations = await store.listSecretRotations(config.lwaClientId, 5).catch(() => null);
  if (rotations === null) {
    return {
      check: 'client secret',
      verdict: 'skip',
      detail: 'the rotation state cannot be read (see store)',
    };
  }
  const { latest, nextDeadlineAt } = rotationStatus(rotations);
  const unattended = config.notificationsQueueUrl !== undefined;
  const by = (t: number): string => new Date(t).toISOString().slice(0, 10);
  if (latest === null) {
    return {
      check: 'client secret',
      verdict: 'ok',
      detail: `no deadline known yet (Amazon's notice comes 90 days before it)${unattended ? '' : '; rotation by hand'}`,
    };
  }
  const next = nextDeadlineAt === null ? 'unknown' : by(nextDeadlineAt);
  const detail = `latest rotation ${latest.state}${latest.lastErrorCode ? ` (${latest.lastErrorCode}, ${latest.attempts} attempt(s))` : ''}; next deadline ${next}`;
  const overdue = nextDeadlineAt !== null && nextDeadlineAt <= Date.now();
  if (overdue) {
    return {
      check: 'client secret',
      verdict: 'fail',
      detail,
      fix: 'the deadline has passed: run `spapi-auth secret rotate` and install the new secret',
    };
  }
  if (latest.state === 'failed') {
    return {
      check: 'client secret',
      verdict: 'warn',
      detail: `${detail}; next try ${latest.retryAt === null ? '—' : new Date(latest.retryAt).toISOString()}`,
      fix:
        ROTATION_FIXES[latest.lastErrorCode ?? ''] ??
        'see docs/operations.md, "Unattended client-secret rotation"',
    };
  }
  if (
    !unattended &&
    nextDeadlineAt !== null &&
    nextDeadlineAt - Date.now() < 14 * DAY_MS &&
    latest.state === 'due'
  ) {
    return {
      check: 'client secret',
      verdict: 'warn',
      detail,
      fix: 'rotate now: `spapi-auth secret rotate` (or set SPAPI_AUTH_NOTIFICATIONS_QUEUE_URL to rotate unattended)',
    };
  }
  return { check: 'client secret', verdict: 'ok', detail };
}

/** The notification queue: readable with the service's AWS credentials, who consumes it, what was kept aside. */
async function checkQueue(config: Config, store: Store | null): Promise<Check> {
  const url = config.notificationsQueueUrl;
  if (url === undefined) {
    return {
      check: 'notification queue',
      verdict: 'skip',
      detail:
        'SPAPI_AUTH_NOTIFICATIONS_QUEUE_URL not set (client-secret notifications by POST /v1/notifications)',
    };
  }
  let counts: { visible: number; inFlight: number };
  try {
    const queue = await openSqsQueue(url);
    try {
      counts = await Promise.race([
        queue.attributes(),
        new Promise<never>((_, reject) =>
          setTimeout(
            () => reject(Object.assign(new Error('no answer in 10 s'), { name: 'TimeoutError' })),
            10_000,
          ).unref(),
        ),
      ]);
    } finally {
      queue.close();
    }
  } catch (err) {
    return {
      check: 'notification queue',
      verdict: 'fail',
      detail: `cannot read ${url} (queue_unreachable): ${describeError(err)}`,
      fix: 'check the AWS credentials and region the service runs with, and that they may sqs:GetQueueAttributes and sqs:ReceiveMessage on the queue',
    };
  }
  const lease = store === null ? null : await store.readClusterLease(QUEUE_LEASE).catch(() => null);
  const aside = store === null ? 0 : await store.countNotificationsAside().catch(() => 0);
  const consumer =
    lease !== null && lease.expiresAt > Date.now()
      ? `consumed by ${lease.owner}`
      : 'no instance consuming it now';
  const detail = `reachable, ${counts.visible} waiting, ${counts.inFlight} in flight; ${consumer}; ${aside} kept aside`;
  if (aside > 0) {
    return {
      check: 'notification queue',
      verdict: 'warn',
      detail,
      fix: 'see the notifications kept aside on the dashboard (docs/operations.md, "Unattended client-secret rotation")',
    };
  }
  return { check: 'notification queue', verdict: 'ok', detail };
}

function checkPublicUrls(config: Config): Check {
  const uris = `${config.redirectUri} and ${config.loginUri}`;
  if (config.publicUrl.startsWith('https:'))
    return { check: 'public URLs', verdict: 'ok', detail: `https: ${uris}` };
  return {
    check: 'public URLs',
    verdict: 'warn',
    detail: `plain http: ${uris} (local testing only)`,
    fix: 'set SPAPI_AUTH_PUBLIC_URL to the https origin registered with the app before going live',
  };
}

async function run({ values }: { values: Record<string, unknown> }, ctx: CliContext): Promise<number> {
  const { config, checks, effective } = checkConfig(ctx);
  let databaseUrl: string | undefined = config?.databaseUrl;
  let keys: string | undefined = config?.encryptionKeys;
  if (config === null) {
    try {
      const settings = loadStoreConfig(ctx.env);
      databaseUrl = settings.databaseUrl;
      keys = settings.encryptionKeys;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
    }
  }
  let store: Store | null = null;
  // Read while the store is open, listed last.
  const rotationChecks: Check[] = [];
  try {
    if (databaseUrl === undefined) {
      checks.push({ check: 'store', verdict: 'skip', detail: 'DATABASE_URL is malformed' });
    } else {
      const s = await checkStore(ctx, databaseUrl);
      store = s.store;
      checks.push(s.check);
    }
    checks.push(await checkKeyRing(keys, store));
    if (config !== null)
      rotationChecks.push(await checkRotation(config, store), await checkQueue(config, store));
  } finally {
    await store?.close().catch(() => undefined);
  }
  if (config === null) {
    for (const check of ['lwa', 'public URLs', 'clock', 'client secret', 'notification queue']) {
      checks.push({ check, verdict: 'skip', detail: 'needs a valid configuration' });
    }
  } else {
    const [lwa, clock] = await checkLwa(ctx, config);
    checks.push(lwa!, checkPublicUrls(config), clock!, ...rotationChecks);
  }
  const failed = checks.filter((c) => c.verdict === 'fail');
  if (values.json) {
    printJson(ctx, { ok: failed.length === 0, checks, configuration: effective });
  } else {
    ctx.stdout(
      formatTable(
        ['VERDICT', 'CHECK', 'DETAIL'],
        checks.map((c) => [c.verdict, c.check, c.fix === undefined ? c.detail : `${c.detail} → ${c.fix}`]),
      ),
    );
    ctx.stdout('\nEffective configuration (secrets redacted):\n');
    ctx.stdout(
      formatTable(
        ['VARIABLE', 'VALUE', 'FROM'],
        effective.map((s) => [s.variable, s.value, s.source]),
      ),
    );
  }
  if (failed.length > 0) {
    ctx.stderr(
      `spapi-auth doctor: ${failed.length} check(s) failed: ${failed.map((c) => c.check).join(', ')}\n`,
    );
    return 1;
  }
  return 0;
}

/**
 * `spapi-auth doctor`. Registered in `commands/index.ts`.
 *
 * @example
 * ```sh
 * spapi-auth doctor --json | jq .ok
 * ```
 */
export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'check configuration, store, key ring, Login with Amazon and the clock',
  help,
  options: { json: { type: 'boolean' } },
  run,
};
