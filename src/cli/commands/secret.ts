// `spapi-auth secret rotate|accept`: the 180-day LWA client-secret rotation (amazon.md §8).
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { amazonEndpoint, readCappedText } from '../../core/http.js';
import { getGrantlessToken } from '../../core/lwa.js';
import { spapiEndpoint } from '../../core/marketplaces.js';
import type { Config } from '../../config.js';
import { credentialsOf } from '../../server/amazon.js';
import { CliError, UsageError, type CliContext, type Command } from '../command.js';
import { formatFields, printJson } from '../output.js';
import {
  amazonFailure,
  clip,
  cliKeyRing,
  loadCliConfig,
  regionFlag,
  singleArg,
  subcommand,
  withStore,
} from '../runtime.js';

const help = `Usage: spapi-auth secret rotate [--region na|eu|fe] [--json]
       spapi-auth secret accept <notification.json> [--json]

Amazon requires the LWA client secret to be rotated every 180 days.

  rotate   asks Amazon for a new client secret (Application Management API,
           POST /applications/2023-11-30/clientSecret, with a grantless token of scope
           sellingpartnerapi::client_credential:rotation). Amazon does not answer with the secret:
           it sends it in an APPLICATION_OAUTH_CLIENT_NEW_SECRET notification to the SQS queue
           registered in Developer Console → Notification Preferences → "Application Client New
           Secret". The current secret keeps working for 7 days.
  accept   installs the new secret from that notification's JSON (the SQS message body, or the
           whole SQS message / Lambda event holding it), exactly as POST /v1/notifications does:
           stored encrypted, used from now on, the old one kept until it expires.

Uses the service's configuration (LWA_CLIENT_ID, LWA_CLIENT_SECRET, SPAPI_AUTH_AMAZON_URL for the
emulator, DATABASE_URL and SPAPI_AUTH_ENCRYPTION_KEYS for accept). Never prints a secret.

Options:
  --region R   the SP-API endpoint to call for rotate (default na; any region rotates the app)
  --json       print one JSON document
  --help       show this help
`;

const ROTATION_SCOPE = 'sellingpartnerapi::client_credential:rotation';
const ROTATE_PATH = '/applications/2023-11-30/clientSecret';

/** What Amazon answered to a rotation request, without its body. */
interface RotationAnswer {
  readonly status: number;
  readonly requestId: string | null;
  readonly errorCode: string | null;
  readonly errorMessage: string | null;
}

async function requestRotation(config: Config, region: 'na' | 'eu' | 'fe'): Promise<RotationAnswer> {
  const transport = config.amazonUrl === undefined ? {} : { amazonUrl: config.amazonUrl };
  let accessToken: string;
  try {
    accessToken = (await getGrantlessToken(credentialsOf(config), ROTATION_SCOPE, transport)).accessToken;
  } catch (err) {
    throw amazonFailure(err);
  }
  const url =
    config.amazonUrl === undefined
      ? spapiEndpoint(region, false) + ROTATE_PATH
      : amazonEndpoint(config.amazonUrl, ROTATE_PATH);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'x-amz-access-token': accessToken, accept: 'application/json' },
      redirect: 'manual',
      signal: AbortSignal.timeout(15_000),
    });
  } catch {
    throw new CliError(
      `the Application Management API at ${new URL(url).origin} could not be reached (spapi_request_failed)`,
    );
  }
  let text = '';
  try {
    text = await readCappedText(res, 16_384);
  } catch {
    text = '';
  }
  let errorCode: string | null = null;
  let errorMessage: string | null = null;
  try {
    const first = (JSON.parse(text) as { errors?: { code?: unknown; message?: unknown }[] }).errors?.[0];
    if (typeof first?.code === 'string' && /^[A-Za-z0-9_.]{1,64}$/.test(first.code)) errorCode = first.code;
    if (typeof first?.message === 'string')
      errorMessage = first.message.replace(/[^\x20-\x7e]/g, ' ').slice(0, 300);
  } catch {
    // Not Amazon's error list: the status alone says enough.
  }
  const requestId = res.headers.get('x-amzn-requestid');
  return {
    status: res.status,
    requestId: requestId !== null && /^[A-Za-z0-9._:-]{1,128}$/.test(requestId) ? requestId : null,
    errorCode,
    errorMessage,
  };
}

