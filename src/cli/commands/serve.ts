// `spapi-auth serve`: the service, configured by the environment, until SIGTERM/SIGINT.
import { ConfigError, loadConfig, scrubSecretsFromEnv, type Config } from '../../config.js';
import { createLogger } from '../../server/http/log.js';
import { keyRingOf, openServiceStore, startService, type Service } from '../../server/service.js';
import { armFaultPoint } from '../../server/flows/fault-points.js';
import { StorageError } from '../../storage/errors.js';
import { CliError, type CliContext, type Command } from '../command.js';

const help = `Usage: spapi-auth serve

Runs the service (connect flows, token API) configured by the environment: LWA_CLIENT_ID,
LWA_CLIENT_SECRET, SPAPI_APPLICATION_ID, SPAPI_AUTH_PUBLIC_URL, SPAPI_AUTH_ENCRYPTION_KEYS,
DATABASE_URL, … (see docs/deployment.md). Prints the URL it listens on, logs JSON lines to stdout,
and stops cleanly on SIGTERM or SIGINT: no new connections, in-flight requests finish.

Options:
  --help   show this help
`;

/** Turns a configuration or store error into a one-line CLI failure (never a value). */
export function configFailure(err: unknown): Error {
  if (err instanceof ConfigError) return new CliError(`configuration: ${err.message}`);
  if (err instanceof StorageError) return new CliError(`${err.code}: ${err.message}`);
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE')
    return new CliError('the port is already in use (set PORT, or stop the other process)');
  if (code === 'EACCES') return new CliError('not allowed to listen on that port (set PORT above 1023)');
  return err as Error;
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
    try {
      const opened = await openServiceStore(config.databaseUrl, ctx.cwd, keyRingOf(config));
      // Test-only crash hook; a no-op unless SPAPI_AUTH_FAULT_POINT is set (refused in production).
      const { store, fetch } = armFaultPoint(config.faultPoint, opened);
      service = await startService({ config, store, log, ...(fetch ? { fetch } : {}) });
    } catch (err) {
      throw configFailure(err);
    }
    // Children and crash reporters must not inherit the secrets.
    scrubSecretsFromEnv(ctx.env);
    ctx.stdout(`spapi-auth serve: listening on ${service.server.url} (public URL ${config.publicUrl})\n`);
    return serveUntilSignal(service, ctx);
  },
};
