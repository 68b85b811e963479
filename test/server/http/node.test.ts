// The node:http adapter on a real port: graceful shutdown with a request in flight, what Node's
// parser refuses before any handler runs (docs/security.md T-F7, T-F8), and `spapi-auth dev` as a newcomer runs it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listen } from '../../../src/server/http/node.js';
import { json, type ServerRequest } from '../../../src/server/http/request.js';
import { freePort } from '../../helpers/service.js';
import { connectDevSeller, startDev } from '../../helpers/dev.js';

/** Sends raw bytes and returns the status line of the answer. */
function rawHttp(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.includes('\r\n')) {
        socket.destroy();
        resolve(buf.split('\r\n')[0]!);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(buf.split('\r\n')[0] ?? ''));
  });
}

test('graceful close: the in-flight request finishes, then the port is closed', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let entered!: () => void;
  const inHandler = new Promise<void>((r) => (entered = r));
  const running = await listen(
    async (req: ServerRequest) => {
      if (req.path === '/slow') {
        entered();
        await gate;
      }
      return json(200, { ok: req.path });
    },
    { port: 0, host: '127.0.0.1' },
  );
  const inflight = fetch(`${running.url}/slow`);
  // Close only once the request is in the handler (a fixed sleep lost that race on a loaded machine).
  await inHandler;
  const closed = running.close();
  let closedYet = false;
  void closed.then(() => (closedYet = true));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(closedYet, false, 'close waits for the in-flight request');
  release();
  const res = await inflight;
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { ok: '/slow' });
  await closed;
  await assert.rejects(fetch(`${running.url}/other`));
});

test("Node's parser refuses smuggling and oversize before any handler runs", async () => {
  let handled = 0;
  const running = await listen(
    () => {
      handled++;
      return json(200, {});
    },
    { port: 0, host: '127.0.0.1' },
  );
  try {
    const p = running.port;
    assert.match(await rawHttp(p, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n'), / 400 /);
    assert.match(
      await rawHttp(p, 'POST /v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab'),
      / 400 /,
    );
    assert.match(
      await rawHttp(
        p,
        'POST /v1/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n',
      ),
      / 400 /,
    );
    assert.match(
      await rawHttp(p, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(32 * 1024)}\r\n\r\n`),
      / 431 /,
    );
    assert.match(await rawHttp(p, `GET /${'a'.repeat(64 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`), / 431 /);
    assert.equal(handled, 0);
  } finally {
    await running.close();
  }
});

test('spapi-auth dev in an empty folder: data/ created, key ring 0600, the newcomer connects a seller from the start page, SIGINT stops', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spapi-dev-'));
  const port = await freePort();
  const dev = await startDev(dir, port, 'encryption key ring');
  try {
    const { stdout: out, stderr: err } = dev.output();
    assert.match(out, new RegExp(`http://localhost:${port}/`));
    assert.match(err, /generated an encryption key ring/);
    const { key, origin } = dev;
    assert.ok(existsSync(join(dir, 'data', 'spapi-auth.db')));
    assert.equal(statSync(join(dir, 'data', 'encryption-keys')).mode & 0o777, 0o600);
    const home = await fetch(`${origin}/`);
    assert.equal(home.status, 200);
    assert.match(await home.text(), /Connect a seller/);
    const sellers = await fetch(`${origin}/v1/sellers`, {
      headers: { authorization: `Bearer ${key}` },
    });
    assert.deepEqual(await sellers.json(), { items: [], next_cursor: null });
    // The emulator answers from the same origin.
    const stats = await fetch(`${origin}/__emulator/stats`);
    assert.equal(stats.status, 200);

    // The newcomer's clicks, over HTTP: "Connect a seller", then Confirm on the emulator's consent page.
    const done = await connectDevSeller(origin);
    assert.ok(done.startsWith(`${origin}/oauth/result?status=connected`), done);
    const start = await (await fetch(`${origin}/`)).text();
    assert.match(start, /A1EMUSELLERNA01/);
    assert.match(start, /working \(Atza\|/);
    const token = await fetch(`${origin}/v1/sellers/A1EMUSELLERNA01/access-token`, {
      headers: { authorization: `Bearer ${key}` },
    });
    assert.equal(token.status, 200);
    // The start page refuses a cross-site form post.
    const csrf = await fetch(`${origin}/dev/connect`, {
      method: 'POST',
      redirect: 'manual',
      headers: { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' },
      body: 'marketplace=US',
    });
    assert.equal(csrf.status, 403);
    assert.equal(await dev.stop(), 0);
  } finally {
    dev.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
