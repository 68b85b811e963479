/**
 * The one storage interface of the service: everything spapi-auth keeps, behind a small set of
 * atomic operations. One SQL implementation over two engines (SQLite, on a file or `:memory:`, and
 * PostgreSQL) passes one contract suite (`test/storage/contract.ts`).
 *
 * One file per concern: the interface of each in `store/<concern>.ts` (sellers, leases, flows,
 * keys, secrets, audit, outbox, rewrap, revocations, rotation, lifecycle), its SQL in `sql/<concern>.ts`; {@link Store}
 * composes them. A new method goes in the concern it belongs to, with its contract tests.
 *
 * Conventions:
 * - Plain objects in and out; timestamps are epoch milliseconds (`number`); absent values are `null`.
 * - Secrets go in and come out as plaintext: the adapter seals them with the key ring it was opened
 *   with (AES-256-GCM, additional data = table, column and row key — see `crypto.ts`) and never
 *   writes them in clear. A value that fails authentication throws {@link StorageIntegrityError}
 *   (code `credential_integrity_error`) and is never returned.
 * - Methods that report a change take `events` (webhook outbox) and `audit` records, written in the
 *   same transaction as the change, so an event is never lost nor emitted for a change that failed.
 * - Every method is one atomic step; none holds a transaction open across a call to Amazon.
 *
 * @example
 * ```ts
 * import { openStore, parseKeyRing } from 'spapi-auth/storage';
 * const store = await openStore('sqlite:./data/spapi-auth.db', { keyRing: parseKeyRing(process.env.SPAPI_AUTH_ENCRYPTION_KEYS!) });
 * const seller = await store.getSeller({ sellingPartnerId: 'A3FHEXAMPLEYWS', region: 'na' });
 * ```
 */
// Named in the TSDoc links above.
import type { StorageIntegrityError } from './errors.js';
import type { ApiKeyStore } from './store/keys.js';
import type { AppSecretStore } from './store/secrets.js';
import type { AuditStore } from './store/audit.js';
import type { FlowStore } from './store/flows.js';
import type { LeaseStore } from './store/leases.js';
import type { LifecycleStore } from './store/lifecycle.js';
import type { OutboxStore } from './store/outbox.js';
import type { RefreshStore } from './store/refresh.js';
import type { RevocationStore } from './store/revocations.js';
import type { RewrapStore } from './store/rewrap.js';
import type { RotationStore } from './store/rotation.js';
import type { SellerStore } from './store/sellers.js';

export type * from './store/audit.js';
export type * from './store/effects.js';
export type * from './store/flows.js';
export type * from './store/keys.js';
export type * from './store/leases.js';
export type * from './store/lifecycle.js';
export type * from './store/outbox.js';
export type * from './store/refresh.js';
export type * from './store/revocations.js';
export type * from './store/rewrap.js';
export type * from './store/rotation.js';
export type * from './store/secrets.js';
export type * from './store/sellers.js';

/**
 * Everything the service keeps. See the module comment for conventions.
 *
 * @example
 * ```ts
 * const store = await openStore('memory:', { keyRing });
 * await store.saveAuthorization({ sellingPartnerId: 'A1', region: 'na', kind: 'seller', userRef: 'u1',
 *   marketplace: 'US', refreshToken: 'Atzr|…', events: [event], audit: [{ action: 'seller.authorized' }] });
 * ```
 */
export interface Store
  extends
    LifecycleStore,
    SellerStore,
    LeaseStore,
    FlowStore,
    ApiKeyStore,
    AppSecretStore,
    AuditStore,
    OutboxStore,
    RefreshStore,
    RevocationStore,
    RewrapStore,
    RotationStore {
  /** `sqlite` (also for `memory:`) or `postgres`. */
  readonly engine: 'sqlite' | 'postgres';
}
