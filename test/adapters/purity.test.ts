// The SDK adapters and the token client stay optional to install and free of dependencies: no SDK,
// no `node:` module, no environment. What they import (the adapters only types from the core, the
// client the core) is the README's Layout table, checked by test/layout.test.ts; here, the rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import type { TokenProvider } from '../../src/adapters/token-provider.js';
import { createTokenClient } from '../../src/client/index.js';
import { createMemoryTokenVault, createTokenManager } from '../../src/core/index.js';

const root = new URL('../../', import.meta.url);

function sources(dir: string): [string, string][] {
  const at = new URL(dir, root);
  if (!existsSync(at)) return [];
  return readdirSync(at)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => [`${dir}${f}`, readFileSync(new URL(f, at), 'utf8')]);
}

test('the adapters and the token client read no environment and require nothing', () => {
  const files = [...sources('src/adapters/'), ...sources('src/client/')];
  assert.ok(files.length >= 4);
  for (const [name, src] of files) assert.doesNotMatch(src, /process\.env|require\(/, name);
});

test('the token manager and the token client are both token providers (checked by the compiler)', () => {
  const manager: TokenProvider = createTokenManager({
    credentials: { clientId: 'c', clientSecret: 's' },
    vault: createMemoryTokenVault(),
  });
  const client: TokenProvider = createTokenClient({ baseUrl: 'http://127.0.0.1:1', apiKey: 'k' });
  for (const p of [manager, client]) {
    for (const m of ['getAccessToken', 'getGrantlessToken', 'invalidate'] as const)
      assert.equal(typeof p[m], 'function');
  }
});
