import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import {
  ConfigError,
  SECRET_VARIABLES,
  loadConfig,
  redactConfig,
  scrubSecretsFromEnv,
} from '../src/config.js';
import { DEV_CLIENT_SECRET, devApplication } from '../src/emulator/dev-app.js';

const SECRET = 'CANARY-client-secret-7f3a9';
const KEY = `k1:${Buffer.alloc(32, 7).toString('base64')}`;
const DEV = {
  clientId: 'amzn1.application-oa2-client.dev',
  clientSecret: 'dev-secret',
  applicationId: 'amzn1.sp.solution.dev-1',
};

function serveEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    LWA_CLIENT_ID: 'amzn1.application-oa2-client.abc',
    LWA_CLIENT_SECRET: SECRET,
    SPAPI_APPLICATION_ID: 'amzn1.sp.solution.1234-abcd',
    SPAPI_AUTH_PUBLIC_URL: 'https://auth.example.com',
    SPAPI_AUTH_ENCRYPTION_KEYS: KEY,
    ...extra,
  };
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ConfigError');
}

test('serve: a complete environment gives a frozen config with derived URIs', () => {
  const c = loadConfig(serveEnv(), { mode: 'serve' });
  assert.equal(c.redirectUri, 'https://auth.example.com/oauth/callback');
  assert.equal(c.loginUri, 'https://auth.example.com/oauth/login');
  assert.equal(c.secureCookies, true);
  assert.equal(c.keyRateLimit, 100);
  assert.equal(c.port, 3000);
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.databaseUrl, 'sqlite:./data/spapi-auth.db');
  assert.ok(Object.isFrozen(c));
  assert.throws(() => {
    (c as { port: number }).port = 1;
  });
});

test('serve: each required variable is named when missing, never its value', () => {
  for (const name of [
    'LWA_CLIENT_ID',
    'LWA_CLIENT_SECRET',
    'SPAPI_APPLICATION_ID',
    'SPAPI_AUTH_PUBLIC_URL',
    'SPAPI_AUTH_ENCRYPTION_KEYS',
  ]) {
    const err = configError(() => loadConfig(serveEnv({ [name]: undefined }), { mode: 'serve' }));
    assert.equal(err.variable, name);
    assert.match(err.message, new RegExp(`^${name}: `));
  }
});

test('malformed values name the variable and never echo the value', () => {
  const marker = 'CANARY-bad-value-91c2';
  const cases: Record<string, string> = {
    SPAPI_APPLICATION_ID: `amzn1.application-oa2-client.${marker}`,
    SPAPI_AUTH_PUBLIC_URL: `http://${marker}.example.com`,
    SPAPI_AUTH_ENCRYPTION_KEYS: `k1:${marker}`,
    SPAPI_AUTH_KEY_RATE_LIMIT: marker,
    PORT: marker,
    DATABASE_URL: `mysql://${marker}`,
    SPAPI_AUTH_RETURN_ORIGINS: `https://${marker}.example.com/path`,
    SPAPI_AUTH_DRAFT_APP: marker,
    LWA_CLIENT_SECRET: `has space ${marker}`,
  };
  for (const [name, value] of Object.entries(cases)) {
    const err = configError(() => loadConfig(serveEnv({ [name]: value }), { mode: 'serve' }));
    assert.equal(err.variable, name);
    assert.ok(!err.message.includes(marker), `${name} message leaks the value`);
  }
});

test('SPAPI_AUTH_PUBLIC_URL: https required except on a loopback host, which serve accepts with a warning', () => {
  configError(() =>
    loadConfig(serveEnv({ SPAPI_AUTH_PUBLIC_URL: 'http://auth.example.com' }), { mode: 'serve' }),
  );
  // The one loopback rule (core/loopback.ts): [::1] and all of 127.0.0.0/8 too, as for the Amazon
  // URL and the OpenID issuer (the public URL alone used to refuse them).
  for (const url of ['http://[::1]:8080', 'http://127.0.0.2:8080', 'http://localhost:8080']) {
    const local = loadConfig(serveEnv({ SPAPI_AUTH_PUBLIC_URL: url }), { mode: 'serve' });
    assert.equal(local.secureCookies, false, url);
  }
  const c = loadConfig(serveEnv({ SPAPI_AUTH_PUBLIC_URL: 'http://127.0.0.1:8080' }), { mode: 'serve' });
  assert.equal(c.secureCookies, false);
  assert.equal(c.redirectUri, 'http://127.0.0.1:8080/oauth/callback');
  assert.ok(c.warnings.some((w) => w.includes('SPAPI_AUTH_PUBLIC_URL')));
});

