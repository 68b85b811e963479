/**
 * What the store- and Amazon-facing CLI commands share: the service's own configuration module
 * (`src/config.ts`) and store opener (`openServiceStore`), with their failures turned into one-line
 * {@link CliError}s that name the variable at fault and never its value, plus argument checks.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { sqlitePathProblem } from '../storage/sqlite-file.js';
import { ConfigError, loadConfig, loadStoreConfig, type Config, type StoreConfig } from '../config.js';
import { isSpapiAuthError } from '../core/errors.js';
import { isRegion, type Region } from '../core/marketplaces.js';
import { parseKeyRing, type KeyRing } from '../storage/crypto.js';
import { StorageError } from '../storage/errors.js';
import type { Store } from '../storage/store.js';
import type { LwaCredentials } from '../core/lwa.js';
import { credentialsOf } from '../server/tokens/gateway.js';
import { silentLogger } from '../server/http/log.js';
import { ClientSecretRing } from '../server/ops/rotation.js';
import { openServiceStore } from '../server/service.js';
import { SELLING_PARTNER_ID_RE } from '../core/consent.js';
import { CliError, UsageError, type CliContext } from './command.js';
import { printableOnly } from '../core/printable.js';

function configFailure(err: unknown): never {
  if (err instanceof ConfigError) throw new CliError(`configuration: ${err.message} (${err.code})`);
  throw err;
}

/**
 * The service's configuration, read from the command's environment exactly as `serve` reads it.
 *
 * @example
 * ```ts
 * const config = loadCliConfig(ctx); // throws CliError 'configuration: LWA_CLIENT_ID: is required (serve) (invalid_config)'
 * ```
 */
export function loadCliConfig(ctx: Pick<CliContext, 'env'>): Config {
  try {
    return loadConfig(ctx.env, { mode: 'serve' });
  } catch (err) {
    return configFailure(err);
  }
}

/**
 * Only `DATABASE_URL` and `SPAPI_AUTH_ENCRYPTION_KEYS`, for commands that touch the store alone.
 *
 * @example
 * ```ts
 * const { databaseUrl } = loadCliStoreConfig(ctx);
 * ```
 */
export function loadCliStoreConfig(ctx: Pick<CliContext, 'env'>): StoreConfig {
  try {
    return loadStoreConfig(ctx.env);
  } catch (err) {
    return configFailure(err);
  }
}

/**
 * Parses the configured key ring; `required` turns its absence into a failure naming the variable.
 * A malformed ring is a one-line failure naming the variable and the entry, never its value.
 *
 * @example
 * ```ts
 * const ring = cliKeyRing(settings.encryptionKeys, true);
 * ```
 */
export function cliKeyRing(value: string | undefined, required: true): KeyRing;
export function cliKeyRing(value: string | undefined, required: boolean): KeyRing | null;
export function cliKeyRing(value: string | undefined, required: boolean): KeyRing | null {
  if (value === undefined) {
    if (required) {
      throw new CliError(
        'configuration: SPAPI_AUTH_ENCRYPTION_KEYS: is required for this command (invalid_config)',
      );
    }
    return null;
  }
  try {
    return parseKeyRing(value);
  } catch (err) {
    if (err instanceof StorageError) throw new CliError(`configuration: ${err.message} (${err.code})`);
    throw err;
  }
}

/**
 * The file a `sqlite:` URL names, resolved against `cwd`, or undefined for other engines.
 *
 * @example
 * ```ts
 * sqlitePathOf('sqlite:./data/spapi-auth.db', '/srv/app'); // '/srv/app/data/spapi-auth.db'
 * ```
 */
export function sqlitePathOf(databaseUrl: string, cwd: string): string | undefined {
  if (!databaseUrl.startsWith('sqlite:')) return undefined;
  const path = databaseUrl.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
  if (path === ':memory:') return undefined;
  return isAbsolute(path) ? path : resolve(cwd, path);
}

/**
 * A storage failure as one line with its stable code; other errors pass through.
 *
 * @example
 * ```ts
 * try { … } catch (err) { throw storeFailure(err); }
 * ```
 */
