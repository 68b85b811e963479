/**
 * The admin dashboard (`/admin`): sellers with search, status filter and cursor pages; a seller's
 * detail with its audit trail and a delete action; "Connect a seller"; LWA health; a 24-hour chart
 * of refreshes and errors; the webhook outbox with a retry action. One module per page; what they
 * share (access, CSRF, rendering) is in `kit.ts`.
 *
 * Access: with `SPAPI_AUTH_ADMIN_PASSWORD`, a login form, and/or with `SPAPI_AUTH_ADMIN_OIDC_*`,
 * sign-in through the company's OpenID provider (`oidc.ts`), both ending in a stateless signed
 * session cookie that names the operator (`session.ts`); in dev without a password, open to requests addressed to localhost only; in
 * `serve` without a password, disabled. Every POST needs the session's CSRF token (and, when the
 * browser sends one, a same-origin `Origin`); every value is escaped by the `html` tag.
 */
import type { ServiceContext } from '../context.js';
import type { Router } from '../http/router.js';
import type { Operations } from '../ops/operations.js';
import { registerConnectPage } from './connect.js';
import { registerHomePage } from './home.js';
import { createAdminKit, type AdminDeps } from './kit.js';
import { registerLoginRoutes } from './login.js';
import { registerOidcRoutes } from './oidc-routes.js';
import { registerSellerDetailPage } from './seller-detail.js';
import { registerSellersPage } from './sellers.js';
import { registerWebhooksPage } from './webhooks.js';

export type { AdminDeps } from './kit.js';

/**
 * Registers the dashboard's routes, reading the operations side's metrics and client-secret ring
 * (the operations side registers only its own routes: the dashboard sits above it).
 *
 * @example
 * registerAdminRoutes(router, context, ops);
 */
export function registerAdminRoutes(
  router: Router,
  ctx: ServiceContext,
  ops: Pick<Operations, 'metrics' | 'ring'>,
): void {
  const deps: AdminDeps = {
    metrics: ops.metrics,
    ring: ops.ring,
    ...(ctx.config.webhookUrl !== undefined ? { webhookUrl: ctx.config.webhookUrl } : {}),
  };
  const kit = createAdminKit(router, ctx, deps);
  registerLoginRoutes(kit);
  registerOidcRoutes(kit);
  registerHomePage(kit);
  registerSellersPage(kit);
  registerSellerDetailPage(kit);
  registerConnectPage(kit);
  registerWebhooksPage(kit);
}
