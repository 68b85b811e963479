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
 *
 * One client may hold only a share of the cap (see {@link connectionShare}): a tenth per address
 * (an IPv6 address counted by its /64) and a quarter per network (IPv4 /24, IPv6 /48). A client at
 * its share gives up its own longest-idle connection for a new one, or has the new one refused when
 * all of its connections are busy, so that one client holding its connections busy (the headers of
 * a POST and no body, a response it never reads) cannot hold every connection of the process. The
 * trusted proxies are exempt: their connections carry many clients (the proxy limits those).
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { HTTP_ERRORS } from './errors.js';
import { addressKey, networkKey } from './limits.js';

/**
 * Default of `SPAPI_AUTH_MAX_CONNECTIONS` when the open-file limit allows it.
 *
 * @example
 * connectionLimit(undefined, 65536).limit; // DEFAULT_MAX_CONNECTIONS
 */
export const DEFAULT_MAX_CONNECTIONS = 10_000;

/**
 * What the cap did to a connection: closed the longest-idle one, or refused the new one — at the
 * process's cap, or at the client's share of it (`_share`); or closed a connection that queued
 * more pipelined requests than {@link MAX_PIPELINED} (`pipelined`).
 */
export type ShedAction = 'evicted_idle' | 'refused' | 'evicted_share' | 'refused_share' | 'pipelined';

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

/** Requests one connection may have queued (pipelined) before it is closed. */
export const MAX_PIPELINED = 8;

/** How much of the cap one client may hold. */
export interface ConnectionShare {
  /** Connections per client address (IPv6: per /64). */
  readonly perAddress: number;
  /** Connections per network (IPv4 /24, IPv6 /48). */
  readonly perNetwork: number;
  /** Peers exempt from the share (the trusted proxies). */
  readonly exempt?: (address: string) => boolean;
}

/**
 * The share of a cap: a tenth per address and a quarter per network, never below 64 and 128 (so a
 * small cap is not split into shares too small for one busy client).
 *
 * @example
 * connectionShare(10_000); // { perAddress: 1000, perNetwork: 2500 }
 */
export function connectionShare(limit: number): ConnectionShare {
  return { perAddress: Math.max(64, Math.ceil(limit / 10)), perNetwork: Math.max(128, Math.ceil(limit / 4)) };
}

/** What {@link trackConnections} returns: the per-request hooks and the numbers. */
export interface ConnectionTracker {
  /**
   * Call when a request arrives on `socket`; returns the call to make once its response is done,
   * or undefined when the socket was refused at the cap or closed for queuing too many pipelined
   * requests (the request is then not served).
   */
  requestStarted(socket: Socket): (() => void) | undefined;
  stats(): ConnectionStats;
}

/** Sockets grouped by a key, each group in the order its sockets became idle. */
class Groups {
  private readonly count = new Map<string, number>();
  private readonly idle = new Map<string, Set<Socket>>();
  size(key: string): number {
    return this.count.get(key) ?? 0;
  }
  add(key: string): void {
    this.count.set(key, this.size(key) + 1);
  }
  remove(key: string): void {
    const n = this.size(key) - 1;
    if (n > 0) this.count.set(key, n);
    else this.count.delete(key);
  }
  setIdle(key: string, socket: Socket, idle: boolean): void {
    let set = this.idle.get(key);
    if (idle) {
      if (set === undefined) this.idle.set(key, (set = new Set()));
      set.add(socket);
    } else if (set !== undefined) {
      set.delete(socket);
      if (set.size === 0) this.idle.delete(key);
    }
  }
  oldestIdle(key: string): Socket | undefined {
    return this.idle.get(key)?.values().next().value;
  }
}

interface Tracked {
  inFlight: number;
  /** Address and network keys; undefined for an exempt peer. */
  readonly address: string | undefined;
  readonly network: string | undefined;
}

