// `spapi-auth dev`: the service and the embedded emulator on one port, SQLite and a generated key
// ring in ./data, a dev API key and the start URL printed. What `npm start` runs.
import { resolve } from 'node:path';
import { loadConfig, type Config } from '../../config.js';
import { DEV_CLIENT_SECRET, TEST_SELLERS, devApplication } from '../../emulator/index.js';
import { EmulatorStateFileError, createPersistentEmulator } from '../../emulator/state-file.js';
import { dropUnknownDevTokens, markLostDevGrants } from '../../server/dev/emulator-grants.js';
import { devFallback, devLogSink, devPartnersOf } from '../../server/dev/emulator-mount.js';
import { createLogger } from '../../server/http/log.js';
import { isLoopbackHost } from '../../core/loopback.js';
import {
  devApiKey,
  devKeyRing,
  keyRingOf,
  openServiceStore,
  startService,
  type Service,
} from '../../server/service.js';
import { CliError, type Command } from '../command.js';
import { configFailure, serveUntilSignal } from './serve.js';

const help = `Usage: spapi-auth dev

Runs the service with the embedded Amazon emulator on one port (PORT, default 3000): consent pages,
Login with Amazon and SP-API are answered by the emulator from the service's own origin. SQLite in
./data (DATABASE_URL to change it), an encryption key ring generated and kept in
./data/encryption-keys (development only), a dev API key kept in ./data/dev-api-key. Open the
printed URL and click "Connect a seller": no Amazon account, no configuration.

The emulator's state (the tokens and grants it issued, secret rotations, its clock offset, queued
notifications) is kept in ./data/emulator-state.json (mode 0600), written within a quarter second
of each change and on stop, so sellers connected before a restart keep working after it. At start,
sellers the emulator does not know (that file deleted or unusable, or a hard kill right after a
connect) are refreshed once: they become reauthorization_required — connect them again.

Options:
  --help   show this help
`;

