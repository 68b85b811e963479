/**
 * Revocations that take effect on every instance at once: each instance reads the store's
 * revocations newer than the last it saw every {@link REVOCATION_POLL_MS} (one indexed query) and
 * applies them — a revoked API key leaves the verified-key cache, a deleted or re-authorized seller's access token
 * leaves the token manager's memory, a logged-out admin session is refused. A cheap version check
 * rather than PostgreSQL `LISTEN/NOTIFY`: nothing is missed when a connection drops or a pooler
 * sits in between, and several processes on one SQLite file (the CLI's `keys revoke`, `sellers
 * delete`) are covered the same way.
 */
import type { SellerTokenKey } from '../core/index.js';
import type { Region } from '../core/marketplaces.js';
import type { RevocationRecord, Store } from '../storage/store.js';
import type { Logger } from './http/log.js';

/** How often an instance reads new revocations: well under the one second a revocation may take. */
export const REVOCATION_POLL_MS = 250;
// A revocation committed late (its time is taken before the commit) is still read this far back.
const SLACK_MS = 5_000;

/** What applying a revocation does in this process. */
export interface RevocationHandlers {
  /** Drop a revoked API key from the verified-key cache. */
  apiKey(id: string): void;
  /** Drop a deleted seller's cached tokens. */
  seller(key: SellerTokenKey): void;
}

/**
 * This process's view of the cluster's revocations.
 *
 * @example
 * const feed = new RevocationFeed(store, { apiKey: (id) => keys.forget(id), seller: (k) => amazon.forget(k) }, log);
 * feed.start();
 * if (feed.isAdminSessionRevoked(session.id)) refuse();
 */
export class RevocationFeed {
  private readonly seen = new Map<string, number>();
  private readonly sessions = new Map<string, number>();
  private latest = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private polling: Promise<void> | undefined;
  private failing = false;

  constructor(
    private readonly store: Pick<Store, 'recordRevocation' | 'listRevocations'>,
    private readonly handlers: RevocationHandlers,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts reading revocations (the first read at once). */
  start(intervalMs = REVOCATION_POLL_MS): void {
    if (this.timer !== undefined) return;
    void this.poll();
    // A tick while a read is still running is skipped, not queued.
    this.timer = setInterval(() => {
      if (this.polling === undefined) void this.poll();
    }, intervalMs);
    this.timer.unref();
  }

  /** Stops reading; waits for a read in flight. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.polling;
  }

  /** Ends an admin session on every instance (here at once, elsewhere at their next read). */
  async revokeAdminSession(id: string, expiresAt: number): Promise<void> {
    this.sessions.set(id, expiresAt);
    await this.store.recordRevocation({ kind: 'admin_session', subject: id, expiresAt });
  }

  /** Whether an admin session was logged out (on any instance, as of the last read). */
  isAdminSessionRevoked(id: string): boolean {
    return this.sessions.has(id);
  }

  /** Reads and applies the revocations recorded up to now (after a read in flight, one more). */
  async poll(): Promise<void> {
    while (this.polling !== undefined) await this.polling;
    this.polling = this.read().finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  private async read(): Promise<void> {
    const since = Math.max(0, this.latest - SLACK_MS);
    let rows: RevocationRecord[];
    try {
      rows = await this.store.listRevocations(since);
    } catch (err) {
      if (!this.failing) {
        this.log.warn('revocations unreadable; retrying', { error_name: (err as Error)?.name ?? 'Error' });
      }
      this.failing = true;
      return;
    }
    this.failing = false;
    for (const r of rows) {
      const id = `${r.kind}\u0000${r.subject}`;
      if (this.seen.get(id) === r.revokedAt) continue;
      this.seen.set(id, r.revokedAt);
      if (r.revokedAt > this.latest) this.latest = r.revokedAt;
      this.apply(r);
    }
    // What is older than the read window cannot come back; expired sessions need no refusal.
    const floor = this.latest - SLACK_MS;
    for (const [id, at] of this.seen) if (at < floor) this.seen.delete(id);
    const now = this.now();
    for (const [id, expiresAt] of this.sessions) if (expiresAt < now) this.sessions.delete(id);
  }

  private apply(r: RevocationRecord): void {
    switch (r.kind) {
      case 'admin_session':
        this.sessions.set(r.subject, r.expiresAt);
        break;
      case 'api_key':
        this.handlers.apiKey(r.subject);
        break;
      case 'seller': {
        const at = r.subject.lastIndexOf(':');
        if (at > 0) {
          this.handlers.seller({
            sellingPartnerId: r.subject.slice(0, at),
            region: r.subject.slice(at + 1) as Region,
          });
        }
        break;
      }
    }
  }
}
