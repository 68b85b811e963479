// The emulator on a real port: the "Done when" dance, socket faults, malformed HTTP.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startEmulator, createControlClient, type RunningEmulator } from '../../src/emulator/index.js';
import { APP, REDIRECT, SECRET, assertLwaError } from './helpers.js';
import { closeAfter } from '../helpers/after.js';

let server: RunningEmulator;
before(async () => {
  server = await startEmulator({ port: 0 });
});
after(() => server.close());

const form = (params: Record<string, string>) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(params).toString(),
});

test('the dance over a port: consent auto → code → exchange → refresh → SP-API; reuse and wrong secret fail; stats count all', async () => {
  const control = createControlClient(server.url);
  await control.reset();
  await control.consentMode('auto');
  const consent = await fetch(`${server.url}/apps/authorize/consent?application_id=${APP.id}&state=xyz`, {
    redirect: 'manual',
  });
  assert.equal(consent.status, 302);
  const cb = new URL(consent.headers.get('location')!);
  assert.equal(cb.searchParams.get('state'), 'xyz');
  const code = cb.searchParams.get('spapi_oauth_code')!;
  const exchange = {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT,
    client_id: APP.clientId,
    client_secret: SECRET,
  };
  const tokens = (await (await fetch(`${server.url}/auth/o2/token`, form(exchange))).json()) as Record<
    string,
    string
  >;
  assert.match(tokens.refresh_token!, /^Atzr\|/);
  const refreshed = await fetch(
    `${server.url}/auth/o2/token`,
    form({
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token!,
      client_id: APP.clientId,
      client_secret: SECRET,
    }),
  );
  assert.equal(refreshed.status, 200);
  const access = ((await refreshed.json()) as { access_token: string }).access_token;
  const sp = await fetch(`${server.url}/sellers/v1/marketplaceParticipations`, {
    headers: { 'x-amz-access-token': access },
  });
  assert.equal(sp.status, 200);
  await assertLwaError(await fetch(`${server.url}/auth/o2/token`, form(exchange)), 400, 'invalid_grant');
  await assertLwaError(
    await fetch(`${server.url}/auth/o2/token`, form({ ...exchange, client_secret: 'wrong' })),
    401,
    'invalid_client',
  );
  const stats = await control.stats();
  assert.deepEqual(stats.token, {
    authorization_code: { ok: 1, invalid_grant: 1, invalid_client: 1 },
    refresh_token: { ok: 1 },
  });
  assert.deepEqual(stats.spapi, { '/sellers/v1/marketplaceParticipations': { '200': 1 } });
  assert.deepEqual(stats.consent, { auto: 1 });
  assert.equal(stats.requests, 6);
  assert.equal(stats.refresh_by_seller.A1EMUSELLERNA01, 1);
});

const cc = form({
  grant_type: 'client_credentials',
  scope: 'sellingpartnerapi::notifications',
  client_id: APP.clientId,
  client_secret: SECRET,
});

test('socket faults on the port: reset destroys the connection, hang never answers, trickle sends a byte at a time', async () => {
  const control = server.emulator.control;
  await control.reset();
  await control.fault({ target: 'token', reset: true });
  await assert.rejects(
    fetch(`${server.url}/auth/o2/token`, cc),
    (err: Error) => err instanceof TypeError && err.message === 'fetch failed',
  );
  await control.fault({ target: 'token', hang: true });
  await assert.rejects(fetch(`${server.url}/auth/o2/token`, { ...cc, signal: AbortSignal.timeout(100) }), {
    name: 'TimeoutError',
  });
  await control.fault({ target: 'token', trickle_ms: 5, status: 200, body: 'abcd' });
  const res = await fetch(`${server.url}/auth/o2/token`, cc);
  const reader = res.body!.getReader();
  const sizes: number[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    sizes.push(value.byteLength);
  }
  assert.deepEqual(sizes, [1, 1, 1, 1]);
  await control.fault({ target: 'spapi', trickle_ms: 60_000, status: 200, body: 'x'.repeat(100) });
  const slow = await fetch(`${server.url}/sellers/v1/marketplaceParticipations`, {
    signal: AbortSignal.timeout(150),
  });
  await assert.rejects(slow.text(), { name: 'TimeoutError' });
  // After all that, the server still answers.
  assert.equal((await fetch(`${server.url}/auth/o2/token`, cc)).status, 200);
  const stats = await control.stats();
  assert.deepEqual(stats.token.client_credentials, {
    'fault:reset': 1,
    'fault:hang': 1,
    'fault:200': 1,
    ok: 1,
  });
});

