/**
 * The webhook outbox (`/admin/webhooks`): pending, failed and delivered events, with a retry action
 * (a pending event due now) and a redeliver action (a failed or delivered event queued again, same
 * id, fresh retry schedule).
 */
import {
  ADMIN_WEBHOOKS,
  ADMIN_WEBHOOK_REDELIVER,
  ADMIN_WEBHOOK_RETRY,
  ADMIN_WEBHOOK_TEST,
} from './declarations.js';
import { EVENT_ID_INPUT } from '../../common/event-id.js';
import type { OutboxState, OutboxRecord } from '../../storage/store.js';
import { HttpError, httpError, redirect } from '../http/request.js';
import { html, type SafeHtml } from '../http/html.js';
import { webhookTestEvent } from '../domain/events.js';
import { pill, when } from './layout.js';
import { PAGE_SIZE, adminActor, noticeOf, readForm, type AdminKit } from './kit.js';

const OUTBOX_STATES: readonly OutboxState[] = ['pending', 'dead', 'delivered'];

/**
 * Registers `GET /admin/webhooks`, `POST /admin/webhooks/test`, `POST /admin/webhooks/retry` and
 * `POST /admin/webhooks/redeliver`.
 *
 * @example
 * registerWebhooksPage(kit);
 */
export function registerWebhooksPage(kit: AdminKit): void {
  const { ctx } = kit;
  const { store } = ctx;

  kit.get(ADMIN_WEBHOOKS, async (req, a) => {
    const q = new URLSearchParams(req.rawQuery);
    const state = (q.get('state') ?? 'pending') as OutboxState;
    if (!OUTBOX_STATES.includes(state)) throw httpError('invalid_state');
    const beforeRaw = q.get('before');
    const before = beforeRaw !== null && /^\d{1,15}$/.test(beforeRaw) ? Number(beforeRaw) : undefined;
    const [rows, depth] = await Promise.all([
      store.listWebhookEvents({ state, limit: PAGE_SIZE, ...(before !== undefined ? { before } : {}) }),
      store.webhookOutboxDepth(),
    ]);
    const target = kit.deps.webhookUrl ? new URL(kit.deps.webhookUrl).origin : undefined;
    const label: Record<OutboxState, string> = {
      pending: `Pending (${depth.pending})`,
      dead: `Failed (${depth.dead})`,
      delivered: 'Delivered (7 days)',
    };
    const body = html`${noticeOf(req)}
      <h1>Webhooks</h1>
      <p class="muted">
        ${
          target
            ? html`Delivering to <span class="mono">${target}</span>, signed with
                <span class="mono">Spapi-Auth-Signature</span>.`
            : html`<span class="err">No target configured</span>: set <code>SPAPI_AUTH_WEBHOOK_URL</code> and
                <code>SPAPI_AUTH_WEBHOOK_SECRET</code>. Events wait here until then.`
        }
      </p>
      <form method="post" action="${kit.url('/admin/webhooks/test')}" class="filters">
        <input type="hidden" name="csrf" value="${a.csrf}" />
        <button class="btn ghost" type="submit" id="send-test-event">Send test event</button>
      </form>
      <nav class="tabs">
        ${OUTBOX_STATES.map(
          (s) =>
            html`<a href="${kit.url(`/admin/webhooks?state=${s}`)}" class="${s === state ? 'on' : ''}"
              >${label[s]}</a
            >`,
        )}
      </nav>
      <section class="card tablecard">
        ${
          rows.length === 0
            ? html`<p class="empty">Nothing ${state === 'dead' ? 'failed' : state}.</p>`
            : eventTable(rows, state, a.csrf, kit.base)
        }
        ${
          rows.length === PAGE_SIZE
            ? html`<div class="pager">
                <a
                  class="btn ghost"
                  href="${kit.url(`/admin/webhooks?state=${state}&before=${rows[rows.length - 1]!.seq}`)}"
                  >Older →</a
                >
              </div>`
            : ''
        }
      </section>`;
    return kit.render(a, 'webhooks', 'Webhooks', body);
  });

  kit.add(ADMIN_WEBHOOK_TEST, async (req) => {
    const form = await readForm(req);
    const session = kit.checkPost(req, form);
    const event = webhookTestEvent('admin', ctx.now());
    await store.enqueueWebhookEvents([event]);
    ctx.audit.add({
      action: 'webhook.test_sent',
      actor: adminActor(session),
      outcome: 'ok',
      details: { event_id: event.id },
    });
    return redirect(303, kit.url('/admin/webhooks?state=pending&notice=test_sent'));
  });

  kit.add(ADMIN_WEBHOOK_RETRY, async (req) => {
    const form = await readForm(req);
    const session = kit.checkPost(req, form);
    const id = form.get('id') ?? '';
    if (!EVENT_ID_INPUT.test(id)) throw httpError('invalid_event_id');
    const ok = await store.retryWebhookEvent(id);
    ctx.audit.add({
      action: 'webhook.retried',
      actor: adminActor(session),
      outcome: ok ? 'ok' : 'not_retryable',
      details: { event_id: id },
    });
    const state = form.get('state') === 'dead' ? 'dead' : 'pending';
    return redirect(303, kit.url(`/admin/webhooks?state=${state}&notice=${ok ? 'retried' : 'not_retried'}`));
  });

  // A failed (given-up) or delivered event queued again with the same id: receivers deduplicate on
  // it. The attempt count starts over, so a given-up event gets the whole retry schedule again.
  kit.add(ADMIN_WEBHOOK_REDELIVER, async (req) => {
    const form = await readForm(req);
    const session = kit.checkPost(req, form);
    const id = form.get('id') ?? '';
    if (!EVENT_ID_INPUT.test(id)) throw httpError('invalid_event_id');
    const ok = await store.redeliverWebhookEvent(id);
    ctx.audit.add({
      action: 'webhook.redelivered',
      actor: adminActor(session),
      outcome: ok ? 'ok' : 'not_redeliverable',
      details: { event_id: id },
    });
    const back = form.get('state') === 'delivered' ? 'delivered' : 'dead';
    return redirect(
      303,
      kit.url(
        ok
          ? '/admin/webhooks?state=pending&notice=redelivered'
          : `/admin/webhooks?state=${back}&notice=not_redelivered`,
      ),
    );
  });
}

