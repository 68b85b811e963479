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
 * its share has a new connection held until it sends a request; then it gives up its own
 * longest-idle connection for it (within a budget a second), or has the request refused after a
 * delay when all of its connections are busy — so that one client holding its connections busy
 * (the headers of a POST and no body, a response it never reads) cannot hold every connection of
 * the process, nor make it accept and refuse connections as fast as it can reopen them (see
 * {@link trackConnections}). The trusted proxies are exempt: their connections carry many clients
 * (the proxy limits those).
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { HTTP_ERRORS } from './errors.js';
import { addressKey, networkKey, RateLimiter } from './limits.js';

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
  /** Held beside their client's share (see {@link trackConnections}), counted in neither. */
  readonly held: number;
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

/**
 * Idle connections a client at its share may give up for new ones, per second and per connection
 * of its share (a hundredth: 10 a second at a share of 1,000), beyond a burst of a tenth of it.
 */
export const EVICTIONS_PER_S_PER_SHARE = 0.01;

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
  /** The clock of the eviction budget (ms; default Date.now). */
  readonly now?: () => number;
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

/**
 * How long a request on a held connection (see {@link trackConnections}) waits before it is
 * refused: a client reconnecting the moment it is refused would otherwise make the process accept
 * and refuse thousands of connections a second.
 */
export const SHARE_REFUSAL_DELAY_MS = 10_000;

/**
 * Connections a client may hold beside its share, waiting (a multiple of the share): they take only
 * room nobody else is using, since at the cap they are the first to go. In all a client holds at
 * most `1 + HELD_PER_SHARE` times its share.
 */
export const HELD_PER_SHARE = 2;

/**
 * New connections a second an address holding more than a tenth of its share may open, per
 * connection of its share (a tenth: 100 a second at a share of 1,000), beyond a burst of its whole
 * share; past that its new connections are held. A client with few connections open (one that
 * opens a connection per request and closes it) is never counted.
 */
export const ADMISSIONS_PER_S_PER_SHARE = 0.1;

/** What {@link trackConnections} returns: the per-request hooks and the numbers. */
export interface ConnectionTracker {
  /**
   * Call when a request arrives on `socket`; returns the call to make once its response is done,
   * or undefined when the request is not to be served: the tracker answers it (a `503` at once or
   * after {@link SHARE_REFUSAL_DELAY_MS}) or has closed the socket for queuing too many pipelined
   * requests. The caller then leaves the request and the socket alone.
   */
  requestStarted(socket: Socket): (() => void) | undefined;
  stats(): ConnectionStats;
}

/** Sockets grouped by a key, each group in the order its sockets became idle. */
class Groups {
  // One entry per key with a socket: its count and its idle sockets (kept, empty or not, until the
  // last socket leaves, so that a busy key does not allocate a Set each time it goes idle).
  private readonly groups = new Map<string, { count: number; readonly idle: Set<Socket> }>();
  size(key: string | undefined): number {
    return key === undefined ? 0 : (this.groups.get(key)?.count ?? 0);
  }
  add(key: string | undefined): void {
    if (key === undefined) return;
    const group = this.groups.get(key);
    if (group === undefined) this.groups.set(key, { count: 1, idle: new Set() });
    else group.count++;
  }
  remove(key: string | undefined): void {
    if (key === undefined) return;
    const group = this.groups.get(key);
    if (group === undefined) return;
    if (--group.count <= 0) this.groups.delete(key);
  }
  /** Only for a socket {@link add}ed under `key` and not yet {@link remove}d. */
  setIdle(key: string | undefined, socket: Socket, idle: boolean): void {
    if (key === undefined) return;
    const set = this.groups.get(key)?.idle;
    if (set === undefined) return;
    if (idle) set.add(socket);
    else set.delete(socket);
  }
  oldestIdle(key: string | undefined): Socket | undefined {
    return key === undefined ? undefined : this.groups.get(key)?.idle.values().next().value;
  }
}

interface Tracked {
  inFlight: number;
  /** Address and network keys; undefined for an exempt peer. */
  readonly address: string | undefined;
  readonly network: string | undefined;
  /** Opened while its client was at its share: waits outside the share (see trackConnections). */
  held: boolean;
  /** A held connection whose request is to be refused (after the delay). */
  refusing: boolean;
  timer?: NodeJS.Timeout;
}

