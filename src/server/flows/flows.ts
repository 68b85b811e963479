/**
 * The browser flows: connect links (website workflow, `connect.ts`), the Appstore Login URI with its
 * optional sign-in hop (`appstore.ts`), and the OAuth callback (`callback.ts`), over the shared
 * sessions and transactions of `transaction.ts`.
 */
import type { ServiceContext } from '../context.js';
import type { Router } from '../http/router.js';
import { registerAppstoreRoutes } from './appstore.js';
import { registerCallbackRoutes } from './callback.js';
import { registerConnectRoutes } from './connect.js';

export { FLOW_TTL_MS, bindingCookieName, createFlowSession } from './transaction.js';
export type { AppstorePayload, ConnectPayload } from './transaction.js';
export { checkReturnTo } from './connect.js';

/**
 * Registers the flow routes on `router`.
 *
 * @example
 * registerFlowRoutes(new Router(PARAM_RULES), context);
 */
export function registerFlowRoutes(router: Router, ctx: ServiceContext): void {
  registerConnectRoutes(router, ctx);
  registerAppstoreRoutes(router, ctx);
  registerCallbackRoutes(router, ctx);
}
