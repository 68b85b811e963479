// The audit concern: an append-only log of who did what to which seller.
import type { Region } from '../../core/index.js';

/**
 * An audit record to append: who did what to which seller. Never a token or a secret.
 *
 * @example
 * ```ts
 * await store.appendAudit([{ action: 'token.released', actor: apiKey.id, sellingPartnerId: id, region: 'na', outcome: 'cache_hit' }]);
 * ```
 */
export interface AuditInput {
  /** e.g. `seller.authorized`, `token.released`, `seller.deleted`, `api_key.created`. */
  readonly action: string;
  /** Who acted: an API key id, `admin`, `cli`, `system`… */
  readonly actor?: string | null;
  readonly sellingPartnerId?: string | null;
  readonly region?: Region | null;
  /** e.g. `ok`, `cache_hit`, an error code. */
  readonly outcome?: string | null;
  readonly details?: Readonly<Record<string, string | number | boolean | null>>;
  /** Defaults to the store's clock. */
  readonly at?: number;
}

/** A stored audit record. */
export interface AuditRecord {
  /** Increasing; also the paging cursor of {@link AuditStore.listAudit}. */
  readonly id: number;
  readonly at: number;
  readonly action: string;
  readonly actor: string | null;
  readonly sellingPartnerId: string | null;
  readonly region: Region | null;
  readonly outcome: string | null;
  readonly details: Readonly<Record<string, string | number | boolean | null>>;
}

/** The audit log. */
export interface AuditStore {
  appendAudit(records: readonly AuditInput[]): Promise<void>;
  /** Newest first; `before` is an {@link AuditRecord.id} for paging; limit 1…1000, default 100. */
  listAudit(query?: {
    sellingPartnerId?: string;
    region?: Region;
    before?: number;
    limit?: number;
  }): Promise<AuditRecord[]>;
}
