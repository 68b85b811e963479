// The SDK adapters and the token client stay optional to install and free of dependencies: no SDK,
// no `node:` module, no environment; the adapters take only types from the core, the client the
// core's zero-dependency helpers.
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

test('adapters import no SDK, no node: module and no value from spapi-auth; they read no environment', () => {
  const files = sources('src/adapters/');
  assert.ok(files.length >= 2);
  for (const [name, src] of files) {
    for (const m of src.matchAll(/^(import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'/gms)) {
      const [, , typeOnly, spec] = m;
      assert.match(spec!, /^\.\.?\/(core\/)?[a-z-]+\.js$/, `${name} imports ${spec}`);
      if (spec!.startsWith('../core/')) assert.ok(typeOnly, `${name} imports a value from ${spec}`);
    }
    assert.doesNotMatch(src, /process\.env|require\(|import\(/, name);
  }
});

test('the token client imports only itself and the core, no node: module, and reads no environment', () => {
  for (const [name, src] of sources('src/client/')) {
    for (const m of src.matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)) {
      assert.match(m[1]!, /^\.\.?\/(core\/)?[a-z-]+\.js$/, `${name} imports ${m[1]}`);
    }
    assert.doesNotMatch(src, /process\.env|require\(/, name);
  }
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
