// /metrics beyond the service's own counters: the standard process and runtime metrics under their
// usual names, the optional bearer token, and the Grafana dashboard in docs/ querying only metrics
// that the scrape really has.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { api, connectSeller, PUBLIC_URL } from '../../helpers/service.js';
import { type OpsService, testOpsService } from '../../helpers/ops-service.js';

const METRICS_TOKEN = 'metrics-token-0123456789abcdef';

async function scrape(svc: OpsService, authorization?: string): Promise<Response> {
  return svc.app.fetch(
    new Request(`${PUBLIC_URL}/metrics`, { headers: authorization ? { authorization } : {} }),
  );
}

/** The metric families of an exposition, by `# TYPE` line. */
function families(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(m[1]!, m[2]!);
  return out;
}

test('/metrics has the standard process and runtime metrics beside the service own', async (t) => {
  const svc = await testOpsService(t);
  const res = await scrape(svc);
  assert.equal(res.status, 200);
  const text = await res.text();
  const types = families(text);
  for (const [name, type] of [
    ['process_cpu_seconds_total', 'counter'],
    ['process_cpu_user_seconds_total', 'counter'],
    ['process_resident_memory_bytes', 'gauge'],
    ['process_open_fds', 'gauge'],
    ['process_start_time_seconds', 'gauge'],
    ['nodejs_eventloop_lag_seconds', 'gauge'],
    ['nodejs_eventloop_lag_p99_seconds', 'gauge'],
    ['nodejs_gc_duration_seconds', 'histogram'],
    ['nodejs_active_handles_total', 'gauge'],
    ['nodejs_heap_size_used_bytes', 'gauge'],
    ['spapi_auth_http_requests_total', 'counter'],
  ] as const) {
    assert.equal(types.get(name), type, `${name} is a ${type}`);
  }
  const rss = Number(/^process_resident_memory_bytes (\S+)$/m.exec(text)?.[1]);
  assert.ok(rss > 10_000_000, `resident memory is the process's (${rss} bytes)`);
  assert.ok(!/\n\n/.test(text), 'one exposition without blank lines');
});

test('SPAPI_AUTH_METRICS_RUNTIME=false leaves the process metrics out', async (t) => {
  const svc = await testOpsService(t, { env: { SPAPI_AUTH_METRICS_RUNTIME: 'false' } });
  const types = families(await (await scrape(svc)).text());
  assert.ok(types.has('spapi_auth_http_requests_total'));
  assert.ok(![...types.keys()].some((n) => n.startsWith('process_') || n.startsWith('nodejs_')));
});

test('with SPAPI_AUTH_METRICS_TOKEN, /metrics refuses a missing or wrong bearer token', async (t) => {
  const svc = await testOpsService(t, { env: { SPAPI_AUTH_METRICS_TOKEN: METRICS_TOKEN } });
  for (const auth of [
    undefined,
    'Bearer wrong-token-0123456789abcdef',
    METRICS_TOKEN,
    `Basic ${METRICS_TOKEN}`,
  ]) {
    const res = await scrape(svc, auth);
    assert.equal(res.status, 401, `refused: ${auth ?? 'no header'}`);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
    const body = await res.text();
    assert.equal(JSON.parse(body).error.code, 'unauthorized');
    assert.ok(!body.includes(METRICS_TOKEN) && !body.includes('spapi_auth_'));
  }
  const ok = await scrape(svc, `Bearer ${METRICS_TOKEN}`);
  assert.equal(ok.status, 200);
  assert.ok(families(await ok.text()).has('process_cpu_seconds_total'));
  // The token is never part of the config's printed form.
  assert.ok(!JSON.stringify(svc.config).includes(METRICS_TOKEN));
});

const PROMQL_WORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
]);

/** The metric names a PromQL expression reads (functions, keywords, labels and strings removed). */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  // A word followed by `(` is a function; numbers do not start with a letter.
  return [...bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)]
    .filter((m) => !/^\s*\(/.test(bare.slice(m.index + m[0].length)))
    .map((m) => m[0])
    .filter((w) => !PROMQL_WORDS.has(w));
}

test('docs/grafana-dashboard.json queries only metrics that /metrics has', async (t) => {
  const dashboard = JSON.parse(
    readFileSync(new URL('../../../docs/grafana-dashboard.json', import.meta.url), 'utf8'),
  ) as {
    panels: { title: string; targets?: { expr: string }[] }[];
    templating: { list: { query: { query: string } }[] };
  };
  const exprs = [
    ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: p.title, expr: t.expr }))),
    ...dashboard.templating.list.map((v) => ({
      where: 'variable',
      expr: v.query.query.replace(/^label_values\(([^,]+),.*\)$/, '$1'),
    })),
  ];
  assert.ok(exprs.length >= 20, `the dashboard has its queries (${exprs.length})`);
  const svc = await testOpsService(t);
  await connectSeller(svc);
  assert.equal((await api(svc, 'GET', '/v1/sellers/A1EMUSELLERNA01/access-token')).status, 200);
  const types = families(await (await scrape(svc)).text());
  const missing: string[] = [];
  let checked = 0;
  for (const { where, expr } of exprs) {
    for (const name of metricNames(expr)) {
      checked++;
      const family = name.replace(/_(bucket|sum|count)$/, '');
      const ok = types.has(name) || (family !== name && types.get(family) === 'histogram');
      if (!ok) missing.push(`${where}: ${name}`);
    }
  }
  assert.ok(checked >= exprs.length, 'every query names a metric');
  assert.deepEqual(missing, []);
});

test('the dashboard check sees a metric that does not exist', () => {
  assert.deepEqual(
    metricNames('sum by (le) (rate(spapi_auth_nope_bucket{instance=~"$instance"}[5m])) / time()'),
    ['spapi_auth_nope_bucket'],
  );
  assert.deepEqual(metricNames('histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))'), ['x_bucket']);
});
