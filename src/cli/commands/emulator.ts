// `spapi-auth emulator`: the offline Amazon alone, on a port.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { CliError, UsageError, type CliContext, type Command } from '../command.js';
import {
  DEV_APPLICATION,
  DEV_CLIENT_SECRET,
  DEFAULT_NOTIFICATION_QUEUE,
  parseApplication,
  queueUrl,
  startEmulator,
  type EmulatorApplication,
  type EmulatorOptions,
} from '../../emulator/index.js';
import { EmulatorStateFileError } from '../../emulator/state-file.js';
import { untilSignal } from './serve.js';

const help = `Usage: spapi-auth emulator [options]

The offline Amazon: Seller Central consent pages, the Appstore hop, the LWA token endpoint
(/auth/o2/token), a slice of SP-API and the control API (/__emulator/). See src/emulator/README.md.
Without application flags it registers the built-in dev application that \`spapi-auth dev\` uses.

Options:
  --port N               port to listen on (default 4010; 0 picks a free one)
  --host H               address to listen on (default 127.0.0.1)
  --latency-ms N         delay added to every LWA token response (default 0)
  --token-ttl S          access-token lifetime, expires_in (default 3600)
  --application-id ID    register this SP-API application id (amzn1.sp.solution.…)
  --client-id ID         its LWA client id
  --client-secret S      its LWA client secret
  --redirect-uri URI     a registered redirect URI (repeatable; the first is the default)
  --login-uri URI        its OAuth Login URI (Appstore workflow)
  --draft                the application is a Draft (consent needs version=beta)
  --notification-queue Q the SQS queue its notifications go to (default spapi-auth-notifications;
                         "none": not enrolled, so rotating its secret answers 400 InvalidInput)
  --config FILE          JSON: one application, or { "applications": [...], "sellers": [...] }
  --state FILE           keep the emulator's state in FILE across restarts: issued tokens and
                         codes, grants and revocations, client-secret rotations, the clock offset,
                         queued notifications, counters. Written (mode 0600, atomically) within a
                         quarter second of each change and on stop. An unusable file is moved
                         aside to FILE.unreadable-<time> and the emulator starts fresh.
  --help                 show this help
`;

function integer(value: unknown, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer between ${min} and ${max}`);
  }
  return n;
}

async function readConfig(
  path: string,
  cwd: string,
): Promise<Pick<EmulatorOptions, 'applications' | 'sellers'>> {
  let text: string;
  try {
    text = await readFile(resolve(cwd, path), 'utf8');
  } catch (err) {
    throw new CliError(
      `cannot read --config file ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new CliError(`--config file ${path} is not valid JSON`);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new CliError(`--config file ${path} must hold a JSON object`);
  }
  const obj = data as Record<string, unknown>;
  try {
    const list = 'applications' in obj ? obj.applications : [obj];
    if (!Array.isArray(list) || list.length === 0) throw new Error('applications must be a non-empty array');
    const applications = list.map((a: unknown) => {
      if (a === null || typeof a !== 'object' || Array.isArray(a))
        throw new Error('each application must be an object');
      return parseApplication(a as Record<string, unknown>);
    });
    if (obj.sellers === undefined) return { applications };
    if (!Array.isArray(obj.sellers)) throw new Error('sellers must be an array');
    return { applications, sellers: obj.sellers as EmulatorOptions['sellers'] };
  } catch (err) {
    throw new CliError(`--config file ${path}: ${(err as Error).message}`);
  }
}

