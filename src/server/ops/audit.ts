/**
 * Buffers audit records off the request path and writes them in batches. Token releases are the
 * most frequent record; under load a window's releases past {@link MAX_RECORDS_PER_FLUSH} are folded
 * into one record per (actor, seller, region, outcome) with a `count`, so auditing can never slow
 * the token API down or grow memory without bound.
 */
import type { Region } from '../../core/marketplaces.js';
import type { AuditInput, Store } from '../../storage/store.js';
import type { Logger } from '../http/log.js';

const MAX_RECORDS_PER_FLUSH = 1000;
// SQLite writes synchronously: a flush of 1,000 records in one transaction held the event loop (and
// every token read queued behind it) for 5-7 ms once a second. Written in slices with a turn of the
// event loop between them, no request waits more than about half a millisecond for the audit.
const RECORDS_PER_WRITE = 100;
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * An in-memory audit buffer flushed every `intervalMs`.
 *
 * @example
 * const audit = new AuditBuffer(store, log);
 * audit.add({ action: 'token.released', actor: key.id, sellingPartnerId, region, outcome: 'ok' });
 * await audit.close();
 */
export class AuditBuffer {
  private records: AuditInput[] = [];
  private folded = new Map<string, { rec: AuditInput; count: number }>();
  private releases = new Map<string, { actor: string; region: Region; n: number; at: number }[]>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Pick<Store, 'appendAudit'>,
    private readonly log: Logger,
    intervalMs = 1000,
    private readonly now: () => number = Date.now,
  ) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  add(rec: AuditInput): void {
    if (this.records.length < MAX_RECORDS_PER_FLUSH) {
      this.records.push(rec.at === undefined ? { ...rec, at: this.now() } : rec);
      return;
    }
    const k = `${rec.action}|${rec.actor ?? ''}|${rec.sellingPartnerId ?? ''}|${rec.region ?? ''}|${rec.outcome ?? ''}`;
    const f = this.folded.get(k);
    if (f) f.count++;
    else this.folded.set(k, { rec: { ...rec, at: this.now() }, count: 1 });
  }

  /**
   * Counts one access-token release: the most frequent record, so it costs a map lookup and an
   * increment; the records are built at flush time.
   */
  release(actor: string, sellingPartnerId: string, region: Region): void {
    const list = this.releases.get(sellingPartnerId);
    if (list === undefined) {
      this.releases.set(sellingPartnerId, [{ actor, region, n: 1, at: this.now() }]);
      return;
    }
    for (const c of list) {
      if (c.actor === actor && c.region === region) {
        c.n++;
        return;
      }
    }
    list.push({ actor, region, n: 1, at: this.now() });
  }

  private drainReleases(): void {
    for (const [sellingPartnerId, list] of this.releases) {
      for (const c of list) {
        const rec: AuditInput = {
          action: 'token.released',
          actor: c.actor,
          sellingPartnerId,
          region: c.region,
          outcome: 'ok',
          at: c.at,
        };
        let n = c.n;
        while (n > 0 && this.records.length < MAX_RECORDS_PER_FLUSH) {
          this.records.push(rec);
          n--;
        }
        if (n > 0)
          this.folded.set(`r|${c.actor}|${c.region}|${sellingPartnerId}|${this.folded.size}`, {
            rec,
            count: n,
          });
      }
    }
    this.releases = new Map();
  }

  /** Writes what is buffered; resolves when written (errors are logged, records dropped). */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      this.drainReleases();
      if (this.records.length === 0 && this.folded.size === 0) return;
      const batch = this.records;
      for (const { rec, count } of this.folded.values()) {
        batch.push({ ...rec, details: { ...rec.details, count } });
      }
      this.records = [];
      this.folded = new Map();
      for (let i = 0; i < batch.length; i += RECORDS_PER_WRITE) {
        if (i > 0) await nextTurn();
        const slice = batch.length <= RECORDS_PER_WRITE ? batch : batch.slice(i, i + RECORDS_PER_WRITE);
        try {
          await this.store.appendAudit(slice);
        } catch (err) {
          this.log.error('audit write failed', { count: slice.length, error_name: (err as Error).name });
        }
      }
    });
    return this.flushing;
  }

  /** Stops the timer and writes what is left. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
