/**
 * The overview (`/admin`): counts by status, the webhook outbox depth, the 24-hour chart, LWA
 * health, the client-secret rotation (with the notifications kept aside) and the sellers that need
 * re-authorization.
 */
import { ADMIN_HOME } from './declarations.js';
import { html, type SafeHtml } from '../http/html.js';
import type { ClientSecretRing } from '../ops/rotation.js';
import type { ServiceMetrics } from '../ops/metrics.js';
import { rotationStatus } from '../ops/secret-rotation.js';
import type { NotificationAsideRecord, SecretRotationRecord } from '../../storage/store.js';
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
  kit.get(ADMIN_HOME, async (req, a) => {
    const [counts, depth, attention, rotations, aside] = await Promise.all([
      store.countSellersByStatus(),
      store.webhookOutboxDepth(),
      store.listSellers({ status: 'reauthorization_required', limit: 10 }),
      store.listSecretRotations(kit.ctx.config.lwaClientId, 5),
      store.listNotificationsAside({ limit: 10 }),
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
      ${rotationCard(kit.deps.metrics, rotations, aside, kit.deps.ring?.describe().expiries[0] ?? null)}
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

/** The client-secret rotation: where the latest stands, the next deadline, the notifications kept aside. */
function rotationCard(
  metrics: ServiceMetrics,
  rotations: readonly SecretRotationRecord[],
  aside: readonly NotificationAsideRecord[],
  secretExpiresAt: number | null,
): SafeHtml {
  const { latest, nextDeadlineAt } = rotationStatus(rotations, secretExpiresAt);
  const held = metrics.queueConsumerHeld?.();
  const tone =
    latest === null ? 'ok' : latest.state === 'failed' ? 'bad' : latest.state === 'requested' ? 'warn' : 'ok';
  return html`<section class="card tablecard">
    <div class="head"><h2>Client-secret rotation</h2></div>
    <dl class="kv">
      <dt>Latest rotation</dt>
      <dd>
        ${latest === null ? html`<span class="muted">no deadline known yet</span>` : pill(tone, latest.state)}
        ${
          latest?.lastErrorCode
            ? html`<div class="small">
                <span class="mono">${latest.lastErrorCode}</span>, ${latest.attempts} attempt(s); next try
                ${when(latest.retryAt)}
              </div>`
            : ''
        }
        ${
          latest?.state === 'installed' && latest.oldExpiresAt !== null
            ? html`<div class="small muted">previous secret kept until ${day(latest.oldExpiresAt)}</div>`
            : ''
        }
      </dd>
      <dt>Next deadline</dt>
      <dd>${nextDeadlineAt === null ? html`<span class="muted">unknown</span>` : day(nextDeadlineAt)}</dd>
      <dt>Notification queue</dt>
      <dd>
        ${
          held === undefined
            ? html`<span class="muted"
                >not consumed by the service (SPAPI_AUTH_NOTIFICATIONS_QUEUE_URL)</span
              >`
            : held
              ? 'consumed by this instance'
              : 'consumed by another instance'
        }
      </dd>
    </dl>
    ${
      aside.length === 0
        ? html`<p class="small muted">No notification kept aside.</p>`
        : html`<table>
            <thead>
              <tr>
                <th>Kept aside</th>
                <th>Type</th>
                <th>Code</th>
                <th>Reason</th>
              </tr>
            </thead>
            <tbody>
              ${aside.map(
                (n) =>
                  html`<tr>
                    <td>${when(n.setAsideAt)}</td>
                    <td class="mono">${n.notificationType ?? '—'}</td>
                    <td class="mono">${n.code}</td>
                    <td>${n.reason}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
    }
  </section>`;
}