export function storeFailure(err: unknown): unknown {
  if (err instanceof StorageError) {
    const hint =
      err.code === 'credential_integrity_error'
        ? ': a wrong key under a key id in SPAPI_AUTH_ENCRYPTION_KEYS (not the one that wrote the value) or a missing key id fails the same way as an altered value; `spapi-auth doctor` samples the stored values and tells which'
        : '';
    return new CliError(`${err.message.replace(/\.$/, '')} (${err.code})${hint}`);
  }
  return err;
}

/**
 * Opens the configured store without changing it: a missing SQLite file or a schema that is not
 * migrated is a failure (run `spapi-auth migrate`), never a silently created database.
 *
 * @example
 * ```ts
 * const store = await openCliStore(ctx, loadCliStoreConfig(ctx), null);
 * try { … } finally { await store.close(); }
 * ```
 */
export async function openCliStore(
  ctx: Pick<CliContext, 'cwd'>,
  settings: Pick<StoreConfig, 'databaseUrl'>,
  keyRing: KeyRing | null,
): Promise<Store> {
  const file = sqlitePathOf(settings.databaseUrl, ctx.cwd);
  const unusable = file === undefined ? undefined : sqlitePathProblem(file);
  if (unusable !== undefined) throw storeFailure(unusable);
  if (file !== undefined && !existsSync(file)) {
    throw new CliError(
      `no database at ${file} (DATABASE_URL): start the service or run \`spapi-auth migrate\` first`,
    );
  }
  let store: Store;
  try {
    store = await openServiceStore(settings.databaseUrl, ctx.cwd, keyRing, { migrate: false });
  } catch (err) {
    throw storeFailure(err);
  }
  try {
    const pending = await store.pendingMigrations();
    if (pending.length > 0) {
      throw new CliError(
        `the store is not migrated (${pending.length} pending): run \`spapi-auth migrate\` first`,
      );
    }
  } catch (err) {
    await store.close().catch(() => undefined);
    throw storeFailure(err);
  }
  return store;
}

/**
 * Opens the store, runs `fn`, and closes the store whatever happens.
 *
 * @example
 * ```ts
 * const n = await withStore(ctx, settings, null, (store) => store.countSellersByStatus());
 * ```
 */
export async function withStore<T>(
  ctx: Pick<CliContext, 'cwd'>,
  settings: Pick<StoreConfig, 'databaseUrl'>,
  keyRing: KeyRing | null,
  fn: (store: Store) => Promise<T>,
): Promise<T> {
  const store = await openCliStore(ctx, settings, keyRing);
  try {
    return await fn(store);
  } catch (err) {
    throw storeFailure(err);
  } finally {
    await store.close().catch(() => undefined);
  }
}

/**
 * A whole-number flag within bounds, or undefined when absent.
 *
 * @example
 * ```ts
 * const batchSize = integerFlag(values['batch-size'], 'batch-size', 1, 10_000) ?? 500;
 * ```
 */
