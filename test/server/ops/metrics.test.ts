// /metrics: counters move as the flows run; routes are patterns; no secret, token or seller id in a label.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Histogram, ServiceMetrics } from '../../../src/server/ops/metrics.js';
import { api, connectSeller, PUBLIC_URL } from '../../helpers/service.js';
import { CANARY_SECRET, testOpsService } from '../../helpers/ops-service.js';

const SELLER = 'A1EMUSELLERNA01';

/** The value of one sample line (`name{labels} value`), or undefined. */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

test('counters move as the flows run; the text is valid exposition format without secrets or seller ids', async (t) => {
  const svc = await testOpsService(t);
  const scrape = async (): Promise<string> => {
    svc.ops.metrics.invalidateScrape();
    const res = await svc.app.fetch(new Request(`${PUBLIC_URL}/metrics`));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
    return res.text();
  };
  const before = await scrape();
  assert.equal(sample(before, 'spapi_auth_token_cache_hits_total'), 0);

  await connectSeller(svc);
  for (let i = 0; i < 5; i++)
    assert.equal((await api(svc, 'GET', `/v1/sellers/${SELLER}/access-token`)).status, 200);
  // Expire the token: 20 concurrent callers, one refresh, the rest join it.
  svc.advance(2 * 60 * 60 * 1000);
  const all = await Promise.all(
    Array.from({ length: 20 }, () => api(svc, 'GET', `/v1/sellers/${SELLER}/access-token`)),
  );
  for (const r of all) assert.equal(r.status, 200);
  await api(svc, 'GET', '/v1/sellers/ANOSUCHSELLER1/access-token');

  const text = await scrape();
  assert.equal(sample(text, 'spapi_auth_lwa_calls_total{grant="authorization_code",outcome="ok"}'), 1);
  assert.equal(sample(text, 'spapi_auth_lwa_calls_total{grant="refresh_token",outcome="ok"}'), 1);
  assert.ok(sample(text, 'spapi_auth_token_cache_hits_total')! >= 4);
  assert.ok(sample(text, 'spapi_auth_token_cache_misses_total')! >= 1);
  assert.ok(sample(text, 'spapi_auth_single_flight_joins_total')! >= 1);
  assert.equal(sample(text, 'spapi_auth_refresh_duration_seconds_count'), 1);
  assert.equal(sample(text, 'spapi_auth_refresh_duration_seconds_bucket{le="+Inf"}'), 1);
  assert.equal(sample(text, 'spapi_auth_sellers{status="active"}'), 1);
  assert.equal(sample(text, 'spapi_auth_webhook_outbox_depth{state="pending"}'), 1); // seller.authorized
  assert.ok(
    sample(text, 'spapi_auth_http_requests_total{route="/v1/sellers/:id/access-token",status="200"}')! >= 25,
  );
  assert.equal(
    sample(text, 'spapi_auth_http_requests_total{route="/v1/sellers/:id/access-token",status="404"}'),
    1,
  );
  assert.equal(sample(text, 'spapi_auth_http_requests_total{route="/oauth/callback",status="303"}'), 1);
  // Never a raw path, a seller id, a token or a secret.
  assert.ok(!text.includes(SELLER));
  assert.ok(!text.includes('ANOSUCHSELLER1'));
  assert.ok(!text.includes(CANARY_SECRET));
  assert.ok(!/Atz[ar]\|/.test(text));
  for (const line of text.trim().split('\n')) {
    assert.match(
      line,
      /^(# (HELP|TYPE) \w+ .+|\w+(\{(\w+="[^"\n]*",?)+\})? (-?[\d.]+(e[+-]?\d+)?|NaN))$/,
      line,
    );
  }
  // The dashboard's series saw the refresh.
  const series = svc.ops.metrics.activitySeries();
  assert.equal(series.length, 288);
  assert.equal(
    series.reduce((a, b) => a + b.refreshes, 0),
    1,
  );
});

test('a failed refresh counts as an LWA error and moves the health summary', async (t) => {
  const svc = await testOpsService(t);
  await connectSeller(svc);
  await svc.emulator.control.revoke(SELLER);
  svc.advance(2 * 60 * 60 * 1000);
  assert.equal((await api(svc, 'GET', `/v1/sellers/${SELLER}/access-token`)).status, 409);
  const m = svc.ops.metrics;
  assert.equal(m.lwaCalls.get({ grant: 'refresh_token', outcome: 'invalid_grant' }), 1);
  const health = m.lwaHealth();
  assert.equal(health.consecutiveFailures, 0, 'invalid_grant is the seller, not LWA');
  assert.equal(health.callsByOutcome.invalid_grant, 1);
  assert.equal(
    m.activitySeries().reduce((a, b) => a + b.errors, 0),
    1,
  );
  assert.equal(health.breaker, 'closed');
  // LWA down: server errors count as failures in a row.
  await svc.emulator.control.fault({ target: 'token', status: 503, count: 50 });
  await connectSeller(svc, { sellerId: 'A1EMUSELLEREU01', marketplace: 'DE' }).catch(() => undefined);
  assert.ok(m.lwaHealth().consecutiveFailures >= 1);
  assert.ok(m.lwaCalls.get({ grant: 'authorization_code', outcome: 'server_error' }) >= 1);
});

test('label values that are not code words are replaced; histograms are cumulative', () => {
  const c = new Counter('x_total', 'x', ['route']);
  c.inc({ route: '/v1/sellers/:id' });
  c.inc({ route: 'Atza|secret token\n' });
  const out: string[] = [];
  c.render(out);
  assert.ok(out.includes('x_total{route="/v1/sellers/:id"} 1'));
  assert.ok(out.includes('x_total{route="invalid"} 1'));
  const h = new Histogram('h_seconds', 'h', [0.1, 1]);
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  const lines: string[] = [];
  h.render(lines);
  assert.deepEqual(lines.slice(2), [
    'h_seconds_bucket{le="0.1"} 1',
    'h_seconds_bucket{le="1"} 2',
    'h_seconds_bucket{le="+Inf"} 3',
    'h_seconds_sum 5.55',
    'h_seconds_count 3',
  ]);
  const m = new ServiceMetrics();
  m.request('/healthz', 200);
  m.request('/healthz', 200);
  assert.equal(m.requests('/healthz', 200), 2);
});