test('SPAPI_AUTH_PUBLIC_URL may carry a plain path prefix (a proxy mounting the service below the root)', () => {
  const c = loadConfig(serveEnv({ SPAPI_AUTH_PUBLIC_URL: 'https://app.example.com/auth/' }), {
    mode: 'serve',
  });
  assert.equal(c.publicUrl, 'https://app.example.com/auth');
  assert.equal(c.redirectUri, 'https://app.example.com/auth/oauth/callback');
  assert.equal(c.loginUri, 'https://app.example.com/auth/oauth/login');
  assert.equal(c.secureCookies, true);
  for (const bad of [
    'https://app.example.com/a%20b',
    'https://app.example.com/a//b',
    'https://app.example.com/a?x=1',
  ]) {
    assert.equal(
      configError(() => loadConfig(serveEnv({ SPAPI_AUTH_PUBLIC_URL: bad }), { mode: 'serve' })).variable,
      'SPAPI_AUTH_PUBLIC_URL',
      bad,
    );
  }
});

test('NODE_TLS_REJECT_UNAUTHORIZED=0 is refused outside dev and tolerated in dev', () => {
  const err = configError(() =>
    loadConfig(serveEnv({ NODE_TLS_REJECT_UNAUTHORIZED: '0' }), { mode: 'serve' }),
  );
  assert.equal(err.variable, 'NODE_TLS_REJECT_UNAUTHORIZED');
  assert.doesNotThrow(() =>
    loadConfig({ NODE_TLS_REJECT_UNAUTHORIZED: '0' }, { mode: 'dev', devDefaults: DEV }),
  );
});

test('dev: no environment at all gives the dev application, localhost and no key ring', () => {
  const c = loadConfig({}, { mode: 'dev', devDefaults: DEV });
  assert.equal(c.lwaClientId, DEV.clientId);
  assert.equal(c.applicationId, DEV.applicationId);
  assert.equal(c.publicUrl, 'http://localhost:3000');
  assert.equal(c.encryptionKeys, undefined);
  const onPort = loadConfig({ PORT: '4123' }, { mode: 'dev', devDefaults: DEV });
  assert.equal(onPort.publicUrl, 'http://localhost:4123');
});

test('the config redacts its secrets when inspected or serialised', () => {
  const c = loadConfig(
    serveEnv({
      SPAPI_AUTH_ADMIN_PASSWORD: 'CANARY-admin-pass-1234',
      DATABASE_URL: 'postgres://u:CANARY-dbpw@h/db',
    }),
    { mode: 'serve' },
  );
  for (const text of [
    JSON.stringify(c),
    inspect(c),
    inspect(c, { depth: 5, showHidden: true }),
    JSON.stringify(redactConfig(c)),
  ]) {
    assert.ok(!text.includes('CANARY'), text);
    assert.ok(!text.includes(KEY.slice(3)), 'key ring leaked');
  }
  assert.equal(c.lwaClientSecret, SECRET);
});

test('NAME_FILE is read in preference to NAME; an unreadable file is named without its content', () => {
  const c = loadConfig(serveEnv({ LWA_CLIENT_SECRET: undefined, LWA_CLIENT_SECRET_FILE: '/run/secret' }), {
    mode: 'serve',
    readFile: (p) => (p === '/run/secret' ? 'from-file\n' : ''),
  });
  assert.equal(c.lwaClientSecret, 'from-file');
  const err = configError(() =>
    loadConfig(serveEnv({ LWA_CLIENT_SECRET_FILE: '/nope' }), {
      mode: 'serve',
      readFile: () => {
        throw new Error('ENOENT');
      },
    }),
  );
  assert.equal(err.variable, 'LWA_CLIENT_SECRET_FILE');
});

test('scrubSecretsFromEnv removes secret variables and leaves the others', () => {
  const env = serveEnv({ SPAPI_AUTH_WEBHOOK_SECRET: 'x', PORT: '1' });
  scrubSecretsFromEnv(env);
  assert.equal(env.LWA_CLIENT_SECRET, undefined);
  assert.equal(env.SPAPI_AUTH_ENCRYPTION_KEYS, undefined);
  assert.equal(env.SPAPI_AUTH_WEBHOOK_SECRET, undefined);
  assert.equal(env.PORT, '1');
  assert.equal(env.LWA_CLIENT_ID, 'amzn1.application-oa2-client.abc');
});

