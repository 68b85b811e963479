/**
 * The service as `spapi-auth/server` publishes it: {@link createService} and {@link startService}
 * of `service.ts` with their results narrowed to what an embedding program composes (a config, a
 * store, requests in process, a URL, start and close); the parts inside stay internal.
 */
import type { Config } from '../config.js';
import type { FetchLike } from '../core/http.js';
import type { Store } from '../storage/store.js';
import type { Logger } from './http/log.js';
import * as service from './service.js';

export { openServiceStore } from './service.js';

/** What {@link createService} takes besides the config; every field has a default. */
export interface ServiceOptions {
  /** The store (default: opened from `DATABASE_URL` with the config's key ring); closed with the service. */
  readonly store?: Store;
  /** Where a relative `sqlite:` path of `DATABASE_URL` is taken from (default: the process's). */
  readonly cwd?: string;
  /** The service's logger (default: none). */
  readonly log?: Logger;
  /** The fetch every Amazon call goes through (default: the global one). */
  readonly fetch?: FetchLike;
  /** The fetch webhooks are delivered with (default: the global one). */
  readonly webhookFetch?: FetchLike;
}

/** What {@link startService} takes: {@link ServiceOptions} and the port (default `config.port`; 0: any free one). */
export interface StartServiceOptions extends ServiceOptions {
  readonly port?: number;
}

/** A service built in process: requests go to `fetch`; nothing listens. */
export interface Service {
  readonly config: Config;
  readonly store: Store;
  /** A request in process (`Request → Response`), as if it had come over HTTP. */
  fetch(req: Request): Promise<Response>;
  /** Starts the background work (webhooks, purges, the proactive refresher…). */
  start(): Promise<void>;
  /** Stops the background work, flushes the audit and closes the store. */
  close(): Promise<void>;
}

/** A service listening on `url`; `close()` lets in-flight requests finish first. */
export interface RunningService extends Service {
  readonly url: string;
}

/**
 * Builds the whole service once from a config, without listening.
 *
 * @example
 * const svc = await createService(loadConfig(process.env, { mode: 'serve' }));
 * const res = await svc.fetch(new Request('http://localhost/healthz'));
 * await svc.close();
 */
export async function createService(config: Config, options: ServiceOptions = {}): Promise<Service> {
  return narrow(await service.createService(config, options));
}

/**
 * Builds the service, starts its background work and listens on `config.host:config.port`.
 *
 * @example
 * const svc = await startService(loadConfig(process.env, { mode: 'serve' }));
 * process.once('SIGTERM', () => void svc.close());
 */
export async function startService(
  config: Config,
  options: StartServiceOptions = {},
): Promise<RunningService> {
  const s = await service.startService(config, options);
  return { ...narrow(s), url: s.server.url };
}

function narrow(s: service.ServiceParts): Service {
  return { config: s.config, store: s.store, fetch: s.fetch, start: () => s.start(), close: () => s.close() };
}
