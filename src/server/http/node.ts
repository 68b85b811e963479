/**
 * The `node:http` adapter: maps Node's request to a {@link ServerRequest} without copying, writes the
 * handler's {@link ServerResponse}, and stops gracefully (no new connections, in-flight requests
 * finish, idle keep-alive sockets closed).
 */
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse as NodeResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  HttpError,
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
  /** Stops accepting connections and resolves when every in-flight request has finished. */
  close(): Promise<void>;
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
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY_BYTES) {
          req.removeAllListeners('data');
          req.resume();
          reject(new HttpError(413, 'payload_too_large', 'The body is too large.'));
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
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
export function listen(handler: Handler, opts: { port: number; host: string }): Promise<RunningServer> {
  const server = createServer(
    {
      // Resist slow clients (slowloris): headers within 10 s, the whole request within 30 s.
      headersTimeout: 10_000,
      requestTimeout: 30_000,
      maxHeaderSize: 16 * 1024,
      keepAliveTimeout: 5_000,
    },
    (req, res) => {
      const out = handler(new NodeRequest(req));
      if (out instanceof Promise) {
        out.then(
          (r) => write(res, r),
          () => fail(res),
        );
      } else {
        write(res, out);
      }
    },
  );
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
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeIdleConnections();
          }),
      });
    });
  });
}

function write(res: NodeResponse, r: ServerResponse): void {
  const body = r.body;
  // With its length known, Node sends headers and body in one write; without it, writeHead()
  // fixes chunked encoding before end() sees the body (a size line, the body and a final chunk:
  // several buffers and a writev on every response).
  if (body !== null && r.status !== 204 && r.status !== 304 && r.headers['content-length'] === undefined) {
    r.headers['content-length'] = String(
      typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
    );
  }
  res.writeHead(r.status, r.headers as Record<string, string | string[]>);
  if (body === null) res.end();
  else res.end(body);
}

function fail(res: NodeResponse): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.statusCode = 500;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end('{"error":{"code":"internal_error","message":"An internal error occurred."}}');
}