test('key rate limit, return origins and webhook rules', () => {
  assert.equal(loadConfig(serveEnv({ SPAPI_AUTH_KEY_RATE_LIMIT: '0' }), { mode: 'serve' }).keyRateLimit, 0);
  const c = loadConfig(
    serveEnv({ SPAPI_AUTH_RETURN_ORIGINS: 'https://app.example.com, http://localhost:5173' }),
    { mode: 'serve' },
  );
  assert.deepEqual(c.returnOrigins, ['https://app.example.com', 'http://localhost:5173']);
  const err = configError(() =>
    loadConfig(serveEnv({ SPAPI_AUTH_WEBHOOK_URL: 'https://hooks.example.com/x' }), { mode: 'serve' }),
  );
  assert.equal(err.variable, 'SPAPI_AUTH_WEBHOOK_SECRET');
});

test('SPAPI_AUTH_AMAZON_URL: an origin; plain http only on loopback', () => {
  const c = loadConfig(serveEnv({ SPAPI_AUTH_AMAZON_URL: 'http://127.0.0.1:4010' }), { mode: 'serve' });
  assert.equal(c.amazonUrl, 'http://127.0.0.1:4010');
  assert.ok(c.warnings.some((w) => w.includes('SPAPI_AUTH_AMAZON_URL')));
  assert.equal(
    loadConfig(serveEnv({ SPAPI_AUTH_AMAZON_URL: 'https://emu.example.com' }), { mode: 'serve' }).amazonUrl,
    'https://emu.example.com',
  );
  for (const bad of [
    'http://emulator.internal:4010',
    'https://emu.example.com/prefix',
    'ftp://x',
    'not a url',
  ]) {
    assert.equal(
      configError(() => loadConfig(serveEnv({ SPAPI_AUTH_AMAZON_URL: bad }), { mode: 'serve' })).variable,
      'SPAPI_AUTH_AMAZON_URL',
    );
  }
});

test('the abuse limits: SPAPI_AUTH_OAUTH_RATE_LIMIT, SPAPI_AUTH_MAX_PENDING_FLOWS, SPAPI_AUTH_TRUSTED_PROXIES', () => {
  const d = loadConfig(serveEnv(), { mode: 'serve' });
  assert.equal(d.oauthRateLimit, 30);
  assert.ok(d.oauthRateLimit < d.keyRateLimit * 60, 'below the API key limit');
  assert.equal(d.maxPendingFlows, 10_000);
  assert.deepEqual(d.trustedProxies, [], 'nobody is trusted by default');
  const c = loadConfig(
    serveEnv({
      SPAPI_AUTH_OAUTH_RATE_LIMIT: '0',
      SPAPI_AUTH_MAX_PENDING_FLOWS: '500',
      SPAPI_AUTH_TRUSTED_PROXIES: ' 127.0.0.1, ::1 ,10.0.0.0/8',
    }),
    { mode: 'serve' },
  );
  assert.equal(c.oauthRateLimit, 0);
  assert.equal(c.maxPendingFlows, 500);
  assert.deepEqual(c.trustedProxies, ['127.0.0.1', '::1', '10.0.0.0/8']);
  const marker = '10.0.0.0/99-CANARY';
  const err = configError(() =>
    loadConfig(serveEnv({ SPAPI_AUTH_TRUSTED_PROXIES: `127.0.0.1,${marker}` }), { mode: 'serve' }),
  );
  assert.equal(err.variable, 'SPAPI_AUTH_TRUSTED_PROXIES');
  assert.ok(!err.message.includes('CANARY'));
  assert.equal(
    configError(() => loadConfig(serveEnv({ SPAPI_AUTH_MAX_PENDING_FLOWS: '5' }), { mode: 'serve' }))
      .variable,
    'SPAPI_AUTH_MAX_PENDING_FLOWS',
  );
});