function flagApplication(values: Record<string, unknown>): EmulatorApplication | undefined {
  const id = values['application-id'] as string | undefined;
  const clientId = values['client-id'] as string | undefined;
  const secret = values['client-secret'] as string | undefined;
  const redirects = (values['redirect-uri'] as string[] | undefined) ?? [];
  const loginUri = values['login-uri'] as string | undefined;
  const queue = values['notification-queue'] as string | undefined;
  const any =
    id ?? clientId ?? secret ?? loginUri ?? redirects[0] ?? queue ?? (values.draft ? 'draft' : undefined);
  if (any === undefined) return undefined;
  if (id === undefined || clientId === undefined || secret === undefined || redirects.length === 0) {
    throw new UsageError('--application-id, --client-id, --client-secret and --redirect-uri go together');
  }
  try {
    return parseApplication({
      id,
      name: id,
      client_id: clientId,
      client_secret: secret,
      redirect_uris: redirects,
      ...(loginUri === undefined ? {} : { login_uri: loginUri }),
      draft: values.draft === true,
      ...(queue === undefined ? {} : { notification_queue: queue === 'none' ? null : queue }),
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function describe(app: EmulatorApplication, origin: string): string {
  const queue = app.notificationQueue === undefined ? DEFAULT_NOTIFICATION_QUEUE : app.notificationQueue;
  const dev = app.clientId === DEV_APPLICATION.clientId && app.clientSecret === DEV_CLIENT_SECRET;
  return [
    `  application ${app.id}${app.draft ? ' (draft)' : ''}`,
    `    client id      ${app.clientId}`,
    dev
      ? `    client secret  ${DEV_CLIENT_SECRET}  (the public dev secret; it only opens the emulator)`
      : '    client secret  (as configured; not shown)',
    ...app.redirectUris.map((u, i) => `    redirect URI   ${u}${i === 0 ? ' (default)' : ''}`),
    ...(app.loginUri === undefined ? [] : [`    login URI      ${app.loginUri}`]),
    `    SQS queue      ${queue === null ? '(none: not enrolled for rotation)' : queueUrl(origin, queue)}`,
  ].join('\n');
}

async function run({ values }: { values: Record<string, unknown> }, ctx: CliContext): Promise<number> {
  const port = integer(values.port, 'port', 0, 65535) ?? 4010;
  const latencyMs = integer(values['latency-ms'], 'latency-ms', 0, 600_000) ?? 0;
  const tokenTtlS = integer(values['token-ttl'], 'token-ttl', 1, 86_400 * 365) ?? 3600;
  const fromFlags = flagApplication(values);
  const config = typeof values.config === 'string' ? await readConfig(values.config, ctx.cwd) : {};
  const applications = [...(config.applications ?? []), ...(fromFlags ? [fromFlags] : [])];
  const host = (values.host as string | undefined) ?? '127.0.0.1';
  const stateFile = typeof values.state === 'string' ? resolve(ctx.cwd, values.state) : undefined;
  let running;
  try {
    running = await startEmulator({
      ...(stateFile === undefined
        ? {}
        : {
            stateFile,
            onStateWriteError: (err: Error) =>
              ctx.stderr(`spapi-auth emulator: warning: cannot write ${stateFile} (${err.message})\n`),
          }),
      port,
      host,
      latencyMs,
      tokenTtlS,
      applications: applications.length > 0 ? applications : [DEV_APPLICATION],
      ...(config.sellers ? { sellers: config.sellers } : {}),
    });
  } catch (err) {
    if (err instanceof EmulatorStateFileError) throw new CliError(err.message);
    throw new CliError(
      `cannot listen on ${host}:${port} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  const shown = applications.length > 0 ? applications : [DEV_APPLICATION];
  const aside = running.stateFile?.setAside;
  if (aside !== undefined) {
    ctx.stderr(
      `spapi-auth emulator: warning: ${running.stateFile!.path} could not be used (${aside.reason}); moved it to ${aside.path} ` +
        'and started with a fresh state: the tokens issued before are unknown now\n',
    );
  }
  ctx.stdout(
    [
      `spapi-auth emulator listening on ${running.url}`,
      ...shown.map((app) => describe(app, running.url)),
      ...(running.stateFile === undefined
        ? []
        : [
            `  state          ${running.stateFile.path} (${running.stateFile.restored ? 'continued from the previous run' : 'new'})`,
          ]),
      `  control API    ${running.url}/__emulator/  (stats, reset, faults, clock, revoke, consent, notifications)`,
      '',
    ].join('\n'),
  );
  await untilSignal();
  await running.close();
  ctx.stdout('spapi-auth emulator stopped\n');
  return 0;
}

/** `spapi-auth emulator`. */
export const emulatorCommand: Command = {
  name: 'emulator',
  summary: 'run the offline Amazon (consent, LWA, SP-API slice, control API) on a port',
  help,
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    'latency-ms': { type: 'string' },
    'token-ttl': { type: 'string' },
    'application-id': { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'redirect-uri': { type: 'string', multiple: true },
    'login-uri': { type: 'string' },
    draft: { type: 'boolean' },
    'notification-queue': { type: 'string' },
    config: { type: 'string' },
    state: { type: 'string' },
  },
  run,
};