export const devCommand: Command = {
  name: 'dev',
  summary: 'the service plus the embedded emulator on one port, for development',
  help,
  options: {},
  async run(_args, ctx) {
    const dataDir = resolve(ctx.cwd, 'data');
    const port = ctx.env.PORT ?? '3000';
    // The redirect URI registered with the emulator names the port: it cannot be picked at random.
    if (port === '0')
      throw new CliError('dev needs a fixed PORT (the redirect URI names it); PORT=0 is for serve');
    const publicUrl = ctx.env.SPAPI_AUTH_PUBLIC_URL ?? `http://localhost:${port}`;
    const app = devApplication(publicUrl);
    let config: Config;
    let generatedRing = false;
    try {
      let ring = ctx.env.SPAPI_AUTH_ENCRYPTION_KEYS;
      if (ring === undefined || ring.trim() === '') {
        const dev = devKeyRing(dataDir);
        ring = dev.value;
        generatedRing = dev.generated;
      }
      // The emulator's dev application, always: credentials for real Amazon mean nothing here.
      config = loadConfig(
        {
          ...ctx.env,
          LWA_CLIENT_ID: undefined,
          LWA_CLIENT_SECRET: undefined,
          LWA_CLIENT_SECRET_NEXT: undefined,
          SPAPI_APPLICATION_ID: undefined,
          SPAPI_AUTH_PUBLIC_URL: publicUrl,
          SPAPI_AUTH_AMAZON_URL: publicUrl,
          SPAPI_AUTH_ENCRYPTION_KEYS: ring,
        },
        {
          mode: 'dev',
          devDefaults: { clientId: app.clientId, clientSecret: DEV_CLIENT_SECRET, applicationId: app.id },
        },
      );
    } catch (err) {
      throw configFailure(err);
    }
    const persistent = await openEmulatorState(resolve(dataDir, 'emulator-state.json'), app, ctx);
    const { emulator } = persistent;
    // Request lines on: a newcomer watching the flow sees each hop (paths are route patterns, no tokens).
    const log = createLogger({ sink: devLogSink(ctx.stdout), level: 'info' });
    let service: Service;
    let apiKey: { id: string; key: string };
    let lost: Awaited<ReturnType<typeof dropUnknownDevTokens>> = [];
    let store: Awaited<ReturnType<typeof openServiceStore>>;
    try {
      store = await openServiceStore(config.databaseUrl, ctx.cwd, keyRingOf(config));
      apiKey = await devApiKey(store, dataDir);
      // Before the service answers: no stored access token the emulator would refuse is served.
      lost = await dropUnknownDevTokens(store, (t) => emulator.tokenStatus(t));
    } catch (err) {
      await persistent.close();
      throw configFailure(err);
    }
    try {
      service = await startService(config, {
        store,
        log,
        // LWA and SP-API calls go to the emulator in-process; the browser reaches it through the fallback.
        fetch: (req) => emulator.fetch(req),
        fallback: devFallback((req) => emulator.fetch(req), config.publicUrl),
        devPartners: devPartnersOf(TEST_SELLERS),
      });
    } catch (err) {
      await persistent.close();
      throw configFailure(err, config);
    }
    const marked = await markLostDevGrants(service.app.context.amazon, lost);
    if (lost.length > 0) {
      ctx.stderr(
        `spapi-auth dev: warning: the embedded emulator does not accept ${lost.length} stored seller authorization(s) ` +
          `(${persistent.stateFile.restored ? 'issued after its last saved state, or revoked' : 'its saved state is missing'}); ` +
          `${marked} now reauthorization_required — connect them again from the start page.\n`,
      );
    }
    if (!isLoopbackHost(config.host)) {
      ctx.stderr(
        `spapi-auth dev: warning: HOST=${config.host} accepts connections from other machines; dev is for this machine ` +
          '(its API key is printed below and the emulator answers anyone) — unset HOST to listen on 127.0.0.1.\n',
      );
    }
    if (generatedRing) {
      ctx.stderr(
        'spapi-auth dev: warning: generated an encryption key ring in data/encryption-keys — for development only; ' +
          'in production set SPAPI_AUTH_ENCRYPTION_KEYS from a secret store.\n',
      );
    }
    ctx.stdout(
      [
        `spapi-auth dev: listening on ${service.server.url}`,
        '',
        `  Start here:   ${config.publicUrl}/   (click "Connect a seller")`,
        `  Dev API key:  ${apiKey.key}`,
        `  Try:          curl -H "Authorization: Bearer ${apiKey.key}" ${config.publicUrl}/v1/sellers`,
        '',
        'Amazon is the embedded emulator (no Amazon account involved). Ctrl-C stops.',
        '',
      ].join('\n'),
    );
    // The emulator's last state is written after the service's last refresh.
    return serveUntilSignal({ ...service, close: () => service.close().then(persistent.close) }, ctx);
  },
};

/** The embedded emulator over its state file, saying what became of an unusable one. */
async function openEmulatorState(
  path: string,
  app: ReturnType<typeof devApplication>,
  ctx: Parameters<Command['run']>[1],
): Promise<Awaited<ReturnType<typeof createPersistentEmulator>>> {
  let persistent;
  try {
    persistent = await createPersistentEmulator(path, {
      applications: [app],
      onWriteError: (err) =>
        ctx.stderr(`spapi-auth dev: warning: cannot write the emulator state ${path} (${err.message})\n`),
    });
  } catch (err) {
    if (err instanceof EmulatorStateFileError) throw new CliError(err.message);
    throw err;
  }
  const aside = persistent.stateFile.setAside;
  if (aside !== undefined) {
    ctx.stderr(
      `spapi-auth dev: warning: the emulator state ${path} could not be used (${aside.reason}); moved it to ${aside.path} ` +
        'and started the emulator afresh: sellers connected before are checked below\n',
    );
  }
  return persistent;
}