/** A one-button form posting an event id (with the tab to come back to). */
function actionForm(action: string, id: string, state: OutboxState, csrf: string, label: string): SafeHtml {
  return html`<form method="post" action="${action}">
    <input type="hidden" name="csrf" value="${csrf}" /><input type="hidden" name="id" value="${id}" /><input
      type="hidden"
      name="state"
      value="${state}"
    /><button class="btn ghost" type="submit" data-action="${label === 'Redeliver' ? 'redeliver' : 'retry'}">
      ${label}
    </button>
  </form>`;
}

/** The events of one tab: Retry now on pending ones, Redeliver on failed and delivered ones. */
function eventTable(rows: readonly OutboxRecord[], state: OutboxState, csrf: string, base: string): SafeHtml {
  return html`<table class="rows">
    <thead>
      <tr>
        <th>Event</th>
        <th>Type</th>
        <th>Seller</th>
        <th>Created</th>
        <th>Attempts</th>
        <th>Status</th>
        <th></th>
      </tr>
    </thead>
    <tbody>
      ${rows.map(
        (r) =>
          html`<tr>
            <td data-label="Event" class="mono">${r.id}</td>
            <td data-label="Type" class="mono">${r.type}</td>
            <td data-label="Seller" class="mono">
              ${typeof r.data.selling_partner_id === 'string' ? r.data.selling_partner_id : '—'}
            </td>
            <td data-label="Created">${when(r.createdAt)}</td>
            <td data-label="Attempts">
              ${r.attempts}${r.lastError ? html` <span class="err small mono">${r.lastError}</span>` : ''}
            </td>
            <td data-label="Status">
              ${pill(r.state, r.state === 'dead' ? 'failed' : r.state)}${
                r.state === 'pending' && r.attempts > 0
                  ? html` <span class="small muted">next ${when(r.nextAttemptAt)}</span>`
                  : ''
              }${r.state === 'delivered' ? html` <span class="small muted">${when(r.deliveredAt)}</span>` : ''}
            </td>
            <td data-label="">
              ${
                r.state === 'pending'
                  ? actionForm(`${base}/admin/webhooks/retry`, r.id, state, csrf, 'Retry now')
                  : actionForm(`${base}/admin/webhooks/redeliver`, r.id, state, csrf, 'Redeliver')
              }
            </td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}
