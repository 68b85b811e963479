/**
 * `spapi-auth/server`: the service as a library, for embedding it in your own process or tests.
 * Most users run `spapi-auth serve` instead; the webhook helpers are what a receiver needs, and the
 * seller import / export functions what code moving sellers from its own database needs.
 */
export {
  createService,
  startService,
  openServiceStore,
  type ServiceOptions,
  type StartServiceOptions,
  type Service,
  type RunningService,
} from './public-service.js';
export { loadConfig, ConfigError, redactConfig, type Config, type Mode } from '../config.js';
export { verifyWebhookSignature, signWebhook, SIGNATURE_HEADER } from './ops/webhooks.js';
export { WEBHOOK_EVENT_TYPES, type WebhookEventType } from './domain/events.js';
export {
  importSellers,
  IMPORT_CODES,
  type ImportCode,
  type ImportCounts,
  type ImportFailure,
  type ImportNote,
  type ImportOptions,
  type ImportSummary,
} from './sellers/import.js';
export { exportSellers, type ExportProtection, type ExportSummary } from './sellers/export.js';
export {
  readTransferLines,
  transferCipher,
  transferFormatOf,
  type TransferCipher,
  type TransferFormat,
  type TransferLine,
} from './sellers/transfer-format.js';
export { spApiCaller } from './tokens/gateway.js';
