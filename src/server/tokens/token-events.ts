/**
 * What the service makes of the core token manager's events: metrics (cache hits, joins, lease
 * waits, refreshes), log lines (re-authorization needed, refused client credentials, refreshes) and
 * audit records (refreshes and their failures, grantless refreshes).
 */
import type { TokenEvent } from '../../core/token-manager.js';
import type { Logger } from '../http/log.js';
import type { AuditBuffer } from '../ops/audit.js';
import type { TokenMetricsSink } from '../ops/metrics.js';

/**
 * The token manager's `onEvent` of a service.
 *
 * @example
 * createTokenManager({ credentials, vault, onEvent: tokenEventHandler({ log, metrics, audit }) });
 */
export function tokenEventHandler(opts: {
  readonly log: Logger;
  readonly metrics?: TokenMetricsSink;
  readonly audit?: AuditBuffer;
}): (e: TokenEvent) => void {
  const { log, metrics, audit } = opts;
  return (e) => {
    if (metrics !== undefined) countEvent(metrics, e);
    logEvent(log, e);
    if (audit !== undefined) auditTokenEvent(audit, e);
  };
}

function logEvent(log: Logger, e: TokenEvent): void {
  switch (e.type) {
    case 'cache_hit':
    case 'vault_hit':
    case 'single_flight_join':
    case 'lease_wait':
      break;
    case 'invalid_grant':
      log.warn('seller needs re-authorization', {
        seller_id: e.key?.sellingPartnerId,
        region: e.key?.region,
      });
      break;
    case 'invalid_client':
      log.error('LWA refused the client credentials', { code: 'invalid_client' });
      break;
    case 'refresh':
      log.info('access token refreshed', {
        seller_id: e.key?.sellingPartnerId,
        region: e.key?.region,
        duration_ms: e.durationMs,
      });
      break;
    default:
      log.info(`token manager: ${e.type}`, {
        seller_id: e.key?.sellingPartnerId,
        region: e.key?.region,
        code: e.code,
      });
  }
}

function countEvent(metrics: TokenMetricsSink, e: TokenEvent): void {
  switch (e.type) {
    case 'cache_hit':
      metrics.cacheHit();
      break;
    case 'vault_hit':
      metrics.cacheMiss();
      break;
    case 'single_flight_join':
      metrics.singleFlightJoin();
      break;
    case 'lease_wait':
      metrics.leaseWait();
      break;
    case 'refresh':
      metrics.cacheMiss();
      metrics.refreshed('ok', (e.durationMs ?? 0) / 1000);
      break;
    case 'refresh_failed':
    case 'invalid_grant':
      metrics.refreshed(e.code ?? e.type, (e.durationMs ?? 0) / 1000);
      break;
    case 'invalid_client':
      metrics.invalidClient();
      metrics.refreshed('invalid_client', (e.durationMs ?? 0) / 1000);
      break;
    default:
      break;
  }
}

/**
 * Turns the token manager's events into audit records: refreshes (and their failures) and
 * grantless refreshes. Cache hits are not audited here (releases are, by the token API).
 *
 * @example
 * tokenEventHandler({ log, metrics, audit }); // token-events.ts calls it for each event
 */
function auditTokenEvent(audit: AuditBuffer, e: TokenEvent): void {
  const where = e.key === undefined ? {} : { sellingPartnerId: e.key.sellingPartnerId, region: e.key.region };
  switch (e.type) {
    case 'refresh':
      audit.add({ action: 'token.refreshed', actor: 'system', ...where, outcome: 'ok' });
      break;
    case 'refresh_failed':
    case 'invalid_grant':
    case 'invalid_client':
      audit.add({ action: 'token.refreshed', actor: 'system', ...where, outcome: e.code ?? e.type });
      break;
    case 'grantless_refresh':
      audit.add({
        action: 'grantless_token.refreshed',
        actor: 'system',
        outcome: 'ok',
        details: { scope: e.scope ?? null },
      });
      break;
    default:
      break;
  }
}