test('five malformed values are reported in one run: each variable, its shape and its rule, never a value', () => {
  const marker = 'CANARY-one-pass-5e1d';
  const secretMarker = 'CANARY-secret-77b0';
  const err = configError(() =>
    loadConfig(
      serveEnv({
        PORT: `port-${marker}`,
        SPAPI_AUTH_PUBLIC_URL: `http://${marker}.example.com`,
        SPAPI_AUTH_ENCRYPTION_KEYS: `k1:${secretMarker}`,
        LWA_CLIENT_SECRET: `has space ${secretMarker}`,
        SPAPI_AUTH_DRAFT_APP: marker,
      }),
      { mode: 'serve' },
    ),
  );
  assert.deepEqual([...err.variables].sort(), [
    'LWA_CLIENT_SECRET',
    'PORT',
    'SPAPI_AUTH_DRAFT_APP',
    'SPAPI_AUTH_ENCRYPTION_KEYS',
    'SPAPI_AUTH_PUBLIC_URL',
  ]);
  assert.match(err.message, /^5 configuration problems:/);
  assert.match(err.message, /PORT \(\d+ characters: [^)]*\): must be a whole number from 0 to 65535/);
  assert.match(err.message, /SPAPI_AUTH_PUBLIC_URL \([^)]*\): must be https/);
  assert.match(err.message, /SPAPI_AUTH_ENCRYPTION_KEYS \([^)]*\): must be kid1:<base64 of 32 bytes>/);
  assert.match(err.message, /LWA_CLIENT_SECRET \([^)]*spaces[^)]*\): must be printable ASCII without spaces/);
  assert.match(err.message, /SPAPI_AUTH_DRAFT_APP \([^)]*\): must be true or false/);
  for (const m of [marker, secretMarker]) {
    assert.ok(!err.message.includes(m), err.message);
    assert.ok(!JSON.stringify(err.problems).includes(m));
  }
  // The effective list shows plain values as read, and never a secret.
  assert.equal(err.effective.find((s) => s.variable === 'PORT')?.value, `port-${marker}`);
  assert.ok(!JSON.stringify(err.effective).includes(secretMarker), 'the effective list redacts secrets');
});

test('problems in different groups are all reported, including several missing variables at once', () => {
  const err = configError(() =>
    loadConfig(
      {
        SPAPI_AUTH_PUBLIC_URL: 'https://auth.example.com',
        SPAPI_AUTH_KEY_RATE_LIMIT: '-1',
        SPAPI_AUTH_WEBHOOK_URL: 'https://hooks.example.com/x',
      },
      { mode: 'serve' },
    ),
  );
  assert.match(
    err.message,
    /LWA_CLIENT_ID, LWA_CLIENT_SECRET, SPAPI_APPLICATION_ID, SPAPI_AUTH_ENCRYPTION_KEYS: are required \(serve\)/,
  );
  assert.match(
    err.message,
    /SPAPI_AUTH_KEY_RATE_LIMIT \(2 characters: digits, '-'\): must be a whole number/,
  );
  assert.match(err.message, /SPAPI_AUTH_WEBHOOK_SECRET: is required when SPAPI_AUTH_WEBHOOK_URL is set/);
});

test('a misspelt SPAPI_AUTH_ variable is warned with the closest known name; known ones are not', () => {
  const c = loadConfig(
    serveEnv({
      SPAPI_AUTH_WEBHOOK_ULR: 'https://hooks.example.com/x',
      SPAPI_AUTH_ADMIN_PASWORD_FILE: '/run/credentials/x',
      SPAPI_AUTH_SOMETHING_ELSE_ENTIRELY: '1',
      SPAPI_AUTH_TRANSFER_PASSPHRASE: 'CANARY-passphrase',
      SPAPI_AUTH_METRICS_TOKEN_FILE: '/run/t',
    }),
    { mode: 'serve', readFile: () => 'a-metrics-token-of-enough-length' },
  );
  const unknown = c.warnings.filter((w) => w.includes('is not a setting'));
  assert.equal(unknown.length, 3, unknown.join('\n'));
  assert.ok(unknown.some((w) => /^SPAPI_AUTH_WEBHOOK_ULR .*did you mean SPAPI_AUTH_WEBHOOK_URL\?/.test(w)));
  assert.ok(
    unknown.some((w) =>
      /SPAPI_AUTH_ADMIN_PASWORD_FILE .*did you mean SPAPI_AUTH_ADMIN_PASSWORD_FILE\?/.test(w),
    ),
  );
  const far = unknown.find((w) => w.startsWith('SPAPI_AUTH_SOMETHING_ELSE_ENTIRELY'));
  assert.ok(far !== undefined && !far.includes('did you mean'), far);
  assert.ok(unknown.every((w) => w.includes('docs/deployment.md, "2. Configuration"')));
  assert.ok(
    !c.warnings.join('\n').includes('CANARY') && !c.warnings.join('\n').includes('hooks.example.com'),
  );
});

