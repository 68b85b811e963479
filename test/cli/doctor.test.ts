// `spapi-auth doctor`: one line per check, the right verdicts for each fault, exit 1 on a failure.
import assert from 'node:assert/strict';
import { loadMigrations } from '../../src/storage/migrations.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  APP,
  CANARY_SECRET,
  assertNoLeak,
  cliWorld,
  keyEntry,
  seedSeller,
  type CliWorld,
} from './helpers.js';
import type { CliResult } from '../helpers/cli.js';

interface Report {
  ok: boolean;
  checks: { check: string; verdict: string; detail: string; fix?: string }[];
}

const CHECKS = [
  'configuration',
  'amazon',
  'store',
  'key ring',
  'lwa',
  'public URLs',
  'clock',
  'client secret',
  'notification queue',
];

function report(r: CliResult): Report {
  return JSON.parse(r.stdout) as Report;
}

function verdicts(r: CliResult): Record<string, string> {
  return Object.fromEntries(report(r).checks.map((c) => [c.check, c.verdict]));
}

function check(r: CliResult, name: string): Report['checks'][number] {
  const c = report(r).checks.find((x) => x.check === name);
  assert.ok(c, `check ${name} present`);
  return c;
}

describe('spapi-auth doctor', () => {
  let world: CliWorld;
  const secrets: string[] = [CANARY_SECRET];
  before(async () => {
    world = await cliWorld();
    const store = await world.openStore();
    try {
      secrets.push(await seedSeller(world, store, { id: 'A1EMUSELLERNA01', region: 'na' }));
      secrets.push(await seedSeller(world, store, { id: 'A1EMUSELLEREU01', region: 'eu' }));
    } finally {
      await store.close();
    }
    secrets.push(world.keys.slice(3));
  });
  after(() => world.close());

  it('passes a healthy setup with one aligned line per check, warning about the emulator and plain http', async () => {
    const r = await world.cli(['doctor']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stderr, '');
    const [table, effective] = r.stdout.split('\nEffective configuration (secrets redacted):\n');
    const lines = table!.trimEnd().split('\n');
    assert.match(lines[0]!, /^VERDICT\s+CHECK\s+DETAIL$/);
    assert.equal(lines.length, 1 + CHECKS.length);
    const at = lines[0]!.indexOf('CHECK');
    assert.deepEqual(
      lines.slice(1).map((l) => l.slice(at).split(/\s{2,}/)[0]),
      CHECKS,
    );
    assert.match(r.stdout, /^ok\s+store\s+sqlite reachable, schema up to date, 2 seller authorization\(s\)/m);
    assert.match(r.stdout, /^ok\s+key ring\s+key id\(s\) k1, k1 encrypts; 2 sampled values decrypt/m);
    assert.match(r.stdout, /^ok\s+lwa\s+reachable, client credentials accepted/m);
    assert.match(r.stdout, /^ok\s+clock\s+in step/m);
    assert.match(r.stdout, /^warn\s+amazon\s+every Amazon call goes to http:\/\/127\.0\.0\.1/m);
    assert.match(r.stdout, /^warn\s+public URLs\s+plain http/m);
    // The effective configuration: plain values as read, secrets redacted, the key ring as its ids.
    assert.match(effective!, /^VARIABLE\s+VALUE\s+FROM$/m);
    assert.match(effective!, /^LWA_CLIENT_SECRET\s+\[redacted\]\s+environment$/m);
    assert.match(effective!, /^SPAPI_AUTH_ENCRYPTION_KEYS\s+key ids k1 \(keys redacted\)\s+environment$/m);
    assert.match(effective!, /^SPAPI_AUTH_KEY_RATE_LIMIT\s+100\s+default$/m);
    assertNoLeak(r, secrets);
    const https = await world.cli(['doctor', '--json'], {
      env: { SPAPI_AUTH_PUBLIC_URL: 'https://auth.example.com' },
    });
    assert.equal(https.code, 0);
    assert.equal(report(https).ok, true);
    assert.equal(check(https, 'public URLs').verdict, 'ok');
    assert.match(check(https, 'public URLs').detail, /https:\/\/auth\.example\.com\/oauth\/callback/);
  });

  it('fails the configuration check naming the variable, skips what needs it, and exits 1', async () => {
    const r = await world.cli(['doctor', '--json'], { env: { LWA_CLIENT_SECRET: undefined } });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'spapi-auth doctor: 1 check(s) failed: configuration\n');
    const v = verdicts(r);
    assert.equal(v.configuration, 'fail');
    assert.match(check(r, 'configuration').detail, /^LWA_CLIENT_SECRET: is required/);
    assert.equal(v.store, 'ok', 'the store is still checked with DATABASE_URL alone');
    assert.equal(v.lwa, 'skip');
    assert.equal(v.clock, 'skip');
    assert.equal(report(r).ok, false);
  });

  it('warns about a misspelt variable with the closest name, and lists the configuration even when it fails', async () => {
    const misspelt = await world.cli(['doctor', '--json'], {
      env: { SPAPI_AUTH_WEBHOOK_ULR: 'https://hooks.example.com/x' },
    });
    assert.equal(misspelt.code, 0, misspelt.stdout + misspelt.stderr);
    assert.equal(check(misspelt, 'configuration').verdict, 'warn');
    assert.match(
      check(misspelt, 'configuration').detail,
      /SPAPI_AUTH_WEBHOOK_ULR is not a setting of spapi-auth and is ignored: did you mean SPAPI_AUTH_WEBHOOK_URL\?/,
    );
    const marker = 'CANARY-doctor-bad-keys';
    const bad = await world.cli(['doctor', '--json'], {
      env: { PORT: 'eighty', SPAPI_AUTH_ENCRYPTION_KEYS: `k1:${marker}` },
    });
    assert.equal(bad.code, 1);
    const c = check(bad, 'configuration');
    assert.match(c.detail, /^2 configuration problems:/);
    assert.match(c.detail, /PORT \(6 characters: lower-case letters\): must be a whole number/);
    assert.match(c.fix!, /docs\/deployment\.md, "2\. Configuration"/);
    const listed = (JSON.parse(bad.stdout) as { configuration: { variable: string; value: string }[] })
      .configuration;
    assert.deepEqual(
      listed.find((x) => x.variable === 'SPAPI_AUTH_ENCRYPTION_KEYS'),
      { variable: 'SPAPI_AUTH_ENCRYPTION_KEYS', value: '[redacted]', source: 'environment' },
    );
    assertNoLeak(bad, [marker, ...secrets]);
  });

  it('fails the lwa check when Login with Amazon refuses the client secret, never printing it', async () => {
    const wrong = 'CANARYdoctorWrongSecret00000000000000000000000';
    const r = await world.cli(['doctor'], { env: { LWA_CLIENT_SECRET: wrong } });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^fail\s+lwa\s+.*\(invalid_client\) → check LWA_CLIENT_ID and LWA_CLIENT_SECRET/m);
    assert.equal(r.stderr, 'spapi-auth doctor: 1 check(s) failed: lwa\n');
    assertNoLeak(r, [wrong, ...secrets]);
  });

  it('fails the lwa check when Login with Amazon cannot be reached', async () => {
    await world.emulator.emulator.control.fault({ target: 'token', reset: true, count: 0 });
    try {
      const r = await world.cli(['doctor', '--json']);
      assert.equal(r.code, 1);
      assert.equal(check(r, 'lwa').verdict, 'fail');
      assert.match(check(r, 'lwa').detail, /upstream_unavailable/);
      assert.match(check(r, 'lwa').fix!, /network path/);
      assert.equal(check(r, 'clock').verdict, 'skip');
    } finally {
      await world.emulator.emulator.control.clearFaults();
    }
  });

  it('reports clock skew from the Date header of the LWA response', async () => {
    const answer = (offsetS: number) => ({
      target: 'token' as const,
      status: 200,
      body: { access_token: 'Atza|doctorprobe', token_type: 'bearer', expires_in: 3600 },
      headers: {
        'content-type': 'application/json',
        date: new Date(Date.now() + offsetS * 1000).toUTCString(),
      },
    });
    await world.emulator.emulator.control.fault(answer(-120));
    const warn = await world.cli(['doctor', '--json']);
    assert.equal(warn.code, 0, warn.stdout);
    assert.equal(check(warn, 'clock').verdict, 'warn');
    assert.match(check(warn, 'clock').detail, /this machine is 1[12]\d s ahead of Login with Amazon/);
    await world.emulator.emulator.control.fault(answer(900));
    const fail = await world.cli(['doctor', '--json']);
    assert.equal(fail.code, 1);
    assert.equal(check(fail, 'clock').verdict, 'fail');
    assert.match(check(fail, 'clock').detail, /behind Login with Amazon/);
    assert.match(check(fail, 'clock').fix!, /NTP/);
  });

  it('fails the key ring check when a key the values use is missing, and warns when values wait for a rewrap', async () => {
    const k2 = keyEntry('k2');
    const missing = await world.cli(['doctor', '--json'], { env: { SPAPI_AUTH_ENCRYPTION_KEYS: k2 } });
    assert.equal(missing.code, 1);
    assert.equal(check(missing, 'key ring').verdict, 'fail');
    assert.match(
      check(missing, 'key ring').detail,
      /2 of 2 sampled values do not decrypt \(credential_integrity_error\)/,
    );
    assert.match(
      check(missing, 'key ring').fix!,
      /stored values use key id\(s\) k1, which SPAPI_AUTH_ENCRYPTION_KEYS lacks: add the entry back/,
    );
    // Another key under the same id: a wrong key for k1, said as such, not tampering.
    const other = keyEntry('k1');
    const wrong = await world.cli(['doctor', '--json'], { env: { SPAPI_AUTH_ENCRYPTION_KEYS: other } });
    assert.equal(wrong.code, 1);
    const ring = check(wrong, 'key ring');
    assert.equal(ring.verdict, 'fail');
    assert.match(
      ring.fix!,
      /holds the wrong key for key id k1: none of the sampled values written under it decrypt/,
    );
    assert.match(ring.fix!, /not a newly generated key under the same id/);
    assert.doesNotMatch(ring.fix!, /altered|copied/);
    assert.match(ring.fix!, /docs\/deployment\.md, "Back up the key ring"/);
    assertNoLeak(wrong, [other.slice(3), ...secrets]);
    const old = await world.cli(['doctor', '--json'], {
      env: { SPAPI_AUTH_ENCRYPTION_KEYS: `${k2},${world.keys}` },
    });
    assert.equal(old.code, 0);
    assert.equal(check(old, 'key ring').verdict, 'warn');
    assert.match(check(old, 'key ring').fix!, /encryption-key rewrap/);
    const malformed = await world.cli(['doctor', '--json'], {
      env: { SPAPI_AUTH_ENCRYPTION_KEYS: 'k1:c2hvcnQ=' },
    });
    assert.equal(malformed.code, 1);
    assert.equal(check(malformed, 'configuration').verdict, 'fail');
    assert.equal(check(malformed, 'key ring').verdict, 'fail');
    assertNoLeak(malformed, ['c2hvcnQ=']);
  });

  it('serve refuses to start with a key ring that decrypts none of the stored values, naming the key id', async () => {
    const other = keyEntry('k1');
    const r = await world.cli(['serve'], { env: { SPAPI_AUTH_ENCRYPTION_KEYS: other, PORT: '0' } });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /^spapi-auth serve: the key ring does not fit the stored values: SPAPI_AUTH_ENCRYPTION_KEYS holds the wrong key for key id k1/m,
    );
    assert.doesNotMatch(r.stdout, /listening on/);
    assertNoLeak(r, [other.slice(3), ...secrets]);
  });

  it('fails the store check for a missing or unmigrated database and says to migrate', async () => {
    const missing = join(world.dir, 'missing.db');
    const none = await world.cli(['doctor', '--json'], { env: { DATABASE_URL: `sqlite:${missing}` } });
    assert.equal(none.code, 1);
    assert.equal(check(none, 'store').verdict, 'fail');
    assert.match(check(none, 'store').fix!, /spapi-auth migrate/);
    assert.equal(check(none, 'key ring').verdict, 'skip');
    const empty = join(world.dir, 'empty.db');
    writeFileSync(empty, '');
    const unmigrated = await world.cli(['doctor', '--json'], { env: { DATABASE_URL: `sqlite:${empty}` } });
    assert.equal(unmigrated.code, 1);
    assert.match(
      check(unmigrated, 'store').detail,
      new RegExp(
        `migration\\(s\\) pending \\(${loadMigrations('sqlite')
          .map((m) => m.name)
          .join(', ')}\\)`,
      ),
    );
    assert.equal(check(unmigrated, 'store').fix, 'run `spapi-auth migrate`');
  });

  it('shows where the client-secret rotation stands and the next deadline; a failed one warns with its fix', async () => {
    const healthy = await world.cli(['doctor', '--json']);
    assert.equal(check(healthy, 'client secret').verdict, 'ok');
    assert.match(check(healthy, 'client secret').detail, /no deadline known yet/);
    assert.equal(check(healthy, 'notification queue').verdict, 'skip');
    const store = await world.openStore();
    const deadline = Date.now() + 5 * 86_400_000;
    try {
      const { record } = await store.openSecretRotation({
        clientId: APP.clientId,
        deadlineAt: deadline,
        source: 'notice',
      });
      await store.transitionSecretRotation(record.id, ['due'], { state: 'requested', countAttempt: true });
      await store.transitionSecretRotation(record.id, ['requested'], {
        state: 'failed',
        lastErrorCode: 'rotation_not_enrolled',
        retryAt: Date.now() + 86_400_000,
      });
    } finally {
      await store.close();
    }
    const failed = await world.cli(['doctor', '--json']);
    const c = check(failed, 'client secret');
    assert.equal(c.verdict, 'warn');
    assert.match(c.detail, /latest rotation failed \(rotation_not_enrolled, 1 attempt\(s\)\)/);
    assert.match(c.detail, new RegExp(`next deadline ${new Date(deadline).toISOString().slice(0, 10)}`));
    assert.match(c.fix!, /Notification Preferences/);
  });

  it('refuses arguments it does not take', async () => {
    const r = await world.cli(['doctor', '--verbose']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^spapi-auth doctor: .*--verbose/);
  });
});