export function integerFlag(value: unknown, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d{1,9}$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}`);
  }
  return Number(value);
}

/**
 * `--region`, checked; undefined when absent.
 *
 * @example
 * ```ts
 * const region = regionFlag(values.region) ?? 'na';
 * ```
 */
export function regionFlag(value: unknown): Region | undefined {
  if (value === undefined) return undefined;
  if (!isRegion(value)) throw new UsageError('--region must be na, eu or fe');
  return value;
}

/**
 * The one positional argument a command takes (a seller id, a file), or a usage error.
 *
 * @example
 * ```ts
 * const id = sellerIdArg(positionals, 'sellers show <seller-id>');
 * ```
 */
export function singleArg(positionals: readonly string[], what: string): string {
  if (positionals.length === 0) throw new UsageError(`missing argument ${what}`);
  if (positionals.length > 1) throw new UsageError(`unexpected argument '${clip(positionals[1]!)}'`);
  return positionals[0]!;
}

/**
 * A selling partner id argument, checked with the service's own rule before any store work.
 *
 * @example
 * ```ts
 * const id = sellerIdArg(positionals); // 'A3FHEXAMPLEYWS', or a UsageError (exit 2)
 * ```
 */
export function sellerIdArg(positionals: readonly string[]): string {
  const id = singleArg(positionals, '<seller-id>');
  if (!SELLING_PARTNER_ID_RE.test(id))
    throw new UsageError('the selling partner id is malformed (invalid_seller_id)');
  return id;
}

/**
 * Shortens a user-supplied value (and masks control characters) before echoing it in a message.
 *
 * @example
 * ```ts
 * throw new UsageError(`unknown marketplace '${clip(code)}'`);
 * ```
 */
export function clip(text: string): string {
  const printable = printableOnly(text);
  return printable.length > 40 ? `${printable.slice(0, 40)}…` : printable;
}

/**
 * Splits `<sub> [args…]` for commands with subcommands, and refuses flags that belong to another
 * subcommand (`parseArgs` only knows the union of them).
 *
 * @example
 * ```ts
 * const { sub, rest } = subcommand(args, { list: ['status', 'json'], show: ['json'] });
 * ```
 */
export function subcommand<S extends string>(
  args: { values: Record<string, unknown>; positionals: string[] },
  flags: Readonly<Record<S, readonly string[]>>,
): { sub: S; rest: string[] } {
  const [sub, ...rest] = args.positionals;
  const names = Object.keys(flags) as S[];
  if (sub === undefined) throw new UsageError(`missing subcommand (${names.join(', ')})`);
  if (!names.includes(sub as S))
    throw new UsageError(`unknown subcommand '${clip(sub)}' (${names.join(', ')})`);
  const allowed = flags[sub as S];
  for (const flag of Object.keys(args.values)) {
    if (!allowed.includes(flag)) throw new UsageError(`option --${flag} does not apply to '${sub}'`);
  }
  return { sub: sub as S, rest };
}

const LWA_HINTS: Readonly<Record<string, string>> = {
  invalid_client: 'check LWA_CLIENT_ID and LWA_CLIENT_SECRET (and LWA_CLIENT_SECRET_NEXT during a rotation)',
  upstream_unavailable: 'is Login with Amazon (or SPAPI_AUTH_AMAZON_URL) reachable from here?',
  rate_limited: 'try again in a minute',
  invalid_scope: 'the application may lack the role or the scope',
};

/**
 * A core error (LWA, SP-API) as one line with its stable code and what to check; others pass through.
 *
 * @example
 * ```ts
 * try { await getGrantlessToken(credentials, scope, transport); } catch (err) { throw amazonFailure(err); }
 * ```
 */
export function amazonFailure(err: unknown): unknown {
  if (isSpapiAuthError(err)) {
    const hint = LWA_HINTS[err.code];
    return new CliError(`${withCode(err.message, err.code)}${hint === undefined ? '' : `: ${hint}`}`);
  }
  return err;
}

/**
 * The LWA credentials the service would use now: the configured secrets, or — once a rotation was
 * accepted — the stored ones (`ClientSecretRing` over the store). Falls back to the configured ones
 * when there is no database yet.
 *
 * @example
 * ```ts
 * const credentials = await appCredentials(ctx, config);
 * ```
 */
export async function appCredentials(ctx: Pick<CliContext, 'cwd'>, config: Config): Promise<LwaCredentials> {
  const file = sqlitePathOf(config.databaseUrl, ctx.cwd);
  if (config.encryptionKeys === undefined || (file !== undefined && !existsSync(file))) {
    return credentialsOf(config);
  }
  return withStore(ctx, config, cliKeyRing(config.encryptionKeys, true), async (store) =>
    (await loadSecretRing(config, store)).credentials(),
  );
}

/**
 * The app's client-secret ring over the store, loaded: the configured secrets plus those accepted
 * from rotation notifications — what the service's token source is given.
 *
 * @example
 * ```ts
 * const ring = await loadSecretRing(config, store);
 * const tokens = createTokenSource({ config, store, log, credentials: () => ring.credentials() });
 * ```
 */
export async function loadSecretRing(config: Config, store: Store): Promise<ClientSecretRing> {
  const ring = new ClientSecretRing({ config, store, log: silentLogger });
  await ring.reload();
  return ring;
}

/**
 * A message followed by its stable code in parentheses, unless the message already ends with it.
 *
 * @example
 * ```ts
 * withCode('LWA rejected the client credentials (invalid_client)', 'invalid_client'); // unchanged
 * ```
 */
export function withCode(message: string, code: string): string {
  const m = message.replace(/\.$/, '');
  return m.endsWith(`(${code})`) ? m : `${m} (${code})`;
}
