/**
 * How the token API answers the core's and the storage layer's errors: one mapping to a status and
 * a registered code, shared by the routes and by `spapi-auth token` (which reports what the API
 * would have answered).
 */
import { isSpapiAuthError } from '../../core/errors.js';
import { StorageError } from '../../storage/errors.js';
import { HttpError } from '../http/request.js';

/**
 * Maps a core or storage error to the API's status and stable code.
 *
 * @example
 * throw tokenApiError(err); // HttpError(409, 'seller_reauthorization_required', …)
 */
export function tokenApiError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (isSpapiAuthError(err)) {
    const retryAfter = String(Math.max(1, Math.ceil((err.retryAfterMs ?? 30_000) / 1000)));
    switch (err.code) {
      case 'reauthorization_required':
        return new HttpError(409, 'seller_reauthorization_required');
      case 'seller_not_found':
        return new HttpError(404, 'seller_not_found', 'No such seller in that region.');
      case 'invalid_client':
        return new HttpError(
          503,
          'upstream_credentials_invalid',
          "Login with Amazon refused the app's client credentials.",
        );
      case 'invalid_scope':
        return new HttpError(400, 'invalid_scope', 'Login with Amazon refused the scope.');
      case 'spapi_request_failed':
      case 'invalid_spapi_response':
        return new HttpError(
          502,
          'upstream_request_failed',
          'The Selling Partner API refused or failed the request.',
        );
      default:
        return new HttpError(
          503,
          'upstream_unavailable',
          'Login with Amazon is unavailable; try again later.',
          {
            'retry-after': retryAfter,
          },
        );
    }
  }
  if (err instanceof StorageError) {
    if (err.code === 'credential_integrity_error') {
      return new HttpError(
        500,
        'credential_integrity_error',
        'A stored credential failed its integrity check.',
      );
    }
    return new HttpError(503, 'store_unavailable', 'The store is unavailable; try again later.', {
      'retry-after': '5',
    });
  }
  throw err;
}
