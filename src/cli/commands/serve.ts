// `spapi-auth serve`: the service, configured by the environment, until SIGTERM/SIGINT.
import { existsSync } from 'node:fs';
import { ConfigError, loadConfig, scrubSecretsFromEnv, type Config } from '../../config.js';
import { createLogger } from '../../server/http/log.js';
import { keyRingOf, openServiceStore, startService, type Service } from '../../server/service.js';
import { armFaultPoint } from '../../server/flows/fault-points.js';
import type { KeyRing } from '../../storage/crypto.js';
import { StorageError } from '../../storage/errors.js';
import { keyRingProblem, sampleKeyRing } from '../../storage/key-ring-check.js';
import type { Store } from '../../storage/store.js';
import { CliError, type CliContext, type Command } from '../command.js';
import { sqlitePathOf } from '../runtime.js';

const help = `Usage: spapi-auth serve

Runs the service (connect flows, token API) configured by the environment: LWA_CLIENT_ID,
LWA_CLIENT_SECRET, SPAPI_APPLICATION_ID, SPAPI_AUTH_PUBLIC_URL, SPAPI_AUTH_ENCRYPTION_KEYS,
DATABASE_URL, … (see docs/deployment.md). Prints the URL it listens on, logs JSON lines to stdout,
and stops cleanly on SIGTERM or SIGINT: no new connections, in-flight requests finish.

Options:
  --help   show this help
`;

/**
 * Turns a configuration, store or listen error into a one-line CLI failure (never a value);
 * `listen` names the address a failed listen was for.
 */
export function configFailure(err: unknown, listen?: { host: string; port: number }): Error {
  if (err instanceof ConfigError) return new CliError(`configuration: ${err.message}`);
  if (err instanceof StorageError) return new CliError(`${err.code}: ${err.message}`);
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  // Only a failed listen is about the port: a store's EACCES is a file's (said by the storage layer).
  if (listen === undefined) return err as Error;
  const where = `port ${listen.port} on ${listen.host}`;
  if (code === 'EADDRINUSE')
    return new CliError(`${where} is already in use (set PORT, or stop the other process)`);
  if (code === 'EACCES') return new CliError(`not allowed to listen on ${where} (set PORT above 1023)`);
  return err as Error;
}

/**
 * The SQLite file `databaseUrl` names when it does not exist yet (opening the store will create
 * it), else undefined. Outside `dev` a new file is said: a mistyped path would otherwise start an
 * empty service with no seller.
 */
export function newSqliteFile(databaseUrl: string, cwd: string): string | undefined {
  const file = sqlitePathOf(databaseUrl, cwd);
  return file !== undefined && !existsSync(file) ? file : undefined;
}

/**
 * Samples the stored values with the ring: a kid that decrypts none of its values (the wrong key)
 * or a kid the values use that the ring lacks stops start-up, since every seller would be answered
 * with an error; a few altered values only warn (the other sellers are served).
 */
async function refuseUnfitKeyRing(store: Store, ring: KeyRing | null, ctx: CliContext): Promise<void> {
  if (ring === null) return;
  const sample = await sampleKeyRing(store, ring).catch(() => null);
  const problem = sample === null ? undefined : keyRingProblem(sample);
  if (sample === null || problem === undefined) return;
  if (sample.wrongKids.length === 0 && sample.missingKids.length === 0) {
    ctx.stderr(`spapi-auth serve: warning: ${problem}\n`);
    return;
  }
  await store.close().catch(() => undefined);
  throw new CliError(`the key ring does not fit the stored values: ${problem} (invalid_encryption_keys)`);
}

/** Resolves when the process is told to stop (SIGTERM or SIGINT). */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals): void => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(sig);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}

/** Waits for a signal, then stops the service gracefully and reports it. */
export async function serveUntilSignal(service: Service, ctx: CliContext): Promise<number> {
  const sig = await untilSignal();
  ctx.stderr(`spapi-auth: ${sig} received, finishing in-flight requests…\n`);
  await service.close();
  ctx.stderr('spapi-auth: stopped\n');
  return 0;
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the service (connect flows and token API), configured by the environment',
  help,
  options: {},
  async run(_args, ctx) {
    let config: Config;
    try {
      config = loadConfig(ctx.env, { mode: 'serve' });
    } catch (err) {
      throw configFailure(err);
    }
    for (const w of config.warnings) ctx.stderr(`spapi-auth serve: warning: ${w}\n`);
    const log = createLogger({ sink: ctx.stdout, level: 'info' });
    let service: Service;
    const created = newSqliteFile(config.databaseUrl, ctx.cwd);
    let opened: Awaited<ReturnType<typeof openServiceStore>>;
    const ring = keyRingOf(config);
    try {
      opened = await openServiceStore(config.databaseUrl, ctx.cwd, ring);
    } catch (err) {
      throw configFailure(err);
    }
    await refuseUnfitKeyRing(opened, ring, ctx);
    try {
      if (created !== undefined) {
        ctx.stderr(
          `spapi-auth serve: created a new, empty SQLite database at ${created} (DATABASE_URL); if sellers were expected, check the path\n`,
        );
      }
      // Test-only crash hook; a no-op unless SPAPI_AUTH_FAULT_POINT is set (refused in production).
      const { store, fetch } = armFaultPoint(config.faultPoint, opened);
      service = await startService(config, { store, log, ...(fetch ? { fetch } : {}) });
    } catch (err) {
      throw configFailure(err, config);
    }
    // Children and crash reporters must not inherit the secrets.
    scrubSecretsFromEnv(ctx.env);
    ctx.stdout(`spapi-auth serve: listening on ${service.server.url} (public URL ${config.publicUrl})\n`);
    return serveUntilSignal(service, ctx);
  },
};
