/**
 * The `node:http` adapter: maps Node's request to a {@link ServerRequest} without copying, writes the
 * handler's {@link ServerResponse}, and stops gracefully (no new connections, in-flight requests
 * finish, idle keep-alive sockets closed).
 *
 * Slow and silent clients: a connection has `headersTimeoutMs` from its opening (then from the
 * first byte of each following request) to send the headers, and `requestTimeoutMs` for the whole
 * request; past either it is answered `408` and closed. Node checks both only every
 * `connectionsCheckingInterval` (30 s by default, which stretched a 10 s setting to 30 s and a 30 s
 * one to 61 s): here the check runs every quarter of the shorter timeout, at most every second.
 * Between requests a keep-alive connection is closed after `keepAliveTimeoutMs` (Node adds one
 * second to the advertised `Keep-Alive: timeout=`, so that a client never reuses a connection as it
 * closes). A response sent before its request's body has arrived closes the connection
 * (`Connection: close`) rather than reading a body nobody wants; a body must arrive at
 * {@link MIN_BODY_BYTES_PER_S} or better once its grace time is over. A response the client does
 * not take within `writeTimeoutMs` ends the connection. The connection cap, the per-client share
 * of it and the bound on pipelined requests are in `connections.ts`.
 */
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse as NodeResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  connectionLimit,
  connectionShare,
  openFileLimit,
  trackConnections,
  type ConnectionStats,
} from './connections.js';
import {
  HttpError,
  httpError,
  MAX_BODY_BYTES,
  type Handler,
  type ServerRequest,
  type ServerResponse,
} from './request.js';

/** A listening server. */
export interface RunningServer {
  readonly server: Server;
  /** `http://<host>:<port>` as bound (port 0 resolved). */
  readonly url: string;
  readonly port: number;
  /** Open connections (with and without a request in flight), the cap and what it shed. */
  connections(): ConnectionStats;
  /** Stops accepting connections and resolves when every in-flight request has finished. */
  close(): Promise<void>;
}

/** How {@link listen} treats client connections; each has a default. */
export interface ConnectionOptions {
  /** Time to send a request's headers, from the connection's opening for the first (default 10 s). */
  readonly headersTimeoutMs?: number;
  /** Time to send a whole request, body included (default 30 s); at least `headersTimeoutMs`. */
  readonly requestTimeoutMs?: number;
  /** Idle time between requests on a keep-alive connection (default 5 s). */
  readonly keepAliveTimeoutMs?: number;
  /** The connection cap (default: see {@link connectionLimit}, from `ulimit -n`). */
  readonly maxConnections?: number;
  /** Peers exempt from the per-client share of the cap (the trusted proxies). */
  readonly shareExempt?: (address: string) => boolean;
  /** Time a written response may wait for the client to take it before the connection ends (default 10 s). */
  readonly writeTimeoutMs?: number;
}

/**
 * The slowest a request body may arrive: after {@link BODY_GRACE_MS}, at least this many bytes a
 * second on average since the handler started reading it; slower, it is answered `408` and the
 * connection closed, instead of holding a connection for the whole request timeout.
 */
export const MIN_BODY_BYTES_PER_S = 1024;
/** Time a body has before {@link MIN_BODY_BYTES_PER_S} applies (a whole small body arrives in it). */
export const BODY_GRACE_MS = 2_000;
const BODY_RATE_CHECK_MS = 250;

/**
 * How often Node looks for connections past their header or request timeout: a quarter of the
 * shorter one, between 50 ms and 1 s, so that a timeout fires within a quarter of its value (at
 * most a second) after it is due.
 *
 * @example
 * checkingIntervalMs(10_000, 30_000); // 1000
 */
export function checkingIntervalMs(headersTimeoutMs: number, requestTimeoutMs: number): number {
  return Math.min(1000, Math.max(50, Math.floor(Math.min(headersTimeoutMs, requestTimeoutMs) / 4)));
}

class NodeRequest implements ServerRequest {
  readonly method: string;
  readonly path: string;
  readonly rawQuery: string;
  private read = false;
  constructor(private readonly req: IncomingMessage) {
    this.method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    this.path = q < 0 ? url : url.slice(0, q);
    this.rawQuery = q < 0 ? '' : url.slice(q + 1);
  }
  header(name: string): string | undefined {
    const v = this.req.headers[name];
    return Array.isArray(v) ? v.join(', ') : v;
  }
  get remoteAddress(): string {
    return this.req.socket.remoteAddress ?? '';
  }
  body(): Promise<Uint8Array> {
    if (this.read) return Promise.reject(new Error('body already read'));
    this.read = true;
    const req = this.req;
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const started = Date.now();
      const rateCheck = setInterval(() => {
        const elapsed = Date.now() - started;
        if (elapsed < BODY_GRACE_MS || size >= (MIN_BODY_BYTES_PER_S * (elapsed - BODY_GRACE_MS)) / 1000)
          return;
        clearInterval(rateCheck);
        req.removeAllListeners('data');
        reject(httpError('request_timeout'));
      }, BODY_RATE_CHECK_MS);
      rateCheck.unref();
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY_BYTES) {
          clearInterval(rateCheck);
          req.removeAllListeners('data');
          req.resume();
          reject(httpError('payload_too_large'));
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => {
        clearInterval(rateCheck);
        resolve(Buffer.concat(chunks));
      });
      req.on('error', (err) => {
        clearInterval(rateCheck);
        reject(err);
      });
    });
  }
}

