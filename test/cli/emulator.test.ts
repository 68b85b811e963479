// `spapi-auth emulator` as a user runs it: a child process on port 0, stopped with SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliCommand, repoRoot, runCli } from '../helpers/cli.js';
import { DEV_APPLICATION, DEV_CLIENT_SECRET } from '../../src/emulator/index.js';

/** Starts the CLI, waits for the URL line, and returns it with a stopper that resolves to the exit code. */
function serve(
  args: string[],
): Promise<{ url: string; output: () => string; stop: (signal: NodeJS.Signals) => Promise<number | null> }> {
  const [cmd, ...prefix] = cliCommand();
  const child = spawn(cmd!, [...prefix, 'emulator', ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
  });
  let out = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no URL printed: ${out}`));
    }, 15_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1]!, output: () => out, stop: (signal) => (child.kill(signal), exited) });
      }
    });
    child.on('exit', () => reject(new Error(`exited early: ${out}`)));
  });
}

test('spapi-auth emulator --port 0 serves, prints the dev app, and exits 0 on SIGTERM', async () => {
  const running = await serve(['--port', '0', '--token-ttl', '120']);
  const res = await fetch(`${running.url}/auth/o2/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      scope: 'sellingpartnerapi::notifications',
      client_id: DEV_APPLICATION.clientId,
      client_secret: DEV_CLIENT_SECRET,
    }),
  });
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as { expires_in: number }).expires_in, 120);
  const stats = (await (await fetch(`${running.url}/__emulator/stats`)).json()) as {
    token: Record<string, Record<string, number>>;
  };
  assert.equal(stats.token.client_credentials?.ok, 1);
  assert.equal(await running.stop('SIGTERM'), 0);
  const out = running.output();
  assert.ok(out.includes(DEV_APPLICATION.id) && out.includes(DEV_APPLICATION.clientId));
  assert.match(out, /public dev secret/);
  assert.ok(out.includes(`${running.url}/000000000000/spapi-auth-notifications`), 'the SQS queue URL');
  assert.match(out, /stopped/);
});

test('a configured application: its secret is never printed; SIGINT also stops cleanly', async () => {
  const secret = 'MARKER-SECRET-7f3a9c';
  const running = await serve([
    '--port',
    '0',
    '--application-id',
    'amzn1.sp.solution.mine',
    '--client-id',
    'amzn1.application-oa2-client.mine',
    '--client-secret',
    secret,
    '--redirect-uri',
    'https://app.example/cb',
    '--redirect-uri',
    'https://app.example/cb2',
    '--draft',
    '--notification-queue',
    'none',
  ]);
  const consent = await fetch(
    `${running.url}/apps/authorize/consent?application_id=amzn1.sp.solution.mine&state=s`,
    { redirect: 'manual' },
  );
  assert.equal(consent.headers.get('x-emulator-error-code'), 'MD1000', 'the app is a draft');
  assert.equal(await running.stop('SIGINT'), 0);
  assert.ok(!running.output().includes(secret));
  assert.ok(running.output().includes('https://app.example/cb2'));
  assert.match(running.output(), /SQS queue +\(none: not enrolled for rotation\)/);
});

