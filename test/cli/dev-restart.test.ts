// `spapi-auth dev` remembers across a restart: a seller connected before serves tokens the embedded
// emulator's SP-API accepts after it (its state in data/emulator-state.json, mode 0600). And the
// truth when that state is gone or unusable: the sellers it forgot are reauthorization_required,
// the token API refuses them with that code and the start page says to connect again — never
// "working" with a token SP-API answers 403. Real processes, as a user restarts them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/e2e.js';
import { connectDevSeller, startDev, type DevProcess } from '../helpers/dev.js';

const SELLER = 'A1EMUSELLERNA01';

async function accessToken(dev: DevProcess): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${dev.origin}/v1/sellers/${SELLER}/access-token`, {
    headers: { authorization: `Bearer ${dev.key}` },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The embedded emulator's SP-API, as the seller's own SP-API client calls it. */
async function participations(dev: DevProcess, token: string): Promise<number> {
  const res = await fetch(`${dev.origin}/sellers/v1/marketplaceParticipations`, {
    headers: { 'x-amz-access-token': token },
  });
  await res.body?.cancel();
  return res.status;
}

test('spapi-auth dev: a seller connected before a restart serves tokens SP-API accepts after it; a lost or unusable emulator state is said, not hidden', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spapi-dev-restart-'));
  const port = await freePort();
  const stateFile = join(dir, 'data', 'emulator-state.json');
  const issued: string[] = [];
  const outputs: string[] = [];
  let dev: DevProcess | undefined;
  const restart = async (stderrIncludes?: string): Promise<DevProcess> => {
    if (dev !== undefined) {
      assert.equal(await dev.stop(), 0);
      outputs.push(dev.output().stdout, dev.output().stderr);
    }
    dev = await startDev(dir, port, stderrIncludes);
    return dev;
  };
  try {
    const first = await restart();
    const connected = await connectDevSeller(first.origin);
    assert.ok(connected.startsWith(`${first.origin}/oauth/result?status=connected`), connected);
    const before = await accessToken(first);
    assert.equal(before.status, 200);
    issued.push(String(before.body.access_token));
    assert.equal(await participations(first, issued[0]!), 200);

    // A plain restart (SIGINT, then dev again): the same token is still served, and SP-API takes it.
    const second = await restart();
    assert.equal(statSync(stateFile).mode & 0o777, 0o600);
    assert.doesNotMatch(second.output().stderr, /does not accept/);
    const after = await accessToken(second);
    assert.equal(after.status, 200);
    assert.equal(await participations(second, String(after.body.access_token)), 200);
    assert.match(await (await fetch(`${second.origin}/`)).text(), /working \(Atza\|/);
    // Two hours on the emulator's clock (kept with its state): at the next start the stored token is
    // one the emulator calls expired, so it is dropped and the kept refresh token gets a new one.
    const clock = await fetch(`${second.origin}/__emulator/clock`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ offset_s: 7200 }),
    });
    assert.equal(clock.status, 200);
    const third = await restart();
    const refreshed = await accessToken(third);
    assert.equal(refreshed.status, 200);
    assert.notEqual(refreshed.body.access_token, after.body.access_token);
    issued.push(String(after.body.access_token), String(refreshed.body.access_token));
    assert.equal(await participations(third, String(refreshed.body.access_token)), 200);

    // The emulator's state deleted: the seller is not "working", the token API says what to do.
    assert.equal(await third.stop(), 0);
    outputs.push(third.output().stdout, third.output().stderr);
    dev = undefined;
    rmSync(stateFile);
    const fourth = await restart('does not accept');
    assert.match(
      fourth.output().stderr,
      /does not accept 1 stored seller authorization\(s\) \(its saved state is missing\); 1 now reauthorization_required/,
    );
    const refused = await accessToken(fourth);
    assert.equal(refused.status, 409);
    assert.equal((refused.body.error as { code: string }).code, 'seller_reauthorization_required');
    const page = await (await fetch(`${fourth.origin}/`)).text();
    assert.doesNotMatch(page, /working \(/);
    assert.match(page, /not available \(reauthorization_required\)/);
    assert.match(page, /name="selling_partner_id" value="A1EMUSELLERNA01"[\s\S]*Reconnect/);

    // Connected again, then the state file corrupted: moved aside (kept), the emulator starts afresh, said.
    const reconnected = await connectDevSeller(fourth.origin, undefined, SELLER);
    assert.ok(reconnected.startsWith(`${fourth.origin}/oauth/result?status=connected`), reconnected);
    assert.equal((await accessToken(fourth)).status, 200);
    assert.equal(await fourth.stop(), 0);
    outputs.push(fourth.output().stdout, fourth.output().stderr);
    dev = undefined;
    writeFileSync(stateFile, '{"format":"spapi-auth-emulator-state", truncated');
    const fifth = await restart('could not be used');
    assert.match(
      fifth.output().stderr,
      /emulator state .*emulator-state\.json could not be used \(not valid JSON\); moved it to .*emulator-state\.json\.unreadable-/,
    );
    const aside = readdirSync(join(dir, 'data')).filter((f) =>
      f.startsWith('emulator-state.json.unreadable-'),
    );
    assert.equal(aside.length, 1);
    assert.match(readFileSync(join(dir, 'data', aside[0]!), 'utf8'), /truncated/);
    assert.notEqual((await accessToken(fifth)).status, 200);
    assert.equal(await fifth.stop(), 0);
    outputs.push(fifth.output().stdout, fifth.output().stderr);
    dev = undefined;
    assert.ok(existsSync(stateFile), 'a fresh state was written');

    // No token in any output (the dev API key is printed on purpose; tokens never are).
    const all = outputs.join('\n');
    for (const token of issued) assert.ok(!all.includes(token), 'an access token leaked to the output');
    assert.doesNotMatch(all, /Atzr\|/);
  } finally {
    dev?.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