async function rotate(values: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const region = regionFlag(values.region) ?? 'na';
  const config = loadCliConfig(ctx);
  if (config.sandbox) {
    throw new CliError(
      'the rotation API cannot be called for a sandbox application (SPAPI_AUTH_SANDBOX=true)',
    );
  }
  const answer = await requestRotation(config, region);
  if (answer.status !== 204 && answer.status !== 200) {
    const why = answer.errorMessage ?? `HTTP ${answer.status}`;
    const hint =
      answer.status === 400
        ? ': register an SQS queue for "Application Client New Secret" in Developer Console → Notification Preferences'
        : answer.status === 429
          ? ': the API allows about one call a minute; try again later'
          : '';
    throw new CliError(
      `Amazon refused the rotation (${answer.status}${answer.errorCode ? ` ${answer.errorCode}` : ''}: ${why})${hint}`,
    );
  }
  const emulatorQueue =
    config.amazonUrl === undefined
      ? null
      : `${amazonEndpoint(config.amazonUrl, '/__emulator/notifications')}`;
  if (values.json) {
    printJson(ctx, {
      requested: true,
      request_id: answer.requestId,
      notification_type: 'APPLICATION_OAUTH_CLIENT_NEW_SECRET',
      old_secret_valid_days: 7,
      ...(emulatorQueue === null ? {} : { emulator_notifications: emulatorQueue }),
    });
    return 0;
  }
  ctx.stdout(
    [
      `Rotation requested${answer.requestId ? ` (request id ${answer.requestId})` : ''}.`,
      '',
      'Amazon now sends the new client secret in an APPLICATION_OAUTH_CLIENT_NEW_SECRET notification',
      emulatorQueue === null
        ? 'to the SQS queue registered in Developer Console → Notification Preferences → "Application Client New Secret".'
        : `— here the emulator, which queues it at ${emulatorQueue}.`,
      'Install it with either:',
      '  - the service: POST the message body to /v1/notifications (API key), or',
      '  - this CLI:    spapi-auth secret accept <notification.json>',
      'The current secret keeps working for 7 days; after that, only the new one does.',
      '',
    ].join('\n'),
  );
  return 0;
}

async function accept(file: string, values: Record<string, unknown>, ctx: CliContext): Promise<number> {
  let text: string;
  try {
    text = await readFile(resolve(ctx.cwd, file), 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${clip(file)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let notification: unknown;
  try {
    notification = JSON.parse(text);
  } catch {
    throw new CliError(`${clip(file)} is not valid JSON (invalid_notification)`);
  }
  const config = loadCliConfig(ctx);
  const keyRing = cliKeyRing(config.encryptionKeys, true);
  const result = await withStore(ctx, config, keyRing, (store) =>
    acceptNotification(store, config, notification),
  );
  if (values.json) {
    printJson(ctx, result);
    return 0;
  }
  ctx.stdout(formatFields(Object.entries(result).map(([k, v]) => [k, String(v)])));
  return 0;
}

// Filled in below once the shared notification handler is wired.
let acceptNotification: (
  store: import('../../storage/store.js').Store,
  config: Config,
  notification: unknown,
) => Promise<Record<string, unknown>> = () => {
  throw new CliError('not implemented');
};

async function run(
  args: { values: Record<string, unknown>; positionals: string[] },
  ctx: CliContext,
): Promise<number> {
  const { sub, rest } = subcommand(args, { rotate: ['region', 'json'], accept: ['json'] });
  if (sub === 'rotate') {
    if (rest.length > 0) throw new UsageError(`unexpected argument '${clip(rest[0]!)}'`);
    return rotate(args.values, ctx);
  }
  return accept(singleArg(rest, '<notification.json>'), args.values, ctx);
}

/** `spapi-auth secret`. */
export const secretCommand: Command = {
  name: 'secret',
  summary: 'rotate the LWA client secret, or install the new one from its notification',
  help,
  options: { region: { type: 'string' }, json: { type: 'boolean' } },
  positionals: true,
  run,
};
