/**
 * How the service answers the core's and the storage layer's errors: the core's codes through the
 * one table `CORE_ERROR_HTTP`, the store's as `credential_integrity_error` or `store_unavailable`;
 * shared by the token API, the browser flows and `spapi-auth token` (which reports what the API
 * would have answered).
 */
import { isSpapiAuthError } from '../../core/errors.js';
import { StorageError } from '../../storage/errors.js';
import { CORE_ERROR_HTTP } from '../http/errors.js';
import { HttpError, httpError } from '../http/request.js';

/**
 * Maps a core or storage error to the API's stable code (and so its registered status); rethrows
 * anything else.
 *
 * @example
 * throw tokenApiError(err); // HttpError 409 seller_reauthorization_required
 */
export function tokenApiError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (isSpapiAuthError(err)) {
    const code = CORE_ERROR_HTTP[err.code];
    if (code !== 'upstream_unavailable') return httpError(code);
    const retryAfter = String(Math.max(1, Math.ceil((err.retryAfterMs ?? 30_000) / 1000)));
    return httpError(code, undefined, { 'retry-after': retryAfter });
  }
  if (err instanceof StorageError) {
    if (err.code === 'credential_integrity_error') return httpError('credential_integrity_error');
    return httpError('store_unavailable', undefined, { 'retry-after': '5' });
  }
  throw err;
}
