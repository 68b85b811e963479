// Runs every test/**/*.test.ts file with Node's own test runner (TypeScript loaded by tsx).
// Node 20's --test takes no globs, hence this list. Arguments narrow the run:
//   node scripts/run-tests.mjs test/core          (a folder)
//   node scripts/run-tests.mjs lwa                (file names containing "lwa")
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const filters = process.argv.slice(2);
const files = readdirSync(join(root, 'test'), { recursive: true })
  .map((f) => join('test', String(f)))
  .filter((f) => f.endsWith('.test.ts'))
  .filter((f) => filters.length === 0 || filters.some((p) => f.includes(p)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ') || 'test/**/*.test.ts'}`);
  process.exit(1);
}
// A driver that cannot load (better-sqlite3 built for another Node's NODE_MODULE_VERSION) would fail
// every SQLite test one by one, and the servers the tests spawn would die before listening: say the
// driver's own message once and stop. SPAPI_AUTH_TEST_SQLITE_BINDING points at another addon file
// (the runner's own test uses it to prove this).
try {
  const { default: Database } = await import('better-sqlite3');
  const binding = process.env.SPAPI_AUTH_TEST_SQLITE_BINDING;
  new Database(':memory:', binding ? { nativeBinding: binding } : {}).close();
} catch (err) {
  console.error(
    `better-sqlite3 cannot load on Node ${process.version}: ${err instanceof Error ? err.message : err}`,
  );
  console.error('rebuild it for this Node: npm rebuild better-sqlite3');
  process.exit(1);
}
// Tests that add and remove network interfaces on this host (Docker's veth pairs and bridges, the
// recipe's namespaces) make Chromium abort a navigation under way (net::ERR_NETWORK_CHANGED): they
// say so with the marker line below and run first, side by side with each other but before every
// other file, so that no browser test overlaps them.
const HOST_NETWORK_MARKER = '// test-phase: host-network';
const hostNetwork = new Set(
  files.filter((f) => readFileSync(join(root, f), 'utf8').includes(HOST_NETWORK_MARKER)),
);
const phases = [files.filter((f) => hostNetwork.has(f)), files.filter((f) => !hostNetwork.has(f))].filter(
  (p) => p.length > 0,
);
let status = 0;
for (const phase of phases) {
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=300000', ...phase],
    { cwd: root, stdio: 'inherit' },
  );
  status = Math.max(status, result.status ?? 1);
}
process.exit(status);