test('gzip bomb and 307 on the port: bytes and headers as queued', async () => {
  const { gzipSync } = await import('node:zlib');
  await server.emulator.control.reset();
  const bomb = gzipSync(Buffer.alloc(2_000_000));
  await server.emulator.control.fault({
    target: 'token',
    status: 200,
    body_base64: bomb.toString('base64'),
    headers: { 'content-encoding': 'gzip' },
  });
  const res = await fetch(`${server.url}/auth/o2/token`, cc);
  assert.equal(res.headers.get('content-encoding'), 'gzip');
  assert.equal((await res.arrayBuffer()).byteLength, 2_000_000, 'fetch inflated what the emulator sent');
  await server.emulator.control.fault({
    target: 'token',
    status: 307,
    headers: { location: 'http://127.0.0.2:9/steal' },
  });
  const moved = await fetch(`${server.url}/auth/o2/token`, { ...cc, redirect: 'manual' });
  assert.equal(moved.status, 307);
  assert.equal(moved.headers.get('location'), 'http://127.0.0.2:9/steal');
});

function raw(request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1');
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (d) => (data += d));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
    socket.end(request);
  });
}

test('malformed HTTP and oversized bodies on the port: an error in Amazon’s shape, and the server lives on', async () => {
  const garbage = await raw('GARBAGE\r\n\r\n');
  assert.match(garbage, /^HTTP\/1\.1 400/);
  assert.match(garbage, /"errors"/);
  const big = await fetch(`${server.url}/auth/o2/token`, form({ grant_type: 'x', pad: 'y'.repeat(200_000) }));
  await assertLwaError(big, 413, 'invalid_request');
  const declared = await raw(
    `POST /auth/o2/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 999999999\r\nConnection: close\r\n\r\ngrant_type=`,
  );
  assert.match(declared, /^HTTP\/1\.1 413/);
  const badJson = await fetch(`${server.url}/tokens/2021-03-01/restrictedDataToken`, {
    method: 'POST',
    body: '{',
    headers: { 'x-amz-access-token': 'Atza|x' },
  });
  assert.equal(badJson.status, 403, 'authentication first');
  assert.equal((await fetch(`${server.url}/__emulator/stats`)).status, 200);
});

test('emulatorListener mounts the emulator on another node server, socket faults included', async () => {
  const { createServer } = await import('node:http');
  const { createEmulator, emulatorListener } = await import('../../src/emulator/index.js');
  const emulator = createEmulator();
  const listener = emulatorListener(emulator);
  const other = createServer((req, res) => (req.url === '/mine' ? res.end('mine') : listener(req, res)));
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(other.address() as { port: number }).port}`;
  try {
    assert.equal(await (await fetch(`${base}/mine`)).text(), 'mine');
    assert.equal((await fetch(`${base}/auth/o2/token`, cc)).status, 200);
    await emulator.control.fault({ target: 'token', reset: true });
    await assert.rejects(fetch(`${base}/auth/o2/token`, cc), TypeError);
    assert.equal((await emulator.control.stats()).token.client_credentials?.ok, 1);
  } finally {
    other.closeAllConnections();
    await new Promise((resolve) => other.close(resolve));
  }
});

test('TLS variant: a client that does not trust the certificate sends nothing; one with the test CA gets a token', async (t) => {
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const https = await import('node:https');
  const { selfSignedCert } = await import('../helpers/tls.js');
  const pem = selfSignedCert(mkdtempSync(join(tmpdir(), 'emu-tls-')));
  const tls = closeAfter(t, await startEmulator({ port: 0, tls: pem }));
  assert.match(tls.url, /^https:\/\//);
  await assert.rejects(fetch(`${tls.url}/auth/o2/token`, cc), TypeError);
  assert.equal((await tls.emulator.control.stats()).requests, 0, 'no HTTP request reached the fake');
  const body = new URLSearchParams({
    grant_type: 'client_credentials',
    scope: 'sellingpartnerapi::notifications',
    client_id: APP.clientId,
    client_secret: SECRET,
  }).toString();
  const status = await new Promise<number>((resolve, reject) => {
    const req = https.request(
      `${tls.url}/auth/o2/token`,
      {
        method: 'POST',
        ca: pem.cert,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
  assert.equal(status, 200);
});

test('endless body on the port and in-process: the client reads past any cap, then stops; the server lives on', async () => {
  for (const f of [fetch, server.emulator.fetch]) {
    const base = f === fetch ? server.url : 'https://api.amazon.com';
    await server.emulator.control.fault({ target: 'token', endless: true });
    const res = await f(`${base}/auth/o2/token`, cc);
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    let read = 0;
    while (read <= 1_000_000) {
      const { done, value } = await reader.read();
      assert.equal(done, false, 'the body does not end');
      read += value!.byteLength;
    }
    await reader.cancel();
  }
  assert.equal((await fetch(`${server.url}/auth/o2/token`, cc)).status, 200);
});