/** The rate budgets of a share: evictions at the share (per address, per network), and admissions. */
function shareBudgets(share: ConnectionShare): {
  readonly addressEvictions: RateLimiter;
  readonly networkEvictions: RateLimiter;
  readonly admissions: RateLimiter;
} {
  const clock = share.now === undefined ? {} : { now: share.now };
  // Each eviction at a share spends a token of the address's (and the network's) budget.
  const evictions = (perShare: number): RateLimiter =>
    new RateLimiter({
      perMinute: 60 * Math.max(1, perShare * EVICTIONS_PER_S_PER_SHARE),
      burst: Math.max(1, Math.ceil(perShare / 10)),
      ...clock,
    });
  return {
    addressEvictions: evictions(share.perAddress),
    networkEvictions: evictions(share.perNetwork),
    // A busy address (over a tenth of its share) opens new connections within this budget.
    admissions: new RateLimiter({
      perMinute: 60 * Math.max(1, share.perAddress * ADMISSIONS_PER_S_PER_SHARE),
      burst: share.perAddress,
      ...clock,
    }),
  };
}

/**
 * Counts `server`'s connections and enforces `limit` and the clients' `share` of it (see the
 * module comment). Idle connections are kept in insertion-ordered sets (the process's, and each
 * address's and network's), so the longest-idle one is the first entry and every step is O(1).
 *
 * A connection that arrives while its client (address or network) is at its share, or from an
 * address that holds more than a tenth of its share and has spent its admissions
 * ({@link ADMISSIONS_PER_S_PER_SHARE}), is *held*: it counts towards the cap but not the share, and
 * waits for its first request. Then, if the client has fallen below its share (and has an
 * admission left when it needs one) it joins it; if the client has an idle connection it gives
 * that one up for it (at most {@link EVICTIONS_PER_S_PER_SHARE} of its share a second beyond a burst, so that a client
 * cannot turn its own connections over as fast as it can open them: each new one can cost a
 * response, and eight pipelined `GET /openapi.json` are 800 KB); otherwise its request is answered
 * `503` after {@link SHARE_REFUSAL_DELAY_MS} rather than at once, since a client refused at once
 * may reconnect at once; nothing more is read from it meanwhile. A client holds at most
 * `1 + HELD_PER_SHARE` times its share in all, held connections included (beyond that its oldest
 * silent held one is closed for a new one, or the new one refused at once); held connections give
 * way first at the cap. Connections refused at once never reach
 * Node's HTTP layer (no parser is set up for them): the tracker takes over the server's
 * `connection` event and hands only the connections it keeps to Node's own listener.
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
  // Insertion order = the order in which the connections became idle (held silent ones included).
  const idle = new Set<Socket>();
  // Held connections whose request waits to be refused, oldest first.
  const refusing = new Set<Socket>();
  const byAddress = new Groups();
  const byNetwork = new Groups();
  const heldByAddress = new Groups();
  const heldByNetwork = new Groups();
  const { addressEvictions, networkEvictions, admissions } = shareBudgets(share);
  const busyFrom = Math.ceil(share.perAddress / 10);
  /** Whether an address holding more than a tenth of its share has spent its admissions. */
  const overAdmissions = (address: string | undefined): boolean =>
    address !== undefined && byAddress.size(address) >= busyFrom && !admissions.take(address).allowed;
  const shed: Record<ShedAction, number> = {
    evicted_idle: 0,
    refused: 0,
    evicted_share: 0,
    refused_share: 0,
    pipelined: 0,
  };
  let active = 0;

  // A connection's groups: the held ones while it waits beside its share (no array per call: these
  // run on every request).
  const addressGroups = (t: Tracked): Groups => (t.held ? heldByAddress : byAddress);
  const networkGroups = (t: Tracked): Groups => (t.held ? heldByNetwork : byNetwork);
  const setIdle = (socket: Socket, t: Tracked, isIdle: boolean): void => {
    if (isIdle) idle.add(socket);
    else idle.delete(socket);
    addressGroups(t).setIdle(t.address, socket, isIdle);
    networkGroups(t).setIdle(t.network, socket, isIdle);
  };
  let held = 0;
  const join = (socket: Socket, t: Tracked): void => {
    if (t.held) held++;
    addressGroups(t).add(t.address);
    networkGroups(t).add(t.network);
    setIdle(socket, t, t.inFlight === 0);
  };
  const leave = (socket: Socket, t: Tracked): void => {
    if (t.held) held--;
    setIdle(socket, t, false);
    addressGroups(t).remove(t.address);
    networkGroups(t).remove(t.network);
  };
  const forget = (socket: Socket): void => {
    const t = tracked.get(socket);
    if (t === undefined) return;
    tracked.delete(socket);
    leave(socket, t);
    refusing.delete(socket);
    if (t.timer !== undefined) clearTimeout(t.timer);
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
  const atShare = (address: string | undefined, network: string | undefined): boolean =>
    byAddress.size(address) >= share.perAddress || byNetwork.size(network) >= share.perNetwork;
  /** Room for a held connection within its client's held allowance; false when there is none. */
  const heldRoom = (groups: Groups, kept: Groups, key: string | undefined, perShare: number): boolean => {
    if (groups.size(key) + kept.size(key) < perShare * (1 + HELD_PER_SHARE)) return true;
    const oldest = groups.oldestIdle(key);
    if (oldest === undefined) return false;
    evict(oldest, 'evicted_share');
    return true;
  };
  /** Whether a held connection may join its client's share now (giving up an idle one if need be). */
  const joinShare = (t: Tracked): boolean => {
    const overAddress = byAddress.size(t.address) >= share.perAddress;
    const overNetwork = byNetwork.size(t.network) >= share.perNetwork;
    if (!overAddress && !overNetwork) return !overAdmissions(t.address);
    const fromAddress = overAddress ? byAddress.oldestIdle(t.address) : undefined;
    // An idle connection of the address is also one of its network.
    const fromNetwork =
      overNetwork && fromAddress === undefined ? byNetwork.oldestIdle(t.network) : undefined;
    if (
      (overAddress && fromAddress === undefined) ||
      (overNetwork && fromAddress === undefined && fromNetwork === undefined)
    )
      return false;
    if (overAddress && !addressEvictions.take(t.address!).allowed) return false;
    if (overNetwork && !networkEvictions.take(t.network!).allowed) return false;
    const victim = fromAddress ?? fromNetwork;
    if (victim !== undefined) evict(victim, 'evicted_share');
    return true;
  };

  // Node's HTTP server sets each connection up (its parser and per-connection state) in its own
  // `connection` listener: it runs only for the connections kept.
  const serve = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    const peer = socket.remoteAddress ?? '';
    const exempt = share.exempt?.(peer) === true;
    const address = exempt ? undefined : addressKey(peer);
    const network = exempt ? undefined : networkKey(peer);
    const atItsShare = atShare(address, network) || overAdmissions(address);
    if (
      atItsShare &&
      (!heldRoom(heldByAddress, byAddress, address, share.perAddress) ||
        !heldRoom(heldByNetwork, byNetwork, network, share.perNetwork))
    ) {
      refuse(socket, 'refused_share');
      return;
    }
    if (tracked.size >= limit) {
      const oldest = idle.values().next();
      const waiting = refusing.values().next();
      if (oldest.done !== true) evict(oldest.value, 'evicted_idle');
      else if (waiting.done !== true) {
        // It was to be refused anyway: now, to make room.
        forget(waiting.value);
        refuse(waiting.value, 'refused_share');
      } else {
        refuse(socket, 'refused');
        return;
      }
    }
    const t: Tracked = { inFlight: 0, address, network, held: atItsShare, refusing: false };
    tracked.set(socket, t);
    join(socket, t);
    socket.once('close', () => forget(socket));
    for (const listener of serve) listener.call(server, socket);
  });

  return {
    requestStarted(socket) {
      const t = tracked.get(socket);
      if (t === undefined || t.refusing) return undefined;
      if (t.held) {
        leave(socket, t);
        t.held = !joinShare(t);
        if (t.held) {
          // Answered later, so that a client reconnecting at once does not turn this over at once.
          t.refusing = true;
          t.inFlight = 1;
          active++;
          join(socket, t);
          refusing.add(socket);
          // Nothing more is read from it (a body trickling in would cost a read every few bytes).
          (socket as unknown as { _handle?: { readStop?: () => unknown } })._handle?.readStop?.();
          t.timer = setTimeout(() => {
            forget(socket);
            refuse(socket, 'refused_share');
          }, SHARE_REFUSAL_DELAY_MS);
          t.timer.unref();
          return undefined;
        }
        join(socket, t);
      }
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
    stats: () => ({
      active: active - refusing.size,
      idle: tracked.size - active - held + refusing.size,
      held,
      limit,
      shed: { ...shed },
    }),
  };
}
