// Who may import what inside the service: the CLI calls use-cases, never a route module, and the
// use-case modules (src/server/sellers/) never see the HTTP request type. Only src/server/http/ and the route
// files handle the HTTP request type.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(join(root, dir), { recursive: true })
    .map((f) => join(root, dir, String(f)))
    .filter((f) => f.endsWith('.ts'));
}

/** The repository files a module imports (relative imports, `.js` mapped to `.ts`). */
function importsOf(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  return [...src.matchAll(/(?:from|import)\s+'(\.[^']+)'/g)].map((m) =>
    resolve(dirname(file), m[1]!).replace(/\.js$/, '.ts'),
  );
}

/** A route module registers routes or handles the HTTP request type. */
function isRouteModule(file: string): boolean {
  const src = readFileSync(file, 'utf8');
  return /\brouter\.add\(|\bServerRequest\b/.test(src) || /\/server\/http\/(router|request)\.ts$/.test(file);
}

const rel = (f: string): string => relative(root, f);

test('the CLI imports no route module of the service', () => {
  const bad: string[] = [];
  for (const file of files('src/cli')) {
    for (const dep of importsOf(file)) {
      if (dep.includes(`${join(root, 'src/server')}/`) && isRouteModule(dep))
        bad.push(`${rel(file)} → ${rel(dep)}`);
    }
  }
  assert.deepEqual(bad, []);
});

test('the seller use-cases import no route module, nor the HTTP request type or the router', () => {
  const bad: string[] = [];
  for (const file of files('src/server/sellers')) {
    for (const dep of importsOf(file)) {
      // The input rules and the logger of http/ are fine; the request type and the router are not.
      if (isRouteModule(dep)) bad.push(`${rel(file)} → ${rel(dep)}`);
    }
  }
  assert.deepEqual(bad, []);
});

test('the route-module test recognises a route module (it can fail)', () => {
  assert.ok(isRouteModule(join(root, 'src/server/tokens/routes.ts')));
  assert.ok(!isRouteModule(join(root, 'src/server/sellers/json.ts')));
});
