/**
 * A test-only crash hook: with `SPAPI_AUTH_FAULT_POINT` set (refused by the config when
 * `NODE_ENV=production`), the process kills itself with SIGKILL at that point of a code exchange
 * or of a refresh, or right after a new client secret is stored (before its queue message is
 * deleted), so the tests can show that a crash there loses nothing and leaves no half-written
 * row and no stuck lease (docs/security.md T-E3…T-E5). Without the variable nothing is wrapped.
 */
import type { FetchLike } from '../../core/http.js';
import type { Store } from '../../storage/store.js';

/** Ends the process at once, as `kill -9` would: no handler, no flush. */
function crash(): never {
  process.kill(process.pid, 'SIGKILL');
  // SIGKILL is delivered before this line runs; keep the type honest.
  throw new Error('unreachable');
}

async function grantOf(request: Request): Promise<string | null> {
  try {
    return new URLSearchParams(await request.clone().text()).get('grant_type');
  } catch {
    return null;
  }
}

/**
 * Wraps the store and the outbound fetch so that the process dies at `point`.
 *
 * @example
 * const armed = armFaultPoint(config.faultPoint, store);
 * await startService({ config, store: armed.store, fetch: armed.fetch, log });
 */
export function armFaultPoint(
  point: string | undefined,
  store: Store,
  fetch: FetchLike = (r: Request) => globalThis.fetch(r),
): { store: Store; fetch?: FetchLike } {
  if (point === undefined) return { store };
  const wrappedFetch: FetchLike = async (request: Request) => {
    const grant = request.url.endsWith('/auth/o2/token') ? await grantOf(request) : null;
    const response = await fetch(request);
    if (point === 'after_lwa_code_response' && grant === 'authorization_code') crash();
    if (point === 'after_lwa_refresh_response' && grant === 'refresh_token') crash();
    return response;
  };
  const wrappedStore = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (prop === 'acquireRefreshLease' && point === 'after_lease') {
        return async (...args: Parameters<Store['acquireRefreshLease']>) => {
          const lease = await target.acquireRefreshLease(...args);
          if (lease !== null) crash();
          return lease;
        };
      }
      if (prop === 'commitRefresh' && (point === 'before_cas' || point === 'after_cas')) {
        return async (...args: Parameters<Store['commitRefresh']>) => {
          if (point === 'before_cas') crash();
          const ok = await target.commitRefresh(...args);
          crash();
          return ok;
        };
      }
      if (prop === 'saveAppSecret' && point === 'after_new_secret_saved') {
        return async (...args: Parameters<Store['saveAppSecret']>) => {
          const saved = await target.saveAppSecret(...args);
          if (args[0].audit?.some((a) => a.action === 'client_secret.accepted')) crash();
          return saved;
        };
      }
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: wrappedStore, fetch: wrappedFetch };
}
