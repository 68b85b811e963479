/**
 * The connection cap of the `node:http` server. A process keeps at most `limit` client connections
 * open; when one more arrives at the cap, the connection idle the longest (no request in flight:
 * never sent one, still sending its headers, or kept alive after its last response) is closed to
 * make room, so that whoever holds thousands of silent sockets cannot lock real clients out. Only
 * when every connection has a request in flight is the new one refused (`503`, closed).
 *
 * The default cap is {@link DEFAULT_MAX_CONNECTIONS}, lowered when the process's open-file limit
 * (`ulimit -n`) would not hold it with room to spare for the database, outgoing calls to Amazon and
 * files: a process out of file descriptors can accept nothing at all, `/healthz` included.
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { HTTP_ERRORS } from './errors.js';

/**
 * Default of `SPAPI_AUTH_MAX_CONNECTIONS` when the open-file limit allows it.
 *
 * @example
 * connectionLimit(undefined, 65536).limit; // DEFAULT_MAX_CONNECTIONS
 */
export const DEFAULT_MAX_CONNECTIONS = 10_000;

/** What the cap did to a connection: closed the longest-idle one, or refused the new one. */
export type ShedAction = 'evicted_idle' | 'refused';

/** The connections of one server, for `/metrics`. */
export interface ConnectionStats {
  /** Connections with a request in flight. */
  readonly active: number;
  /** Connections without one (new, sending headers, or kept alive between requests). */
  readonly idle: number;
  readonly limit: number;
  /** Connections shed at the cap since start, by action. */
  readonly shed: Readonly<Record<ShedAction, number>>;
}

/**
 * The soft open-file limit of this process (`ulimit -n`) from `/proc/self/limits`; undefined
 * where that file does not exist (not Linux) or says `unlimited`.
 *
 * @example
 * openFileLimit(); // 65536 under systemd's LimitNOFILE=65536
 */
export function openFileLimit(
  read: () => string = () => readFileSync('/proc/self/limits', 'utf8'),
): number | undefined {
  let text: string;
  try {
    text = read();
  } catch {
    return undefined;
  }
  const m = /^Max open files\s+(\d+)\s/m.exec(text);
  return m === null ? undefined : Number(m[1]);
}

/**
 * The connections the open-file limit leaves room for: the limit minus a tenth of it (at least
 * 256) for everything else the process opens (database connections, outgoing calls, files, the
 * event loop's own descriptors); at least 16.
 *
 * @example
 * fdConnectionBound(1024); // 768
 */
export function fdConnectionBound(openFiles: number): number {
  return Math.max(16, openFiles - Math.max(256, Math.ceil(openFiles / 10)));
}

/**
 * The cap to apply: the configured one (or {@link DEFAULT_MAX_CONNECTIONS}), never above what the
 * open-file limit leaves room for. `reducedFrom` is the configured value when it had to be lowered.
 *
 * @example
 * connectionLimit(undefined, 1024); // { limit: 768 }
 * connectionLimit(50_000, 65536); // { limit: 58982, reducedFrom: 50000 }
 */
export function connectionLimit(
  configured: number | undefined,
  openFiles: number | undefined,
): { limit: number; reducedFrom?: number } {
  const wanted = configured ?? DEFAULT_MAX_CONNECTIONS;
  const bound = openFiles === undefined ? Infinity : fdConnectionBound(openFiles);
  if (wanted <= bound) return { limit: wanted };
  return configured === undefined ? { limit: bound } : { limit: bound, reducedFrom: configured };
}

const REFUSED_BODY = JSON.stringify({
  error: { code: 'too_many_connections', message: HTTP_ERRORS.too_many_connections.message },
});
// Written on the raw socket: the connection never reaches the HTTP parser's request handling.
const REFUSED =
  'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n' +
  'Cache-Control: no-store\r\nContent-Type: application/json; charset=utf-8\r\n' +
  `Content-Length: ${Buffer.byteLength(REFUSED_BODY)}\r\n\r\n${REFUSED_BODY}`;

/** What {@link trackConnections} returns: the per-request hooks and the numbers. */
export interface ConnectionTracker {
  /**
   * Call when a request arrives on `socket`; returns the call to make once its response is done,
   * or undefined when the socket was refused at the cap (the request is then not served).
   */
  requestStarted(socket: Socket): (() => void) | undefined;
  stats(): ConnectionStats;
}

/**
 * Counts `server`'s connections and enforces `limit` (see the module comment). Idle connections
 * are kept in a Map in the order they became idle, so the longest-idle one is the first entry and
 * every step is O(1).
 *
 * @example
 * const tracker = trackConnections(server, 10_000);
 * const done = tracker.requestStarted(req.socket); res.once('close', done);
 */
export function trackConnections(server: Server, limit: number): ConnectionTracker {
  const inFlight = new Map<Socket, number>();
  // Insertion order = the order in which the connections became idle.
  const idle = new Set<Socket>();
  const shed: Record<ShedAction, number> = { evicted_idle: 0, refused: 0 };
  let active = 0;

  const forget = (socket: Socket): void => {
    const n = inFlight.get(socket);
    if (n === undefined) return;
    inFlight.delete(socket);
    idle.delete(socket);
    if (n > 0) active--;
  };

  server.on('connection', (socket: Socket) => {
    if (inFlight.size >= limit) {
      const oldest = idle.values().next();
      if (oldest.done === true) {
        shed.refused++;
        socket.on('error', () => {});
        socket.end(REFUSED, () => socket.destroy());
        return;
      }
      shed.evicted_idle++;
      forget(oldest.value);
      oldest.value.destroy();
    }
    inFlight.set(socket, 0);
    idle.add(socket);
    socket.once('close', () => forget(socket));
  });

  return {
    requestStarted(socket) {
      const n = inFlight.get(socket);
      if (n === undefined) return undefined;
      inFlight.set(socket, n + 1);
      if (n === 0) {
        active++;
        idle.delete(socket);
      }
      let done = false;
      return () => {
        if (done) return;
        done = true;
        const m = inFlight.get(socket);
        if (m === undefined) return;
        inFlight.set(socket, m - 1);
        if (m === 1) {
          active--;
          idle.add(socket);
        }
      };
    },
    stats: () => ({ active, idle: inFlight.size - active, limit, shed: { ...shed } }),
  };
}
