import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { ConfigError, loadConfig, redactConfig, scrubSecretsFromEnv } from '../../src/config.js';

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

test('SPAPI_AUTH_PUBLIC_URL: https required except localhost / 127.0.0.1, which serve accepts with a warning', () => {
  configError(() =>
    loadConfig(serveEnv({ SPAPI_AUTH_PUBLIC_URL: 'http://auth.example.com' }), { mode: 'serve' }),
  );
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
