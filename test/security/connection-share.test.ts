// docs/security.md T-C17…T-C20: no socket pattern of one client starves the others. Routes that
// cannot accept a body answer before reading it; a body must keep a minimum rate; a response the
// client does not take ends the connection after the write timeout; a connection queuing too many
// pipelined requests is closed; one client holds only its share of the connection cap. Every socket
// is on 127.0.0.0/8 (several source addresses of loopback) and closed in a finally block; waits are
// bounded polls on what the server did, never a timing assertion.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import {
  HELD_PER_SHARE,
  MAX_PIPELINED,
  SHARE_REFUSAL_DELAY_MS,
  connectionShare,
  trackConnections,
} from '../../src/server/http/connections.js';
import { listen, type RunningServer } from '../../src/server/http/node.js';
import { json, type ServerRequest, type ServerResponse } from '../../src/server/http/request.js';
import { makeOpsService } from '../helpers/ops-service.js';
import { makeService } from '../helpers/service.js';

interface Raw {
  readonly socket: Socket;
  received(): string;
  /** Resolves true once the server closed the connection, false when still open after `limitMs`. */
  closed(limitMs: number): Promise<boolean>;
}

function raw(port: number, from = '127.0.0.1', send?: string): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress: from });
    let buf = '';
    let isClosed = false;
    const closed = new Promise<void>((r) =>
      socket.once('close', () => {
        isClosed = true;
        r();
      }),
    );
    socket.on('data', (d: Buffer) => (buf += d.toString('latin1')));
    socket.on('error', () => {});
    socket.once('connect', () => {
      if (send !== undefined) socket.write(send);
      resolve({
        socket,
        received: () => buf,
        async closed(limitMs) {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([closed, new Promise((r) => (timer = setTimeout(r, limitMs)))]);
          clearTimeout(timer);
          return isClosed;
        },
      });
    });
    socket.once('error', reject);
  });
}

async function until(what: string, ok: () => boolean, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!ok()) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const statusOf = (text: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);

test('T-C17: POST /admin/login with headers and no body is answered at once (dashboard disabled: 404; no session cookie: 403) and closed', async () => {
  for (const env of [{}, { SPAPI_AUTH_ADMIN_PASSWORD: 'correct horse battery staple' }]) {
    const svc =
      env.SPAPI_AUTH_ADMIN_PASSWORD === undefined ? await makeService() : await makeOpsService({ env });
    const running = await listen(svc.app.handle, { port: 0, host: '127.0.0.1' });
    const sockets: Raw[] = [];
    try {
      const headers =
        'POST /admin/login HTTP/1.1\r\nHost: localhost\r\n' +
        'Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n';
      const s = await raw(running.port, '127.0.0.1', headers);
      sockets.push(s);
      await until('an answer without the body', () => s.received().includes('\r\n\r\n'));
      const expected = env.SPAPI_AUTH_ADMIN_PASSWORD === undefined ? 404 : 403;
      assert.equal(statusOf(s.received()), expected);
      assert.match(s.received(), /\r\nconnection: close\r\n/i);
      assert.ok(await s.closed(5_000), 'the connection is closed, not held for the body');
    } finally {
      for (const s of sockets) s.socket.destroy();
      await running.close();
      await svc.close();
    }
  }
});

test('T-C18: a body slower than the minimum rate is answered 408 and the connection closed, long before the request timeout', async () => {
  const svc = await makeService();
  // A request timeout of 60 s: the 408 here comes from the rate rule, not from the timeout.
  const running = await listen(svc.app.handle, { port: 0, host: '127.0.0.1', requestTimeoutMs: 60_000 });
  let s: Raw | undefined;
  try {
    s = await raw(
      running.port,
      '127.0.0.1',
      'POST /v1/connect-sessions HTTP/1.1\r\nHost: localhost\r\n' +
        `Authorization: Bearer ${svc.apiKey}\r\nContent-Type: application/json\r\nContent-Length: 8000\r\n\r\n{`,
    );
    const drip = setInterval(() => s!.socket.write(' '), 200);
    try {
      await until('the 408', () => s!.received().includes('\r\n\r\n'), 20_000);
    } finally {
      clearInterval(drip);
    }
    assert.equal(statusOf(s.received()), 408);
    assert.match(s.received(), /"code":"request_timeout"/);
    assert.ok(await s.closed(5_000), 'closed after the 408');
  } finally {
    s?.socket.destroy();
    await running.close();
    await svc.close();
  }
});