test('--config: applications from a file; a bad file is one line and exit 1; bad flags exit 2', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'emu-cli-'));
  const good = join(dir, 'app.json');
  writeFileSync(
    good,
    JSON.stringify({
      applications: [
        {
          id: 'amzn1.sp.solution.cfg',
          name: 'Cfg',
          client_id: 'amzn1.application-oa2-client.cfg',
          client_secret: 'MARKER-CFG-SECRET',
          redirect_uris: ['https://cfg.example/cb'],
          login_uri: 'https://cfg.example/login',
        },
      ],
    }),
  );
  const running = await serve(['--port', '0', '--config', good]);
  const hop = await fetch(`${running.url}/appstore/authorize?application_id=amzn1.sp.solution.cfg`, {
    redirect: 'manual',
  });
  assert.equal(new URL(hop.headers.get('location')!).origin, 'https://cfg.example');
  assert.equal(await running.stop('SIGTERM'), 0);
  assert.ok(!running.output().includes('MARKER-CFG-SECRET'));

  const broken = join(dir, 'broken.json');
  writeFileSync(broken, '{"applications": [');
  const bad = await runCli(['emulator', '--port', '0', '--config', broken]);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
  assert.match(bad.stderr, /not valid JSON/);
  const missing = await runCli(['emulator', '--config', join(dir, 'nope.json')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read/);
  const invalid = join(dir, 'invalid.json');
  writeFileSync(invalid, JSON.stringify({ id: 'x', client_id: 'y' }));
  const inv = await runCli(['emulator', '--config', invalid]);
  assert.equal(inv.code, 1);
  assert.match(inv.stderr, /client_secret is required/);

  assert.equal((await runCli(['emulator', '--port', 'abc'])).code, 2);
  assert.equal((await runCli(['emulator', '--client-id', 'only'])).code, 2);
  assert.equal((await runCli(['emulator', '--bogus'])).code, 2);
  const help = await runCli(['emulator', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--latency-ms/);
});

test('spapi-auth emulator --state FILE: a grant issued before a restart works after it, a hard kill included; a corrupt file is moved aside', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spapi-emulator-state-'));
  const file = join(dir, 'state.json');
  const client = { client_id: DEV_APPLICATION.clientId, client_secret: DEV_CLIENT_SECRET };
  const token = (url: string, params: Record<string, string>) =>
    fetch(`${url}/auth/o2/token`, { method: 'POST', body: new URLSearchParams({ ...client, ...params }) });
  try {
    const first = await serve(['--port', '0', '--state', file]);
    assert.match(first.output(), /state {10}.*state\.json \(new\)/);
    await fetch(`${first.url}/__emulator/consent`, {
      method: 'POST',
      body: JSON.stringify({ mode: 'auto' }),
    });
    const consent = await fetch(
      `${first.url}/apps/authorize/consent?application_id=${DEV_APPLICATION.id}&state=s`,
      {
        redirect: 'manual',
      },
    );
    const code = new URL(consent.headers.get('location')!).searchParams.get('spapi_oauth_code')!;
    const issued = (await (await token(first.url, { grant_type: 'authorization_code', code })).json()) as {
      refresh_token: string;
    };
    // A hard kill once the grant is on disk (written within a quarter second of the change).
    for (
      let i = 0;
      i < 200 && !(existsSync(file) && readFileSync(file, 'utf8').includes(issued.refresh_token));
      i++
    )
      await new Promise((r) => setTimeout(r, 25));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    await first.stop('SIGKILL');

    const second = await serve(['--port', '0', '--state', file]);
    assert.match(second.output(), /continued from the previous run/);
    const refreshed = await token(second.url, {
      grant_type: 'refresh_token',
      refresh_token: issued.refresh_token,
    });
    assert.equal(refreshed.status, 200);
    const access = ((await refreshed.json()) as { access_token: string }).access_token;
    const spapi = await fetch(`${second.url}/sellers/v1/marketplaceParticipations`, {
      headers: { 'x-amz-access-token': access },
    });
    assert.equal(spapi.status, 200);
    assert.equal(await second.stop('SIGTERM'), 0);
    assert.ok(!second.output().includes(issued.refresh_token) && !second.output().includes(access));

    writeFileSync(file, 'not json');
    const third = await serve(['--port', '0', '--state', file]);
    assert.match(
      third.output(),
      /state\.json could not be used \(not valid JSON\); moved it to .*state\.json\.unreadable-/,
    );
    const refused = await token(third.url, {
      grant_type: 'refresh_token',
      refresh_token: issued.refresh_token,
    });
    assert.equal(((await refused.json()) as { error: string }).error, 'invalid_grant');
    assert.equal(await third.stop('SIGTERM'), 0);
    assert.equal(readdirSync(dir).filter((f) => f.includes('.unreadable-')).length, 1);

    const help = await runCli(['emulator', '--help']);
    assert.match(help.stdout, /--state FILE/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