/**
 * Serves `handler` on `host:port` (port 0 picks a free one).
 *
 * @example
 * const running = await listen(app.handle, { port: 3000, host: '127.0.0.1' });
 * process.on('SIGTERM', () => void running.close());
 */
export function listen(
  handler: Handler,
  opts: { port: number; host: string } & ConnectionOptions,
): Promise<RunningServer> {
  const headersTimeout = opts.headersTimeoutMs ?? 10_000;
  const requestTimeout = Math.max(headersTimeout, opts.requestTimeoutMs ?? 30_000);
  const drains = drainWatch(opts.writeTimeoutMs ?? 10_000);
  let tracker: ReturnType<typeof trackConnections> | undefined;
  const server = createServer(
    {
      // Resist slow and silent clients (slowloris): see the module comment.
      headersTimeout,
      requestTimeout,
      connectionsCheckingInterval: checkingIntervalMs(headersTimeout, requestTimeout),
      maxHeaderSize: 16 * 1024,
      keepAliveTimeout: opts.keepAliveTimeoutMs ?? 5_000,
    },
    (req, res) => {
      const done = tracker!.requestStarted(req.socket);
      // Not served: the tracker answers it (503) or has closed the socket.
      if (done === undefined) return;
      // `on`, not `once`: `done` runs once by itself, and a once-wrapper per request is measurable.
      res.on('close', done);
      const out = handler(new NodeRequest(req));
      if (out instanceof Promise) {
        out.then(
          (r) => write(req, res, r, drains),
          () => fail(req, res),
        );
      } else {
        write(req, res, out, drains);
      }
    },
  );
  const limit = opts.maxConnections ?? connectionLimit(undefined, openFileLimit()).limit;
  tracker = trackConnections(server, limit, {
    ...connectionShare(limit),
    ...(opts.shareExempt === undefined ? {} : { exempt: opts.shareExempt }),
  });
  const connections = tracker.stats;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      const addr = server.address() as AddressInfo;
      const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      resolve({
        server,
        port: addr.port,
        url: `http://${host}:${addr.port}`,
        connections,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeIdleConnections();
          }),
      });
    });
  });
}

function write(req: IncomingMessage, res: NodeResponse, r: ServerResponse, drains: DrainWatch): void {
  const body = r.body;
  // The request's body has not all arrived (the handler answered without reading it, or stopped
  // at the size limit): close after the response rather than read the rest.
  if (bodyPending(req)) res.setHeader('connection', 'close');
  // With its length known, Node sends headers and body in one write; without it, writeHead()
  // fixes chunked encoding before end() sees the body (a size line, the body and a final chunk:
  // several buffers and a writev on every response).
  if (body !== null && r.status !== 204 && r.status !== 304 && r.headers['content-length'] === undefined) {
    r.headers['content-length'] = String(
      typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
    );
  }
  const socket = res.socket;
  res.writeHead(r.status, r.headers as Record<string, string | string[]>);
  if (body === null) res.end();
  else res.end(body);
  if (socket !== null) drains.watch(socket);
}

/** See {@link drainWatch}. */
interface DrainWatch {
  watch(socket: Socket): void;
}

/**
 * A client that does not read its responses (or reads them a byte at a time) keeps them in this
 * process's memory, in the socket's buffer once the kernel's is full: the buffer must drain within
 * the write timeout, or the connection ends. (The response itself counts as finished as soon as
 * the socket has taken it, so its own events say nothing about the client.) The socket takes a
 * response on the next turn of the event loop (it is corked until then), so the sockets written in
 * one turn are looked at together in the next: one `setImmediate` a turn rather than one per
 * response, on the hot path.
 */
function drainWatch(writeTimeoutMs: number): DrainWatch {
  // A Set: a connection with several pipelined responses in one turn is looked at once.
  let pending = new Set<Socket>();
  const check = (): void => {
    const sockets = pending;
    pending = new Set();
    for (const socket of sockets) {
      if (socket.destroyed || socket.writableLength === 0) continue;
      const timer = setTimeout(() => socket.destroy(), writeTimeoutMs);
      timer.unref();
      const clear = (): void => {
        clearTimeout(timer);
        socket.off('drain', clear);
        socket.off('close', clear);
      };
      socket.once('drain', clear);
      socket.once('close', clear);
    }
  };
  return {
    watch(socket) {
      pending.add(socket);
      if (pending.size === 1) setImmediate(check);
    },
  };
}

/**
 * Whether the request declares a body that has not fully arrived. (A request without a body is
 * not `complete` yet while a synchronous handler runs: Node emits it at the end of its headers.)
 */
function bodyPending(req: IncomingMessage): boolean {
  if (req.complete) return false;
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function fail(req: IncomingMessage, res: NodeResponse): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (bodyPending(req)) res.setHeader('connection', 'close');
  res.statusCode = 500;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end('{"error":{"code":"internal_error","message":"An internal error occurred."}}');
}
