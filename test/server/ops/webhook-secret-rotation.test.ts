// Signing-secret rotation (docs/webhooks.md "Rotating the signing secret", docs/security.md T-F16):
// with SPAPI_AUTH_WEBHOOK_SECRET_PREVIOUS set every delivery carries two `v1=` signatures, so a
// receiver holding only the old secret and one holding only the new one both accept; once the
// previous secret is removed only the new one verifies; a tampered body never does; and neither
// secret shows up in logs, config errors or the dashboard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig } from '../../../src/config.js';
import { signWebhook, verifyWebhookSignature, webhookBody } from '../../../src/server/ops/webhooks.js';
import { webhookEvent } from '../../../src/server/domain/events.js';
import { createCanary } from '../../helpers/canary.js';
import { serviceEnv } from '../../helpers/service.js';
import { makeOpsService, startReceiver, type Received } from '../../helpers/ops-service.js';
import { devApplication } from '../../../src/emulator/dev-app.js';

const OLD = 'whsec_CANARYrotationOLD_0123456789abcdef';
const NEW = 'whsec_CANARYrotationNEW_fedcba9876543210';
const PASSWORD = 'correct horse battery staple';

const headerOf = (r: Received): string => String(r.headers['spapi-auth-signature']);
const at = (r: Received): (() => number) => {
  const t = Number(/^t=(\d+),/.exec(headerOf(r))?.[1]);
  return () => t * 1000;
};

