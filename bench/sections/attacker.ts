/**
 * The attacker of the `flood` and `sockets` sections, in a process of its own (so that its event
 * loop is not the one of the sellers or the emulator it competes with):
 *
 * - `flood`: `GET <url>` from `addresses` client addresses (an `X-Forwarded-For` per request
 *   through a trusted proxy), each at `perMinute` requests a minute, evenly spread;
 * - `sockets`: holds up to `target` connections from `localAddress`, reopening each one the
 *   service closes, in one of the socket patterns of {@link SocketMode}.
 *
 * Started as `node --import tsx bench/sections/attacker.ts '<json options>'`; runs until SIGTERM,
 * then prints what it did as one JSON line on stdout and exits. Only ever pointed at 127.0.0.1.
 */
import http from 'node:http';
import { connect, type Socket } from 'node:net';

/** The socket patterns of the `sockets` attacker. */
export type SocketMode = 'headers' | 'slow-body' | 'slow-read' | 'idle';

/** Options of the `flood` attacker. */
export interface FloodOptions {
  readonly kind: 'flood';
  readonly url: string;
  /** Client addresses `10.x.y.z`, spread evenly over `networks` /24 networks. */
  readonly addresses: number;
  readonly networks: number;
  readonly perMinute: number;
  readonly connections: number;
}

/** Options of the `sockets` attacker. */
export interface SocketOptions {
  readonly kind: 'sockets';
  readonly host: string;
  readonly port: number;
  readonly localAddress: string;
  readonly mode: SocketMode;
  readonly target: number;
  /** `name=value` of a pre-login admin session (the `headers` and `slow-body` patterns). */
  readonly cookie?: string;
}

/** What the `flood` attacker reports. */
export interface FloodReport {
  readonly sent: number;
  readonly byStatus: Record<string, number>;
  readonly errors: number;
  readonly seconds: number;
}

/** What the `sockets` attacker reports. */
export interface SocketReport {
  /** Connections opened (each reopening counted). */
  readonly opened: number;
  /** Connections the service ended (any reason). */
  readonly closedByService: number;
  /** `503 too_many_connections` answers (refused at the cap or at this client's share). */
  readonly refused: number;
  /** Status lines seen, by status (408 request_timeout, 403…). */
  readonly byStatus: Record<string, number>;
  /** Connections open at each quarter-second sample. */
  readonly openSamples: readonly number[];
}

let finish: () => object = () => ({});
// Run as a script only (flood.ts imports floodAddresses from here).
if (process.argv[1]?.endsWith('attacker.ts') === true) {
  const opts = JSON.parse(process.argv[2] ?? '{}') as FloodOptions | SocketOptions;
  process.once('SIGTERM', () => {
    process.stdout.write(JSON.stringify(finish()) + '\n', () => process.exit(0));
  });
  if (opts.kind === 'flood') flood(opts);
  else sockets(opts);
}

/** `count` addresses `10.a.b.c` over `networks` /24s, the addresses spread evenly over them. */
export function floodAddresses(count: number, networks: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    const net = i % networks;
    return `10.${(net >> 8) & 255}.${net & 255}.${1 + Math.floor(i / networks)}`;
  });
}

function flood(o: FloodOptions): void {
  const addresses = floodAddresses(o.addresses, o.networks);
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.connections });
  const ratePerMs = (addresses.length * o.perMinute) / 60_000;
  const start = performance.now();
  const byStatus: Record<string, number> = {};
  let sent = 0;
  let errors = 0;
  let next = 0;
  let stopped = false;
  finish = () => {
    stopped = true;
    return { sent, byStatus, errors, seconds: (performance.now() - start) / 1000 } satisfies FloodReport;
  };
  const one = (i: number): Promise<void> =>
    new Promise((resolve) => {
      const req = http.get(
        o.url,
        { agent, headers: { 'x-forwarded-for': addresses[i % addresses.length]! } },
        (res) => {
          byStatus[res.statusCode ?? 0] = (byStatus[res.statusCode ?? 0] ?? 0) + 1;
          res.resume();
          res.once('end', resolve);
          res.once('error', resolve);
        },
      );
      sent++;
      req.once('error', () => {
        errors++;
        resolve();
      });
    });
  const worker = async (): Promise<void> => {
    while (!stopped) {
      const i = next++;
      const due = start + i / ratePerMs;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      await one(i);
    }
  };
  for (let w = 0; w < o.connections; w++) void worker();
}

function sockets(o: SocketOptions): void {
  const byStatus: Record<string, number> = {};
  const openSamples: number[] = [];
  let opened = 0;
  let closedByService = 0;
  let refused = 0;
  let open = 0;
  let stopped = false;
  const live = new Set<Socket>();
  const request = (): string => {
    switch (o.mode) {
      case 'headers':
      case 'slow-body':
        return (
          `POST /admin/login HTTP/1.1\r\nHost: localhost\r\nCookie: ${o.cookie ?? ''}\r\n` +
          'Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 4096\r\n\r\n'
        );
      case 'slow-read':
        return 'GET /openapi.json HTTP/1.1\r\nHost: localhost\r\n\r\n'.repeat(8);
      case 'idle':
        return '';
    }
  };
  const openOne = (): void => {
    if (stopped) return;
    opened++;
    const s = connect({ host: o.host, port: o.port, localAddress: o.localAddress });
    live.add(s);
    let ticker: NodeJS.Timeout | undefined;
    let connected = false;
    s.once('connect', () => {
      connected = true;
      open++;
      const head = request();
      if (head !== '') s.write(head);
      // A body at 100 bytes a second: a tenth of the slowest the service accepts.
      if (o.mode === 'slow-body') ticker = setInterval(() => s.write('x'.repeat(25)), 250);
      // Never read: the kernel's buffers fill, then the service's.
      if (o.mode === 'slow-read') s.pause();
    });
    let seen = '';
    s.on('data', (d: Buffer) => {
      if (seen.length > 64) return;
      seen += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(seen);
      if (m !== null) {
        byStatus[m[1]!] = (byStatus[m[1]!] ?? 0) + 1;
        if (m[1] === '503') refused++;
        seen = 'x'.repeat(65);
      }
    });
    s.on('error', () => {});
    s.once('close', () => {
      if (ticker !== undefined) clearInterval(ticker);
      live.delete(s);
      if (connected) open--;
      if (!stopped) {
        closedByService++;
        // Reopened at once: the attacker wants every connection it can hold.
        setImmediate(openOne);
      }
    });
  };
  // Opened in steps so the attacker's own event loop keeps up.
  let started = 0;
  const ramp = setInterval(() => {
    for (let i = 0; i < 200 && started < o.target; i++, started++) openOne();
    if (started >= o.target) clearInterval(ramp);
  }, 20);
  const sampler = setInterval(() => openSamples.push(open), 250);
  finish = () => {
    stopped = true;
    clearInterval(ramp);
    clearInterval(sampler);
    for (const s of live) s.destroy();
    return { opened, closedByService, refused, byStatus, openSamples } satisfies SocketReport;
  };
}
