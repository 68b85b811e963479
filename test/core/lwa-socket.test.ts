// The LWA client over real sockets (Node's fetch, undici) against hostile local servers:
// redirects must not be followed, decoded bytes are capped (gzip bomb), endless and slow bodies end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { refreshAccessToken } from '../../src/core/lwa.js';

async function serve(handler: RequestListener): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}
const close = (s: Server) =>
  new Promise<void>((r) => {
    s.closeAllConnections();
    s.close(() => r());
  });
const CREDS = { clientId: 'c', clientSecret: 'SECRET-CANARY' };
const noSleep = async () => {};

test('a 307 from the token endpoint is not followed: the steal server gets no request (T-B14)', async () => {
  let stolen = 0;
  const steal = await serve((_req, res) => {
    stolen++;
    res.end('{}');
  });
  const lwa = await serve((_req, res) => {
    res.writeHead(307, { location: `${steal.url}/steal` });
    res.end();
  });
  try {
    await assert.rejects(refreshAccessToken(CREDS, 'Atzr|r', { amazonUrl: lwa.url, sleep: noSleep }), {
      code: 'unexpected_redirect',
    });
    assert.equal(stolen, 0);
  } finally {
    await close(lwa.server);
    await close(steal.server);
  }
});

test('a gzip bomb is cut at the decoded-byte cap (T-B11); an endless body at the cap (T-B10)', async () => {
  const bomb = gzipSync(Buffer.alloc(200 * 2 ** 20, 0x20)); // 200 MiB of spaces, ~200 KiB compressed
  const lwa = await serve((req, res) => {
    if (req.url?.startsWith('/bomb')) {
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
        'content-length': bomb.length,
      });
      res.end(bomb);
    } else {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = () => {
        while (res.write(chunk));
      };
      res.on('drain', pump);
      pump();
    }
  });
  try {
    const rss = process.memoryUsage().rss;
    await assert.rejects(refreshAccessToken(CREDS, 'r', { amazonUrl: `${lwa.url}/bomb`, sleep: noSleep }), {
      code: 'invalid_token_response',
    });
    await assert.rejects(
      refreshAccessToken(CREDS, 'r', { amazonUrl: `${lwa.url}/endless`, sleep: noSleep }),
      { code: 'invalid_token_response' },
    );
    assert.ok(process.memoryUsage().rss - rss < 60 * 2 ** 20, 'memory stays bounded');
  } finally {
    await close(lwa.server);
  }
});

test('headers then a trickling body: the attempt times out (T-B16) and retries stay bounded', async () => {
  let requests = 0;
  const lwa = await serve((_req, res) => {
    requests++;
    res.writeHead(200, { 'content-type': 'application/json' });
    const t = setInterval(() => res.write(' '), 20);
    res.on('close', () => clearInterval(t));
  });
  try {
    await assert.rejects(
      refreshAccessToken(CREDS, 'r', {
        amazonUrl: lwa.url,
        sleep: noSleep,
        retry: { timeoutMs: 200, maxAttempts: 2 },
      }),
      { code: 'upstream_unavailable' },
    );
    assert.equal(requests, 2);
  } finally {
    await close(lwa.server);
  }
});

test('a reset connection is a network error, retried a bounded number of times', async () => {
  let requests = 0;
  const lwa = await serve((req) => {
    requests++;
    req.socket.destroy();
  });
  try {
    await assert.rejects(refreshAccessToken(CREDS, 'r', { amazonUrl: lwa.url, sleep: noSleep }), {
      code: 'upstream_unavailable',
    });
    assert.equal(requests, 3);
  } finally {
    await close(lwa.server);
  }
});