test('signWebhook with two secrets: two v1= values, each verifies on its own; a third secret and a tampered body do not', () => {
  const body = webhookBody(webhookEvent('seller.deleted', { selling_partner_id: 'A1' }, Date.now()));
  const t = Math.floor(Date.now() / 1000);
  const header = signWebhook([NEW, OLD], body, t);
  assert.match(header, /^t=\d+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
  assert.equal(header, `${signWebhook(NEW, body, t)},${signWebhook(OLD, body, t).split(',')[1]}`);
  assert.equal(verifyWebhookSignature(OLD, header, body), true, 'a receiver with the old secret only');
  assert.equal(verifyWebhookSignature(NEW, header, body), true, 'a receiver with the new secret only');
  assert.equal(verifyWebhookSignature([OLD, NEW], header, body), true, 'a receiver holding both');
  assert.equal(verifyWebhookSignature('whsec_someone_else_entirely', header, body), false);
  assert.equal(verifyWebhookSignature([], header, body), false);
  assert.equal(verifyWebhookSignature(OLD, header, body.replace('A1', 'A2')), false);
  assert.equal(verifyWebhookSignature(NEW, header, body.replace('A1', 'A2')), false);
  // After the overlap: only the new secret signs.
  const after = signWebhook(NEW, body, t);
  assert.equal(verifyWebhookSignature(OLD, after, body), false);
  assert.equal(verifyWebhookSignature(NEW, after, body), true);
  assert.equal(verifyWebhookSignature([OLD, NEW], after, body), true);
  // The order of the v1= values does not matter, nor junk between them.
  const swapped = `t=${t},v1=${'0'.repeat(64)},${header.split(',').slice(1).reverse().join(',')}`;
  assert.equal(verifyWebhookSignature(OLD, swapped, body), true);
  assert.equal(verifyWebhookSignature(NEW, swapped, body), true);
  assert.throws(() => signWebhook([], body, t), TypeError);
});

test('docs/webhooks.md: the verification example accepts either v1= of a two-secret header, a secret or an array of them', async () => {
  const doc = readFileSync(new URL('../../../docs/webhooks.md', import.meta.url), 'utf8');
  const m = /<!-- verify-example -->\s*```js\n([\s\S]*?)```/.exec(doc);
  assert.ok(m, 'docs/webhooks.md lacks the marked verification example');
  const dir = mkdtempSync(join(tmpdir(), 'spapi-webhook-rotation-'));
  try {
    const file = join(dir, 'verify.mjs');
    writeFileSync(file, m[1]!);
    const mod = (await import(pathToFileURL(file).href)) as {
      verifySpapiAuthSignature: (secrets: string | string[], header: string, rawBody: string) => boolean;
    };
    const body = webhookBody(webhookEvent('seller.deleted', { selling_partner_id: 'A1' }, Date.now()));
    const header = signWebhook([NEW, OLD], body, Math.floor(Date.now() / 1000));
    assert.equal(mod.verifySpapiAuthSignature(OLD, header, body), true);
    assert.equal(mod.verifySpapiAuthSignature(NEW, header, body), true);
    assert.equal(mod.verifySpapiAuthSignature([OLD, NEW], header, body), true);
    assert.equal(mod.verifySpapiAuthSignature('whsec_someone_else_entirely', header, body), false);
    assert.equal(mod.verifySpapiAuthSignature(OLD, header, body + ' '), false);
    const after = signWebhook(NEW, body, Math.floor(Date.now() / 1000));
    assert.equal(mod.verifySpapiAuthSignature(OLD, after, body), false);
    assert.equal(mod.verifySpapiAuthSignature(NEW, after, body), true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('rotation end to end: during the overlap old-only and new-only receivers accept; after it only the new secret verifies; no secret in logs or pages', async () => {
  const receiver = await startReceiver([200]);
  const canary = createCanary();
  canary.add('webhook_secret_old', OLD);
  canary.add('webhook_secret_new', NEW);
  const logs: string[] = [];
  const pages: Record<string, string> = {};
  const deliver = async (env: Record<string, string>, label: string): Promise<Received> => {
    const svc = await makeOpsService({
      env: { SPAPI_AUTH_WEBHOOK_URL: receiver.url, SPAPI_AUTH_ADMIN_PASSWORD: PASSWORD, ...env },
    });
    try {
      const before = receiver.received.length;
      await svc.store.enqueueWebhookEvents([
        webhookEvent('seller.deleted', { selling_partner_id: 'A1ROTATION' }, Date.now()),
      ]);
      assert.equal(await svc.ops.webhooks.runOnce(), 1);
      assert.equal(receiver.received.length, before + 1);
      pages[`${label} config`] = JSON.stringify(svc.config) + String(svc.config);
      const metrics = await svc.app.fetch(new Request(`${svc.config.publicUrl}/metrics`));
      pages[`${label} /metrics`] = await metrics.text();
      return receiver.received[before]!;
    } finally {
      await svc.close();
      logs.push(...svc.logs);
    }
  };
  try {
    // 1. Before: the old secret alone.
    const before = await deliver({ SPAPI_AUTH_WEBHOOK_SECRET: OLD }, 'before');
    assert.match(headerOf(before), /^t=\d+,v1=[0-9a-f]{64}$/);
    // 2. The overlap: the new secret, the old one as the previous.
    const overlap = await deliver(
      { SPAPI_AUTH_WEBHOOK_SECRET: NEW, SPAPI_AUTH_WEBHOOK_SECRET_PREVIOUS: OLD },
      'overlap',
    );
    assert.match(headerOf(overlap), /^t=\d+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
    const opts = { now: at(overlap) };
    assert.equal(
      verifyWebhookSignature(OLD, headerOf(overlap), overlap.body, opts),
      true,
      'old-only receiver',
    );
    assert.equal(
      verifyWebhookSignature(NEW, headerOf(overlap), overlap.body, opts),
      true,
      'new-only receiver',
    );
    const tampered = overlap.body.replace('A1ROTATION', 'A1TAMPERED');
    assert.equal(verifyWebhookSignature(OLD, headerOf(overlap), tampered, opts), false);
    assert.equal(verifyWebhookSignature(NEW, headerOf(overlap), tampered, opts), false);
    // 3. After: the previous secret removed.
    const after = await deliver({ SPAPI_AUTH_WEBHOOK_SECRET: NEW }, 'after');
    assert.match(headerOf(after), /^t=\d+,v1=[0-9a-f]{64}$/);
    const afterOpts = { now: at(after) };
    assert.equal(verifyWebhookSignature(NEW, headerOf(after), after.body, afterOpts), true);
    assert.equal(verifyWebhookSignature(OLD, headerOf(after), after.body, afterOpts), false);
    assert.equal(verifyWebhookSignature([OLD, NEW], headerOf(after), after.body, afterOpts), true);
    // Received headers and bodies hold signatures (MACs), never a secret.
    canary.assertClean({
      logs: logs.join('\n'),
      ...pages,
      received: receiver.received.map((r) => JSON.stringify(r.headers) + r.body).join('\n'),
    });
    assert.ok(logs.length > 0, 'the services logged something to sweep');
  } finally {
    await receiver.close();
  }
});

test('config: SPAPI_AUTH_WEBHOOK_SECRET_PREVIOUS needs the new secret beside it and must differ from it; errors never echo a secret', () => {
  const base = serviceEnv(devApplication('http://localhost:3000'));
  const ok = loadConfig(
    { ...base, SPAPI_AUTH_WEBHOOK_SECRET: NEW, SPAPI_AUTH_WEBHOOK_SECRET_PREVIOUS: OLD },
    {
      mode: 'serve',
    },
  );
  assert.equal(ok.webhookSecretPrevious, OLD);
  assert.doesNotMatch(JSON.stringify(ok), /CANARYrotation/);
  const messages: string[] = [];
  for (const env of [
    { SPAPI_AUTH_WEBHOOK_SECRET_PREVIOUS: OLD },
    { SPAPI_AUTH_WEBHOOK_SECRET: OLD, SPAPI_AUTH_WEBHOOK_SECRET_PREVIOUS: OLD },
  ]) {
    const err = (() => {
      try {
        loadConfig({ ...base, ...env }, { mode: 'serve' });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(err instanceof ConfigError, 'refused');
    assert.equal(err.variable, 'SPAPI_AUTH_WEBHOOK_SECRET_PREVIOUS');
    messages.push(err.message, String(err.stack));
  }
  const canary = createCanary();
  canary.add('webhook_secret_old', OLD);
  canary.assertClean({ 'config errors': messages.join('\n') });
});
