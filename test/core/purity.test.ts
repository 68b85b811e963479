import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { createMemoryTokenVault } from '../../src/core/memory-vault.js';
import { createTokenManager, type TokenEvent } from '../../src/core/token-manager.js';

const dir = new URL('../../src/core/', import.meta.url);

// What the core imports (nothing outside itself, no `node:` module, no package) is the README's
// Layout table, checked by test/layout.test.ts.
test('the core reads no environment and requires nothing', () => {
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const src = readFileSync(new URL(f, dir), 'utf8');
    assert.doesNotMatch(src, /process\.env|require\(/, f);
  }
});

test('events and errors never carry a token or a secret (marker canaries)', async () => {
  const key = { sellingPartnerId: 'A1', region: 'eu' } as const;
  const vault = createMemoryTokenVault();
  vault.put(key, 'Atzr|REFRESH-CANARY');
  const events: TokenEvent[] = [];
  const errors: unknown[] = [];
  const replies = [
    () =>
      new Response(
        JSON.stringify({ access_token: 'Atza|ACCESS-CANARY', token_type: 'bearer', expires_in: 3600 }),
        { headers: { 'content-type': 'application/json' } },
      ),
    () =>
      new Response(
        JSON.stringify({ error: 'invalid_grant', error_description: 'REFRESH-CANARY SECRET-CANARY' }),
        { status: 400 },
      ),
  ];
  const tokens = createTokenManager({
    credentials: { clientId: 'c', clientSecret: 'SECRET-CANARY' },
    vault,
    fetch: async () => replies.shift()!(),
    onEvent: (e) => events.push(e),
  });
  await tokens.getAccessToken(key);
  await tokens.invalidate(key, 'Atza|ACCESS-CANARY');
  await tokens.getAccessToken(key).catch((e) => errors.push(e));
  await tokens.getAccessToken(key).catch((e) => errors.push(e));
  assert.equal(errors.length, 2);
  const text =
    JSON.stringify(events) +
    errors.map((e) => `${String(e)} ${JSON.stringify(e)} ${(e as Error).stack}`).join('') +
    JSON.stringify(vault.inspect(key));
  assert.doesNotMatch(text, /CANARY/);
});