/**
 * Counts `server`'s connections and enforces `limit` and the clients' `share` of it (see the
 * module comment). Idle connections are kept in insertion-ordered sets (the process's, and each
 * address's and network's), so the longest-idle one is the first entry and every step is O(1).
 *
 * @example
 * const tracker = trackConnections(server, 10_000);
 * const done = tracker.requestStarted(req.socket); res.once('close', done);
 */
export function trackConnections(
  server: Server,
  limit: number,
  share: ConnectionShare = connectionShare(limit),
): ConnectionTracker {
  const tracked = new Map<Socket, Tracked>();
  // Insertion order = the order in which the connections became idle.
  const idle = new Set<Socket>();
  const byAddress = new Groups();
  const byNetwork = new Groups();
  const shed: Record<ShedAction, number> = {
    evicted_idle: 0,
    refused: 0,
    evicted_share: 0,
    refused_share: 0,
    pipelined: 0,
  };
  let active = 0;

  const setIdle = (socket: Socket, t: Tracked, isIdle: boolean): void => {
    if (isIdle) idle.add(socket);
    else idle.delete(socket);
    if (t.address !== undefined) byAddress.setIdle(t.address, socket, isIdle);
    if (t.network !== undefined) byNetwork.setIdle(t.network, socket, isIdle);
  };
  const forget = (socket: Socket): void => {
    const t = tracked.get(socket);
    if (t === undefined) return;
    tracked.delete(socket);
    setIdle(socket, t, false);
    if (t.address !== undefined) byAddress.remove(t.address);
    if (t.network !== undefined) byNetwork.remove(t.network);
    if (t.inFlight > 0) active--;
  };
  const refuse = (socket: Socket, action: 'refused' | 'refused_share'): void => {
    shed[action]++;
    socket.on('error', () => {});
    socket.end(REFUSED, () => socket.destroy());
  };
  const evict = (socket: Socket, action: 'evicted_idle' | 'evicted_share'): void => {
    shed[action]++;
    forget(socket);
    socket.destroy();
  };
  /** Makes room within one group's share; false when all of the group's connections are busy. */
  const withinShare = (groups: Groups, key: string | undefined, max: number): boolean => {
    if (key === undefined || groups.size(key) < max) return true;
    const oldest = groups.oldestIdle(key);
    if (oldest === undefined) return false;
    evict(oldest, 'evicted_share');
    return true;
  };

  server.on('connection', (socket: Socket) => {
    const peer = socket.remoteAddress ?? '';
    const exempt = share.exempt?.(peer) === true;
    const address = exempt ? undefined : addressKey(peer);
    const network = exempt ? undefined : networkKey(peer);
    if (
      !withinShare(byAddress, address, share.perAddress) ||
      !withinShare(byNetwork, network, share.perNetwork)
    ) {
      refuse(socket, 'refused_share');
      return;
    }
    if (tracked.size >= limit) {
      const oldest = idle.values().next();
      if (oldest.done === true) {
        refuse(socket, 'refused');
        return;
      }
      evict(oldest.value, 'evicted_idle');
    }
    const t: Tracked = { inFlight: 0, address, network };
    tracked.set(socket, t);
    if (address !== undefined) byAddress.add(address);
    if (network !== undefined) byNetwork.add(network);
    setIdle(socket, t, true);
    socket.once('close', () => forget(socket));
  });

  return {
    requestStarted(socket) {
      const t = tracked.get(socket);
      if (t === undefined) return undefined;
      if (t.inFlight >= MAX_PIPELINED) {
        // Responses to requests the client keeps sending without reading the answers would
        // otherwise pile up in this process's memory.
        shed.pipelined++;
        forget(socket);
        socket.destroy();
        return undefined;
      }
      t.inFlight++;
      if (t.inFlight === 1) {
        active++;
        setIdle(socket, t, false);
      }
      let done = false;
      return () => {
        if (done) return;
        done = true;
        if (tracked.get(socket) !== t) return;
        t.inFlight--;
        if (t.inFlight === 0) {
          active--;
          setIdle(socket, t, true);
        }
      };
    },
    stats: () => ({ active, idle: tracked.size - active, limit, shed: { ...shed } }),
  };
}
