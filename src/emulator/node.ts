// Serves an emulator on a TCP port with node:http. Thin: it turns the socket into a Request, and
// the outcome back into bytes — performing socket faults (reset, hang, trickle) for real.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createEmulator, type Emulator } from './emulator.js';
import type { EmulatorOptions } from './types.js';
import { ENDLESS_CHUNK } from './faults.js';
import { createPersistentEmulator, type StateFileStart } from './state-file.js';

/** A running emulator server. */
export interface RunningEmulator {
  /** Its origin, e.g. `http://127.0.0.1:4010`. */
  readonly url: string;
  readonly port: number;
  readonly emulator: Emulator;
  /** With `stateFile`: whether its state was restored, or the file set aside. */
  readonly stateFile?: StateFileStart;
  /** Stops listening and drops every connection (hung ones included); with `stateFile`, writes the last state. */
  close(): Promise<void>;
}

/**
 * The request body as a web stream. Unlike `Readable.toWeb`, cancelling it (a body refused as too
 * large) drains and discards the rest instead of destroying the socket, so the client still
 * receives the 413.
 */
function bodyStream(req: IncomingMessage): ReadableStream<Uint8Array> {
  let cancelled = false;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      req.on('data', (chunk: Buffer) => {
        if (cancelled) return;
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 0) <= 0) req.pause();
      });
      req.on('end', () => !cancelled && controller.close());
      req.on('error', (err) => !cancelled && controller.error(err));
    },
    pull() {
      req.resume();
    },
    cancel() {
      cancelled = true;
      req.resume();
    },
  });
}

function toRequest(req: IncomingMessage, fallbackHost: string, signal: AbortSignal): Request {
  const host = req.headers.host ?? fallbackHost;
  let url: URL;
  try {
    url = new URL(req.url ?? '/', `http://${host}`);
  } catch {
    url = new URL(req.url ?? '/', `http://${fallbackHost}`);
  }
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    try {
      headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
    } catch {
      // A header undici will not carry; node already accepted it, so drop it rather than fail.
    }
  }
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  return new Request(url, {
    method: req.method ?? 'GET',
    headers,
    signal,
    ...(hasBody ? { body: bodyStream(req), duplex: 'half' } : {}),
  } as RequestInit);
}

async function respond(
  emulator: Emulator,
  req: IncomingMessage,
  res: ServerResponse,
  fallbackHost: string,
): Promise<void> {
  const aborter = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) aborter.abort(new Error('client closed the connection'));
  });
  let request: Request;
  try {
    request = toRequest(req, fallbackHost, aborter.signal);
  } catch {
    res
      .writeHead(400, { 'content-type': 'application/json' })
      .end('{"errors":[{"code":"InvalidInput","message":"Malformed request","details":""}]}');
    return;
  }
  const outcome = await emulator.handle(request, aborter.signal);
  if (outcome.kind === 'reset') {
    req.socket.destroy();
    return;
  }
  if (outcome.kind === 'hang') return; // never answer; close() or the client ends it
  const { response, trickleMs, endless } = outcome;
  const headers: Record<string, string> = {};
  response.headers.forEach((value, key) => (headers[key] = value));
  // A body left unread (refused as too large) makes the connection unfit for another request.
  if (!req.complete) headers.connection = 'close';
  if (endless) {
    // Chunked, as fast as the client reads, until it goes away.
    res.writeHead(response.status, headers);
    const chunk = Buffer.alloc(ENDLESS_CHUNK.byteLength, ENDLESS_CHUNK[0]);
    while (!res.destroyed) {
      if (!res.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done).off('close', done);
            resolve();
          };
          res.on('drain', done).on('close', done);
        });
      }
    }
    return;
  }
  const body = response.body ? Buffer.from(await response.arrayBuffer()) : null;
  if (trickleMs === undefined) {
    if (body !== null && !('content-length' in headers)) headers['content-length'] = String(body.byteLength);
    res.writeHead(response.status, headers);
    res.end(body ?? undefined);
    return;
  }
  res.writeHead(response.status, headers);
  res.flushHeaders();
  let offset = 0;
  const timer = setInterval(() => {
    if (body === null || offset >= body.byteLength) {
      clearInterval(timer);
      res.end();
      return;
    }
    res.write(body.subarray(offset, offset + 1));
    offset += 1;
  }, trickleMs);
  res.on('close', () => clearInterval(timer));
}

/**
 * A node:http request listener serving `emulator`, with socket faults performed for real. For a
 * server that mounts the emulator beside its own routes (`spapi-auth dev`); `startEmulator` uses it.
 * `host` names the server when a request has no `Host` header.
 *
 * @example
 * ```ts
 * const emulator = createEmulator({ applications: [devApplication('http://localhost:3000')] });
 * const serveEmulator = emulatorListener(emulator);
 * createServer((req, res) => (isAmazonPath(req.url) ? serveEmulator(req, res) : app(req, res)));
 * ```
 */
export function emulatorListener(
  emulator: Emulator,
  host: () => string = () => 'localhost',
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    respond(emulator, req, res, host()).catch(() => {
      // Only a caller that went away (abort during a delay) lands here: drop the connection.
      if (!res.headersSent) req.socket.destroy();
      else res.end();
    });
  };
}

/**
 * Serves an emulator with node:http, on 127.0.0.1 and a free port by default.
 *
 * @example
 * ```ts
 * const { url, emulator, close } = await startEmulator({ port: 0, latencyMs: 50 });
 * await emulator.control.consentMode('auto');
 * // … point the code under test at `url` …
 * await close();
 * ```
 */
export async function startEmulator(
  options: EmulatorOptions & {
    port?: number;
    host?: string;
    /** Serve an existing emulator instead of creating one from the options. */
    emulator?: Emulator;
    /** Serve https with this key and certificate (PEM), e.g. to test TLS failures with a test CA. */
    tls?: { key: string | Buffer; cert: string | Buffer };
    /**
     * Keep the state in this file across restarts (see `createPersistentEmulator`): the tokens,
     * grants, clock offset, secrets and notifications of the previous run continue.
     */
    stateFile?: string;
    /** With `stateFile`: hears a failed write of the state. */
    onStateWriteError?: (err: Error) => void;
  } = {},
): Promise<RunningEmulator> {
  const persistent =
    options.stateFile === undefined || options.emulator !== undefined
      ? undefined
      : await createPersistentEmulator(options.stateFile, {
          ...options,
          ...(options.onStateWriteError ? { onWriteError: options.onStateWriteError } : {}),
        });
  const emulator = options.emulator ?? persistent?.emulator ?? createEmulator(options);
  const host = options.host ?? '127.0.0.1';
  const sockets = new Set<Socket>();
  let fallbackHost = host;
  const listener = emulatorListener(emulator, () => fallbackHost);
  const server = options.tls
    ? createTlsServer({ key: options.tls.key, cert: options.tls.cert }, listener)
    : createServer(listener);
  server.requestTimeout = 0; // hang faults must outlive the client, not the server
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) {
      socket.end(
        'HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"errors":[{"code":"InvalidInput","message":"Malformed request","details":""}]}',
      );
    } else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;
  fallbackHost = `${shown}:${port}`;
  return {
    url: `${options.tls ? 'https' : 'http'}://${shown}:${port}`,
    port,
    emulator,
    ...(persistent ? { stateFile: persistent.stateFile } : {}),
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      await persistent?.close();
    },
  };
}