const big = 'x'.repeat(64 * 1024 * 1024);
const handler = (req: ServerRequest): ServerResponse =>
  req.path === '/big'
    ? { status: 200, headers: { 'content-type': 'text/plain' }, body: big }
    : json(200, { ok: true });

test('T-C19: a response the client never takes ends the connection after the write timeout; pipelining past the bound closes the connection', async () => {
  const running = await listen(handler, { port: 0, host: '127.0.0.1', writeTimeoutMs: 500 });
  const sockets: Raw[] = [];
  try {
    // 64 MiB that the client never reads: more than the socket buffers of loopback hold.
    const reader = await raw(running.port, '127.0.0.1', 'GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
    sockets.push(reader);
    reader.socket.pause();
    const open = (): number => running.connections().active + running.connections().idle;
    await until('the server ended the connection', () => open() === 0, 15_000);
    reader.socket.resume(); // a paused socket notices the reset only when it reads again
    assert.ok(await reader.closed(5_000));
    assert.ok(reader.received().length < big.length, 'the response was not all taken');

    // More pipelined requests than the bound, none of their answers read.
    const requests = 'GET /small HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(MAX_PIPELINED * 50);
    const piper = await raw(running.port, '127.0.0.1', requests);
    sockets.push(piper);
    piper.socket.pause();
    await until('the pipelining connection is closed', () => running.connections().shed.pipelined === 1);
    await until('and forgotten', () => open() === 0);

    // A well-behaved client is served meanwhile and after.
    const ok = await raw(running.port, '127.0.0.2', 'GET /small HTTP/1.1\r\nHost: x\r\n\r\n');
    sockets.push(ok);
    await until('the answer', () => ok.received().includes('{"ok":true}'));
  } finally {
    for (const s of sockets) s.socket.destroy();
    await running.close();
  }
});

test('T-C20: one address holds at most its share of the cap; its busy connections cannot lock out another address', async () => {
  const limit = 200;
  const share = connectionShare(limit);
  const gates: (() => void)[] = [];
  const slow = (req: ServerRequest): ServerResponse | Promise<ServerResponse> =>
    req.path === '/slow'
      ? new Promise<ServerResponse>((r) => gates.push(() => r(json(200, { slow: true }))))
      : json(200, { ok: true });
  const running: RunningServer = await listen(slow, { port: 0, host: '127.0.0.1', maxConnections: limit });
  const sockets: Raw[] = [];
  try {
    // 127.0.0.1 fills its share with busy requests.
    for (let i = 0; i < share.perAddress; i++)
      sockets.push(await raw(running.port, '127.0.0.1', 'GET /slow HTTP/1.1\r\nHost: x\r\n\r\n'));
    await until('all busy', () => running.connections().active === share.perAddress);
    // One more from it is refused (503, after the delay): none of its own is idle to give up.
    const refused = await raw(running.port, '127.0.0.1', 'GET /small HTTP/1.1\r\nHost: x\r\n\r\n');
    sockets.push(refused);
    assert.ok(await refused.closed(SHARE_REFUSAL_DELAY_MS + 10_000));
    assert.equal(statusOf(refused.received()), 503);
    assert.equal(running.connections().shed.refused_share, 1);
    // Another address (another /24) is served although the process is far below its cap only
    // because of the share: without it, 127.0.0.1 could have taken all 200.
    const other = await raw(running.port, '127.0.1.7', 'GET /small HTTP/1.1\r\nHost: x\r\n\r\n');
    sockets.push(other);
    await until('the other address is answered', () => other.received().includes('{"ok":true}'));
    // An idle connection from a full address is given up for a new one from the same address.
    for (const g of gates.splice(0, 1)) g();
    await until('one became idle', () => running.connections().active === share.perAddress - 1);
    const again = await raw(running.port, '127.0.0.1', 'GET /small HTTP/1.1\r\nHost: x\r\n\r\n');
    sockets.push(again);
    await until('served after its own idle one was closed', () => again.received().includes('{"ok":true}'));
    assert.equal(running.connections().shed.evicted_share, 1);
  } finally {
    for (const g of gates.splice(0)) g();
    for (const s of sockets) s.socket.destroy();
    await running.close();
  }
});

/** A server of `/small` (answered at once) and `/slow` (held until released) under a tracker. */
async function tracked(limit: number, perAddress: number, now: () => number) {
  const gates: (() => void)[] = [];
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    const done = tracker.requestStarted(req.socket);
    if (done === undefined) return;
    res.once('close', done);
    if (req.url === '/slow') gates.push(() => res.end('slow'));
    else res.end('ok');
  });
  const tracker = trackConnections(server, limit, { perAddress, perNetwork: 10 * perAddress, now });
  const accepted: Socket[] = [];
  server.on('connection', (s: Socket) => accepted.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    tracker,
    gates,
    requests: () => requests,
    accepted,
    close: () =>
      new Promise<void>((r) => {
        for (const g of gates.splice(0)) g();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const SMALL = 'GET /small HTTP/1.1\r\nHost: x\r\n\r\n';
const SLOW = 'GET /slow HTTP/1.1\r\nHost: x\r\n\r\n';

test('T-C21: at its share a client’s new connections wait: silent ones turn nothing over, requests give up at most the eviction budget of idle ones, the rest get 503 after the delay', async () => {
  const clock = 1_000_000;
  const srv = await tracked(1000, 20, () => clock); // burst ceil(20 / 10) = 2; the clock stands still
  const sockets: Raw[] = [];
  try {
    for (let i = 0; i < 20; i++) sockets.push(await raw(srv.port, '127.0.0.1', SMALL));
    await until('20 kept alive, idle', () => sockets.every((s) => s.received().endsWith('ok')));
    // 30 more that send nothing: held beside the share, none of the 20 closed for them.
    const held: Raw[] = [];
    for (let i = 0; i < 30; i++) held.push(await raw(srv.port, '127.0.0.1'));
    sockets.push(...held);
    await until('30 held', () => srv.tracker.stats().held === 30);
    assert.equal(srv.tracker.stats().idle, 20);
    assert.deepEqual(srv.tracker.stats().shed, {
      evicted_idle: 0,
      refused: 0,
      evicted_share: 0,
      refused_share: 0,
      pipelined: 0,
    });
    // All 30 send a request: two give up an idle connection of the share, 28 are refused.
    for (const h of held) h.socket.write(SMALL);
    await until(
      'every held one answered',
      () => held.every((h) => statusOf(h.received()) !== 0),
      SHARE_REFUSAL_DELAY_MS + 10_000,
    );
    const statuses = held.map((h) => statusOf(h.received()));
    assert.equal(statuses.filter((s) => s === 200).length, 2);
    assert.equal(statuses.filter((s) => s === 503).length, 28);
    assert.equal(srv.tracker.stats().shed.evicted_share, 2);
    assert.equal(srv.tracker.stats().shed.refused_share, 28);
  } finally {
    for (const s of sockets) s.socket.destroy();
    await srv.close();
  }
});

test('T-C21: held connections give way first at the cap; past its held allowance a client is refused before the HTTP layer sees the connection', async () => {
  const srv = await tracked(1000, 20, () => 0);
  const sockets: Raw[] = [];
  try {
    for (let i = 0; i < 20; i++) sockets.push(await raw(srv.port, '127.0.0.1', SLOW));
    await until('20 busy', () => srv.tracker.stats().active === 20);
    // Its allowance of held connections, each with a request waiting to be refused.
    for (let i = 0; i < 20 * HELD_PER_SHARE; i++) sockets.push(await raw(srv.port, '127.0.0.1', SMALL));
    await until('held ones waiting', () => srv.requests() === 20 + 20 * HELD_PER_SHARE);
    assert.equal(srv.tracker.stats().held, 20 * HELD_PER_SHARE);
    assert.equal(srv.tracker.stats().active, 20);
    const seen = srv.requests();
    const beyond = await raw(srv.port, '127.0.0.1', SMALL);
    sockets.push(beyond);
    assert.ok(await beyond.closed(10_000), 'refused at once and closed');
    assert.equal(statusOf(beyond.received()), 503);
    assert.equal(srv.requests(), seen, 'its request never reached the HTTP layer');
    assert.equal(srv.tracker.stats().shed.refused_share, 1);
  } finally {
    for (const s of sockets) s.socket.destroy();
    await srv.close();
  }
  // At the cap (30): 20 busy of the share and 10 held ones waiting; another address is served
  // in the room of the oldest waiting one, which is refused now.
  const small = await tracked(30, 20, () => 0);
  const more: Raw[] = [];
  try {
    for (let i = 0; i < 20; i++) more.push(await raw(small.port, '127.0.0.1', SLOW));
    for (let i = 0; i < 10; i++) more.push(await raw(small.port, '127.0.0.1', SMALL));
    await until('30 requests in', () => small.requests() === 30);
    assert.equal(small.tracker.stats().held, 10);
    const other = await raw(small.port, '127.0.1.9', SMALL);
    more.push(other);
    await until('the other address is answered', () => other.received().endsWith('ok'));
    assert.equal(small.tracker.stats().shed.refused, 0);
    assert.equal(small.tracker.stats().shed.refused_share, 1);
    await until('the oldest waiting one is refused', () => statusOf(more[20]!.received()) === 503);
  } finally {
    for (const s of more) s.socket.destroy();
    await small.close();
  }
});

test('T-C21: an address holding more than a tenth of its share opens new connections within its admissions; past them they are held and refused after the delay', async () => {
  const srv = await tracked(1000, 20, () => 0); // admissions: a burst of 20; the clock stands still
  const sockets: Raw[] = [];
  try {
    // 20 at once (18 of them past a tenth of the share spend an admission), then 10 closed.
    for (let i = 0; i < 20; i++) sockets.push(await raw(srv.port, '127.0.0.1', SMALL));
    await until('20 answered', () => sockets.every((s) => s.received().endsWith('ok')));
    for (const s of sockets.splice(0, 10)) s.socket.destroy();
    await until('10 left', () => srv.tracker.stats().idle === 10);
    // Below its share, but with two admissions left: of five new ones, three are held.
    const fresh: Raw[] = [];
    for (let i = 0; i < 5; i++) fresh.push(await raw(srv.port, '127.0.0.1'));
    sockets.push(...fresh);
    await until('15 open', () => srv.tracker.stats().idle + srv.tracker.stats().held === 15);
    assert.equal(srv.tracker.stats().held, 3);
    for (const f of fresh) f.socket.write(SMALL);
    await until(
      'all five answered',
      () => fresh.every((f) => statusOf(f.received()) !== 0),
      SHARE_REFUSAL_DELAY_MS + 10_000,
    );
    const statuses = fresh.map((f) => statusOf(f.received()));
    assert.equal(statuses.filter((s) => s === 200).length, 2);
    assert.equal(statuses.filter((s) => s === 503).length, 3);
    assert.equal(srv.tracker.stats().shed.refused_share, 3);
    // Another address is not counted against it.
    const other = await raw(srv.port, '127.0.1.8', SMALL);
    sockets.push(other);
    await until('the other address is answered', () => other.received().endsWith('ok'));
  } finally {
    for (const s of sockets) s.socket.destroy();
    await srv.close();
  }
});

test('T-C21: nothing more is read from a held connection whose request waits for its refusal', async () => {
  const srv = await tracked(1000, 20, () => 0);
  const sockets: Raw[] = [];
  try {
    for (let i = 0; i < 20; i++) sockets.push(await raw(srv.port, '127.0.0.1', SLOW));
    await until('20 busy', () => srv.tracker.stats().active === 20);
    const post = await raw(
      srv.port,
      '127.0.0.1',
      'POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n' + 'x'.repeat(100),
    );
    sockets.push(post);
    await until('its request waits', () => srv.requests() === 21);
    const server = srv.accepted[20]!;
    const before = server.bytesRead;
    // The rest of a body trickling in (here all at once): left unread in the kernel's buffers.
    post.socket.write('x'.repeat(64 * 1024));
    await until('refused', () => statusOf(post.received()) === 503, SHARE_REFUSAL_DELAY_MS + 10_000);
    assert.ok(
      server.bytesRead - before < 64 * 1024,
      `${server.bytesRead - before} bytes read after it was held`,
    );
  } finally {
    for (const s of sockets) s.socket.destroy();
    await srv.close();
  }
});
