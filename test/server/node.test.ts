// The node:http adapter on a real port: graceful shutdown with a request in flight, what Node's
// parser refuses before any handler runs (docs/security.md T-F7, T-F8), and `spapi-auth dev` as a newcomer runs it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listen } from '../../src/server/http/node.js';
import { json, type ServerRequest } from '../../src/server/http/request.js';
import { freePort } from './helpers.js';
import { cliCommand } from '../helpers/cli.js';

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
  // Resolve tsx from the repository: the child runs in an empty folder.
  const tsx = fileURLToPath(new URL('../../node_modules/tsx/dist/esm/index.mjs', import.meta.url));
  const [cmd, ...prefix] = cliCommand().map((a) => (a === 'tsx' ? tsx : a));
  const port = await freePort();
  const child = spawn(cmd!, [...prefix, 'dev'], {
    cwd: dir,
    env: { PATH: process.env.PATH, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    let out = '';
    let err = '';
    // stdout and stderr are separate pipes: their chunks arrive in any order, so wait for both
    // lines (the key-ring warning on stderr, the API key on stdout) before reading either.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`dev did not start: ${out} ${err}`)), 15_000);
      const check = (): void => {
        if (out.includes('Dev API key') && err.includes('encryption key ring')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        check();
      });
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        check();
      });
      child.once('exit', (code) => reject(new Error(`dev exited ${code}: ${err}`)));
    });
    assert.match(out, new RegExp(`http://localhost:${port}/`));
    assert.match(err, /generated an encryption key ring/);
    const key = out.match(/spk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}/)![0];
    assert.ok(existsSync(join(dir, 'data', 'spapi-auth.db')));
    assert.equal(statSync(join(dir, 'data', 'encryption-keys')).mode & 0o777, 0o600);
    const home = await fetch(`http://localhost:${port}/`);
    assert.equal(home.status, 200);
    assert.match(await home.text(), /Connect a seller/);
    const sellers = await fetch(`http://localhost:${port}/v1/sellers`, {
      headers: { authorization: `Bearer ${key}` },
    });
    assert.deepEqual(await sellers.json(), { items: [], next_cursor: null });
    // The emulator answers from the same origin.
    const stats = await fetch(`http://localhost:${port}/__emulator/stats`);
    assert.equal(stats.status, 200);

    // The newcomer's clicks, over HTTP: "Connect a seller", then Confirm on the emulator's consent page.
    const origin = `http://localhost:${port}`;
    let cookie = '';
    const go = async (url: string, init: RequestInit = {}): Promise<{ url: string; res: Response }> => {
      let current = url;
      let req = init;
      for (let i = 0; i < 10; i++) {
        const res = await fetch(current, {
          ...req,
          redirect: 'manual',
          headers: { ...(req.headers ?? {}), cookie },
        });
        const set = res.headers.getSetCookie()[0];
        if (set) cookie = set.split(';')[0]!;
        const loc = res.headers.get('location');
        if (!loc) return { url: current, res };
        await res.body?.cancel();
        current = new URL(loc, current).href;
        req = {};
      }
      throw new Error('too many redirects');
    };
    const consent = await go(`${origin}/dev/connect`, {
      method: 'POST',
      headers: { origin, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'marketplace=US&kind=seller',
    });
    assert.ok(consent.url.startsWith(`${origin}/apps/authorize/consent?`), consent.url);
    const page = await consent.res.text();
    const consentId = page.match(/name="consent_id" value="([^"]+)"/)![1]!;
    const done = await go(`${origin}/apps/authorize/consent`, {
      method: 'POST',
      headers: { origin, 'content-type': 'application/x-www-form-urlencoded' },
      body: `consent_id=${encodeURIComponent(consentId)}&seller=A1EMUSELLERNA01%3Ana&action=confirm`,
    });
    assert.ok(done.url.startsWith(`${origin}/oauth/result?status=connected`), done.url);
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
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 0);
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
