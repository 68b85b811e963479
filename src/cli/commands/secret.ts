// `spapi-auth secret rotate|accept`: the 180-day LWA client-secret rotation Amazon requires, through
// the service's own rotation module (src/server/ops/rotation.ts).
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { amazonEndpoint } from '../../core/http.js';
import { getGrantlessToken } from '../../core/lwa.js';
import { spapiEndpoint, type Region } from '../../core/marketplaces.js';
import { silentLogger } from '../../server/http/log.js';
import { verifyClientSecret } from '../../server/tokens/gateway.js';
import {
  ClientSecretRing,
  NEW_SECRET,
  NotificationError,
  acceptNotification,
  requestClientSecretRotation,
} from '../../server/ops/rotation.js';
import { CliError, UsageError, type CliContext, type Command } from '../command.js';
import { printJson } from '../output.js';
import {
  amazonFailure,
  appCredentials,
  clip,
  cliKeyRing,
  loadCliConfig,
  singleArg,
  subcommand,
  withStore,
} from '../runtime.js';

const help = `Usage: spapi-auth secret rotate [--json]
       spapi-auth secret accept <notification.json> [--json]

Amazon requires the LWA client secret to be rotated every 180 days.

  rotate   asks Amazon for a new client secret (Application Management API,
           POST /applications/2023-11-30/clientSecret, with a grantless token of scope
           sellingpartnerapi::client_credential:rotation). Amazon does not answer with the secret:
           it sends it in an APPLICATION_OAUTH_CLIENT_NEW_SECRET notification to the SQS queue
           registered in Developer Console → Notification Preferences → "Application Client New
           Secret". The current secret keeps working for 7 days.
  accept   installs the new secret from that notification's JSON (the SQS message body, or an
           SQS message { "Body": … } or SNS envelope { "Message": … } holding it), exactly as
           POST /v1/notifications does: stored encrypted, used from now on by every instance, the
           old one kept until it expires. An APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY notification
           queues the credentials.client_secret_expiring webhook.

Unattended: with SPAPI_AUTH_NOTIFICATIONS_QUEUE_URL set to that SQS queue's URL, \`spapi-auth serve\`
does both by itself: it consumes the queue (one instance at a time), asks for a new secret
SPAPI_AUTH_ROTATE_BEFORE_DAYS (default 7) before the deadline and installs it for every instance;
these commands are then only needed by hand (set-up: docs/going-live.md,
"Unattended client-secret rotation"). \`spapi-auth doctor\` shows where the rotation stands.

Uses the service's configuration (LWA_CLIENT_ID, LWA_CLIENT_SECRET, SPAPI_AUTH_AMAZON_URL for the
emulator, DATABASE_URL and SPAPI_AUTH_ENCRYPTION_KEYS for accept). Never prints a secret.

Options:
  --json       print one JSON document
  --help       show this help
`;

