// One builder per webhook event type, one id scheme (`evt_` + 32 hex), built in one place.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  WEBHOOK_EVENT_TYPES,
  clientSecretExpiringEvent,
  clientSecretInstalledEvent,
  clientSecretRetiredEvent,
  clientSecretRotationFailedEvent,
  clientSecretRotationRequestedEvent,
  invalidClientEvent,
  notificationSetAsideEvent,
  sellerAuthorizedEvent,
  sellerDeletedEvent,
  sellerReauthorizationDueEvent,
  sellerReauthorizationRequiredEvent,
  webhookTestEvent,
} from '../../../src/server/domain/events.js';
import { EVENT_ID_RE } from '../../../src/common/event-id.js';
import { repoRoot } from '../../helpers/cli.js';
import { connectSeller } from '../../helpers/service.js';
import { testOpsService } from '../../helpers/ops-service.js';

const SELLER = {
  sellingPartnerId: 'A1B2C3',
  region: 'eu',
  kind: 'vendor',
  userRef: 'u-7',
  marketplace: 'UK',
} as const;
const AT = 1_700_000_000_000;

test('a builder per event type, each with an evt_<32 hex> id and its documented data', () => {
  const events = [
    sellerAuthorizedEvent(SELLER, { source: 'consent', flow: 'appstore' }, AT),
    sellerReauthorizationRequiredEvent(SELLER, { code: 'invalid_grant' }, AT),
    sellerReauthorizationDueEvent({ ...SELLER, authorizedAt: AT }, AT + 365 * 86_400_000, AT),
    sellerDeletedEvent(SELLER, AT),
    invalidClientEvent('amzn1.application-oa2-client.x', 2, AT),
    clientSecretExpiringEvent(
      'amzn1.application-oa2-client.x',
      AT + 86_400_000,
      'PERIODIC_ROTATION',
      AT,
      'n-1',
    ),
    webhookTestEvent('admin', AT),
    clientSecretRotationRequestedEvent('c', { id: 'rot_1', deadlineAt: AT, attempts: 1 }, AT),
    clientSecretInstalledEvent('c', { expiresAt: AT + 1, previousExpiresAt: AT, secretId: 'sec_1' }, AT),
    clientSecretRetiredEvent('c', { id: 'rot_1', oldExpiresAt: AT }, AT),
    clientSecretRotationFailedEvent(
      'c',
      { code: 'rotation_not_enrolled', deadlineAt: AT, retryAt: null },
      AT,
      'k',
    ),
    notificationSetAsideEvent(
      { messageId: 'm-1', notificationType: 'X', notificationId: 'n-1', code: 'invalid_notification' },
      AT,
    ),
  ];
  assert.deepEqual(events.map((e) => e.type).sort(), [...WEBHOOK_EVENT_TYPES].sort());
  for (const e of events) {
    assert.match(e.id, EVENT_ID_RE, e.type);
    assert.equal(e.createdAt, AT);
  }
  const base = { selling_partner_id: 'A1B2C3', region: 'eu', kind: 'vendor', user_ref: 'u-7' };
  assert.deepEqual(events[0]!.data, { ...base, source: 'consent', flow: 'appstore' });
  assert.deepEqual(sellerAuthorizedEvent(SELLER, { source: 'import' }, AT).data, {
    ...base,
    source: 'import',
  });
  assert.deepEqual(events[1]!.data, { ...base, reason: 'invalid_grant' });
  // The way back: the API call that makes a re-authorization link (the stored marketplace, the
  // owner) and, for sellers only, the Seller Central path (vendors have no Appstore flow).
  assert.deepEqual(events[2]!.data, {
    ...base,
    reauthorize_by: new Date(AT + 365 * 86_400_000).toISOString(),
    reauthorize: {
      api: {
        method: 'POST',
        path: '/v1/connect-sessions',
        body: { selling_partner_id: 'A1B2C3', user_ref: 'u-7', marketplace: 'UK', kind: 'vendor' },
      },
      seller_central: null,
    },
  });
  const ownerless = { ...SELLER, kind: 'seller', userRef: null, marketplace: null } as const;
  assert.deepEqual(
    sellerReauthorizationDueEvent({ ...ownerless, authorizedAt: AT }, 0, AT).data.reauthorize,
    {
      api: {
        method: 'POST',
        path: '/v1/connect-sessions',
        // No stored marketplace: the region's first (it only picks the consent page's host).
        body: { selling_partner_id: 'A1B2C3', user_ref: null, marketplace: 'IE', kind: 'seller' },
      },
      seller_central: 'Seller Central → Manage Your Apps → Re-authorize',
    },
  );
  assert.deepEqual(events[3]!.data, { selling_partner_id: 'A1B2C3', region: 'eu', user_ref: 'u-7' });
  // Fresh ids differ; derived ones repeat for the same subject (the outbox deduplicates on them).
  assert.notEqual(sellerDeletedEvent(SELLER, AT).id, events[3]!.id);
  assert.equal(sellerReauthorizationDueEvent({ ...SELLER, authorizedAt: AT }, 0, AT + 1).id, events[2]!.id);
  assert.notEqual(
    sellerReauthorizationDueEvent({ ...SELLER, authorizedAt: AT + 1 }, 0, AT).id,
    events[2]!.id,
  );
  assert.equal(clientSecretExpiringEvent('c', 0, null, 0, 'n-1').id, events[5]!.id);
  // The rotation's events are derived from what they report: one per step, whichever instance.
  assert.deepEqual(events[7]!.data, { client_id: 'c', deadline: new Date(AT).toISOString(), attempt: 1 });
  assert.equal(
    clientSecretRotationRequestedEvent('c', { id: 'rot_1', deadlineAt: AT, attempts: 1 }, AT + 5).id,
    events[7]!.id,
  );
  assert.deepEqual(events[10]!.data, {
    client_id: 'c',
    code: 'rotation_not_enrolled',
    deadline: new Date(AT).toISOString(),
    retry_at: null,
  });
  assert.deepEqual(events[11]!.data, {
    message_id: 'm-1',
    notification_type: 'X',
    notification_id: 'n-1',
    code: 'invalid_notification',
  });
});