test("values that cannot be Amazon's: refused against Amazon with the expected form, remarked against an emulator", () => {
  const marker = 'CANARY-notanid';
  const err = configError(() =>
    loadConfig(serveEnv({ LWA_CLIENT_ID: `my-client-id-${marker}` }), { mode: 'serve' }),
  );
  assert.equal(err.variable, 'LWA_CLIENT_ID');
  assert.match(err.message, /amzn1\.application-oa2-client\./);
  assert.ok(!err.message.includes(marker));
  const swapped = configError(() =>
    loadConfig(
      serveEnv({
        LWA_CLIENT_ID: 'amzn1.sp.solution.1234-abcd',
        SPAPI_APPLICATION_ID: 'amzn1.application-oa2-client.abc',
      }),
      { mode: 'serve' },
    ),
  );
  assert.deepEqual([...swapped.variables], ['LWA_CLIENT_ID', 'SPAPI_APPLICATION_ID']);
  assert.equal(swapped.message.match(/are LWA_CLIENT_ID and SPAPI_APPLICATION_ID swapped\?/g)?.length, 2);
  const secretIsId = configError(() =>
    loadConfig(serveEnv({ LWA_CLIENT_SECRET: 'amzn1.application-oa2-client.abc' }), { mode: 'serve' }),
  );
  assert.match(secretIsId.message, /^LWA_CLIENT_SECRET \([^)]*\): is an LWA client id/);
  // An emulator's apps may use any client id: accepted with a remark naming the form.
  const emulated = loadConfig(
    serveEnv({ LWA_CLIENT_ID: 'my-client-id', SPAPI_AUTH_AMAZON_URL: 'http://127.0.0.1:4010' }),
    { mode: 'serve' },
  );
  assert.ok(
    emulated.warnings.some((w) =>
      /^LWA_CLIENT_ID \(12 characters: lower-case letters, '-'\) is not an LWA client id/.test(w),
    ),
  );
  // A secret of an unexpected form is only remarked (Amazon's format may change), never shown.
  const odd = loadConfig(serveEnv(), { mode: 'serve' });
  const remark = odd.warnings.find((w) => w.startsWith('LWA_CLIENT_SECRET'));
  assert.ok(remark?.includes('amzn1.oa2-cs.v1.'), remark);
  assert.ok(!remark!.includes(SECRET));
  // Amazon-shaped values and the emulator's dev application pass without a remark.
  const good = loadConfig(serveEnv({ LWA_CLIENT_SECRET: `amzn1.oa2-cs.v1.${'a1'.repeat(32)}` }), {
    mode: 'serve',
  });
  assert.deepEqual(good.warnings, []);
  const app = devApplication();
  const devDefaults = { clientId: app.clientId, clientSecret: DEV_CLIENT_SECRET, applicationId: app.id };
  const dev = loadConfig({}, { mode: 'dev', devDefaults });
  assert.ok(!dev.warnings.some((w) => /LWA_CLIENT|SPAPI_APPLICATION_ID/.test(w)), dev.warnings.join('\n'));
});

test('the effective configuration lists what was read and its source, secrets redacted', () => {
  const c = loadConfig(
    serveEnv({
      DATABASE_URL: 'postgres://spapi:CANARY-dbpw@db.internal:5432/spapi?sslmode=require',
      SPAPI_AUTH_ADMIN_PASSWORD_FILE: '/run/credentials/admin',
      PORT: '3001',
    }),
    { mode: 'serve', readFile: () => 'CANARY-admin-password' },
  );
  const by = new Map(c.effective.map((s) => [s.variable, s]));
  assert.deepEqual(by.get('PORT'), { variable: 'PORT', value: '3001', source: 'environment' });
  assert.deepEqual(by.get('HOST'), { variable: 'HOST', value: '127.0.0.1', source: 'default' });
  assert.equal(
    by.get('DATABASE_URL')?.value,
    'postgres://spapi:[redacted]@db.internal:5432/spapi?[redacted]',
  );
  assert.equal(by.get('SPAPI_AUTH_ENCRYPTION_KEYS')?.value, 'key ids k1 (keys redacted)');
  assert.deepEqual(by.get('SPAPI_AUTH_ADMIN_PASSWORD_FILE'), {
    variable: 'SPAPI_AUTH_ADMIN_PASSWORD_FILE',
    value: '[redacted]',
    source: 'file',
  });
  assert.equal(by.get('LWA_CLIENT_SECRET')?.value, '[redacted]');
  assert.equal(by.get('LWA_CLIENT_ID')?.value, 'amzn1.application-oa2-client.abc');
  const text = JSON.stringify(c.effective);
  assert.ok(!text.includes('CANARY') && !text.includes(KEY.slice(3)), text);
});

test('SECRET_VARIABLES is derived from the declarations: every secret, no plain setting', () => {
  for (const name of [
    'LWA_CLIENT_SECRET',
    'DATABASE_URL',
    'SPAPI_AUTH_ENCRYPTION_KEYS',
    'SPAPI_AUTH_ADMIN_OIDC_CLIENT_SECRET',
  ]) {
    assert.ok(SECRET_VARIABLES.includes(name), name);
  }
  for (const name of ['LWA_CLIENT_ID', 'PORT', 'SPAPI_AUTH_PUBLIC_URL'])
    assert.ok(!SECRET_VARIABLES.includes(name), name);
});