async function rotate(values: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const config = loadCliConfig(ctx);
  if (config.sandbox) {
    throw new CliError(
      'the rotation API cannot be called for a sandbox application (SPAPI_AUTH_SANDBOX=true)',
    );
  }
  const credentials = await appCredentials(ctx, config);
  const transport = config.amazonUrl === undefined ? {} : { amazonUrl: config.amazonUrl };
  // The gateway slice the service's rotation function needs, over the credentials in use.
  const amazon = {
    getGrantlessToken: async (scope: string) => {
      const t = await getGrantlessToken(credentials, scope, transport);
      return { accessToken: t.accessToken, expiresAt: t.expiresAt };
    },
    endpoint: (region: Region) => config.amazonUrl ?? spapiEndpoint(region, false),
  };
  try {
    await requestClientSecretRotation({ amazon });
  } catch (err) {
    const e = err as { code?: unknown; status?: unknown; message?: string };
    if (e.code === 'rotation_refused' || e.code === 'rotation_failed' || e.code === 'rotation_not_enrolled') {
      const hint =
        e.status === 400
          ? ': is an SQS queue registered for "Application Client New Secret" (Developer Console → Notification Preferences)?'
          : e.status === 429
            ? ': the API allows about one call a minute; try again later'
            : e.status === 403
              ? ': the application may not be allowed to rotate (production apps only)'
              : '';
      throw new CliError(`${e.message ?? 'rotation failed'} (${e.code})${hint}`);
    }
    throw amazonFailure(err);
  }
  const emulatorQueue =
    config.amazonUrl === undefined ? null : amazonEndpoint(config.amazonUrl, '/__emulator/notifications');
  if (values.json) {
    printJson(ctx, {
      requested: true,
      notification_type: NEW_SECRET,
      old_secret_valid_days: 7,
      ...(emulatorQueue === null ? {} : { emulator_notifications: emulatorQueue }),
    });
    return 0;
  }
  ctx.stdout(
    [
      'Rotation requested.',
      '',
      `Amazon now sends the new client secret in an ${NEW_SECRET} notification`,
      emulatorQueue === null
        ? 'to the SQS queue registered in Developer Console → Notification Preferences → "Application Client New Secret".'
        : `— here the emulator, which queues it at ${emulatorQueue}.`,
      'Install it with either:',
      '  - the service: POST the message body to /v1/notifications (an API key with notifications:write), or',
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
  const result = await withStore(ctx, config, keyRing, async (store) => {
    const ring = new ClientSecretRing({ config, store, log: silentLogger });
    await ring.reload();
    try {
      const verifySecret = (secret: string): Promise<void> =>
        verifyClientSecret(
          config.lwaClientId,
          secret,
          config.amazonUrl ? { amazonUrl: config.amazonUrl } : {},
        );
      return await acceptNotification(
        { store, ring, actor: 'cli', verifySecret, applicationId: config.applicationId },
        notification,
      );
    } catch (err) {
      if (err instanceof NotificationError)
        throw new CliError(`${err.message.replace(/\.$/, '')} (${err.code})`);
      throw err;
    }
  });
  if (values.json) {
    printJson(ctx, {
      notification_type: result.notificationType,
      outcome: result.outcome,
      expires_at: result.expiresAt,
      ...(result.previousExpiresAt ? { previous_expires_at: result.previousExpiresAt } : {}),
    });
    return 0;
  }
  if (result.notificationType === NEW_SECRET) {
    ctx.stdout(
      result.outcome === 'already_accepted'
        ? `This new client secret was already accepted (it expires ${result.expiresAt}).\n`
        : [
            'New client secret accepted: stored encrypted; the service switches to it within a minute',
            `(every instance reloads the stored secrets). It expires ${result.expiresAt};`,
            `the previous secret is kept until ${result.previousExpiresAt}.`,
            '',
          ].join('\n'),
    );
  } else {
    ctx.stdout(
      `Secret expiry notice recorded: the current secret expires ${result.expiresAt}; ` +
        'a credentials.client_secret_expiring webhook was queued. Run `spapi-auth secret rotate`.\n',
    );
  }
  return 0;
}

async function run(
  args: { values: Record<string, unknown>; positionals: string[] },
  ctx: CliContext,
): Promise<number> {
  const { sub, rest } = subcommand(args, { rotate: ['json'], accept: ['json'] });
  if (sub === 'rotate') {
    if (rest.length > 0) throw new UsageError(`unexpected argument '${clip(rest[0]!)}'`);
    return rotate(args.values, ctx);
  }
  return accept(singleArg(rest, '<notification.json>'), args.values, ctx);
}

/**
 * `spapi-auth secret`. Registered in `commands/index.ts`.
 *
 * @example
 * ```sh
 * spapi-auth secret accept ./new-secret-notification.json
 * ```
 */
export const secretCommand: Command = {
  name: 'secret',
  summary: 'rotate the LWA client secret, or install the new one from its notification',
  help,
  options: { json: { type: 'boolean' } },
  positionals: true,
  run,
};
