// `spapi-auth dev`: the service and the embedded emulator on one port, SQLite and a generated key
// ring in ./data, a dev API key and the start URL printed. What `npm start` runs.
import { resolve } from 'node:path';
import { loadConfig, type Config } from '../../config.js';
import { DEV_CLIENT_SECRET, TEST_SELLERS, createEmulator, devApplication } from '../../emulator/index.js';
import { devFallback, devLogSink, devPartnersOf } from '../../server/dev/emulator-mount.js';
import { createLogger } from '../../server/http/log.js';
import { isLoopbackHost } from '../../server/http/validate.js';
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
    const emulator = createEmulator({ applications: [app] });
    // Request lines on: a newcomer watching the flow sees each hop (paths are route patterns, no tokens).
    const log = createLogger({ sink: devLogSink(ctx.stdout), level: 'info' });
    let service: Service;
    let apiKey: { id: string; key: string };
    try {
      const store = await openServiceStore(config.databaseUrl, ctx.cwd, keyRingOf(config));
      apiKey = await devApiKey(store, dataDir);
      service = await startService({
        config,
        store,
        log,
        // LWA and SP-API calls go to the emulator in-process; the browser reaches it through the fallback.
        fetch: (req) => emulator.fetch(req),
        fallback: devFallback((req) => emulator.fetch(req), config.publicUrl),
        devPartners: devPartnersOf(TEST_SELLERS),
      });
    } catch (err) {
      throw configFailure(err, config);
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
    return serveUntilSignal(service, ctx);
  },
};