test('no module outside events.ts (and the store vault it re-exports) writes an event type literal', () => {
  const src = join(repoRoot, 'src');
  const offenders: string[] = [];
  for (const f of readdirSync(src, { recursive: true }).map(String)) {
    if (!f.endsWith('.ts') || f.startsWith('emulator')) continue;
    const own = [
      join('server', 'domain', 'events.ts'),
      join('storage', 'token-vault.ts'),
      join('common', 'event-id.ts'),
    ];
    if (own.includes(f)) continue;
    // Code only: doc comments may show an event.
    const text = readFileSync(join(src, f), 'utf8')
      .split('\n')
      .filter((line) => !/^\s*(\*|\/\/|\/\*)/.test(line))
      .join('\n');
    if (/type: '(seller|credentials)\.[a-z_]+'/.test(text) || /webhookEvent\(\s*'/.test(text))
      offenders.push(f);
    if (/evt_\$\{|`evt_/.test(text)) offenders.push(`${f} (its own id scheme)`);
  }
  assert.deepEqual(offenders, []);
});

test('the connect flow writes seller.authorized through the builder: evt_ id, source consent', async (t) => {
  const svc = await testOpsService(t);
  await connectSeller(svc, { userRef: 'acct-42' });
  const [event] = await svc.store.claimWebhookEvents('test', { limit: 5, leaseMs: 1000 });
  assert.equal(event?.type, 'seller.authorized');
  assert.match(event.id, EVENT_ID_RE);
  assert.deepEqual(event.data, {
    selling_partner_id: 'A1EMUSELLERNA01',
    region: 'na',
    kind: 'seller',
    user_ref: 'acct-42',
    source: 'consent',
    flow: 'website',
    store_name: 'Emulator Seller (North America)',
    marketplaces: [
      { id: 'ATVPDKIKX0DER', country: 'US', name: 'Amazon.com', participating: true },
      { id: 'A2EUQ1WTGCTBG2', country: 'CA', name: 'Amazon.ca', participating: true },
      { id: 'A1AM78C64UM0Y8', country: 'MX', name: 'Amazon.com.mx', participating: true },
    ],
  });
});
