/**
 * The overview (`/admin`): counts by status, the webhook outbox depth, the 24-hour chart, LWA
 * health and the sellers that need re-authorization.
 */
import { html, type SafeHtml } from '../http/html.js';
import type { ClientSecretRing } from '../ops/rotation.js';
import type { ServiceMetrics } from '../ops/metrics.js';
import { activityChart } from './chart.js';
import { sellerTable, stat } from './components.js';
import { STATUS_ORDER, day, pill, when } from './layout.js';
import { noticeOf, type AdminKit } from './kit.js';

/**
 * Registers `GET /admin`.
 *
 * @example
 * registerHomePage(kit);
 */
export function registerHomePage(kit: AdminKit): void {
  const { store } = kit.ctx;
  kit.get('/admin', async (req, a) => {
    const [counts, depth, attention] = await Promise.all([
      store.countSellersByStatus(),
      store.webhookOutboxDepth(),
      store.listSellers({ status: 'reauthorization_required', limit: 10 }),
    ]);
    const total = STATUS_ORDER.reduce((n, s) => n + counts[s], 0);
    const body = html`${noticeOf(req)}
      <h1>Overview</h1>
      <div class="grid">
        ${stat(total, 'Sellers (authorizations)')}
        ${STATUS_ORDER.map((s) => stat(counts[s], html`${pill(s)}`, kit.url(`/admin/sellers?status=${s}`)))}
        ${stat(depth.pending, 'Webhooks pending', kit.url('/admin/webhooks?state=pending'))}
        ${stat(depth.dead, 'Webhooks failed', kit.url('/admin/webhooks?state=dead'))}
      </div>
      <div class="row">
        <section class="card chart">
          <h2>Refreshes and errors, last 24 hours</h2>
          ${activityChart(kit.deps.metrics.activitySeries())}
          <p class="small muted">
            This instance only; restarts clear it. Prometheus has every instance at
            <a href="${kit.url('/metrics')}">/metrics</a>.
          </p>
        </section>
        ${lwaHealthCard(kit.deps.metrics, kit.deps.ring)}
      </div>
      <section class="card tablecard">
        <div class="head"><h2>Need re-authorization</h2></div>
        ${sellerTable(attention.items, 'No seller needs re-authorization.', kit.base)}
      </section>`;
    return kit.render(a, 'overview', 'Overview', body);
  });
}

/** LWA's health as this instance sees it, and the client secrets in use. */
function lwaHealthCard(metrics: ServiceMetrics, ring: ClientSecretRing | undefined): SafeHtml {
  const health = metrics.lwaHealth();
  const lwaState = health.consecutiveFailures >= 3 ? 'bad' : health.consecutiveFailures > 0 ? 'warn' : 'ok';
  const secrets = ring?.describe();
  return html`<section class="card">
    <h2>Login with Amazon</h2>
    <dl class="kv">
      <dt>Health</dt>
      <dd>${pill(lwaState, lwaState === 'ok' ? 'healthy' : lwaState === 'warn' ? 'errors' : 'failing')}</dd>
      <dt>Circuit breaker</dt>
      <dd>
        ${pill(health.breaker, health.breaker === 'unknown' ? 'not reported' : health.breaker.replace('_', ' '))}
      </dd>
      <dt>Failures in a row</dt>
      <dd>${health.consecutiveFailures}</dd>
      <dt>Last success</dt>
      <dd>${when(health.lastSuccessAt)}</dd>
      <dt>Last failure</dt>
      <dd>${when(health.lastFailureAt)}</dd>
      <dt>Calls by outcome</dt>
      <dd>
        ${
          Object.keys(health.callsByOutcome).length === 0
            ? html`<span class="muted">none yet</span>`
            : Object.entries(health.callsByOutcome).map(
                ([k, v]) => html`<div><span class="mono">${k}</span> ${v}</div>`,
              )
        }
      </dd>
      ${
        secrets
          ? html`<dt>Client secrets</dt>
              <dd>
                ${secrets.count} in
                use${
                  secrets.expiries[0]
                    ? html`<div class="small muted">current expires ${day(secrets.expiries[0])}</div>`
                    : ''
                }
              </dd>`
          : ''
      }
    </dl>
  </section>`;
}
