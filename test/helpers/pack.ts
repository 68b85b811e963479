// The package as `npm pack` makes it from this tree (after a build of dist/): for the tests that
// install it as a user would (test/package.test.ts, test/e2e/recipe.test.ts).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot as root } from './cli.js';

/** Why dist/ cannot be packed as it is, or undefined when every source file has its build. */
export function distProblem(): string | undefined {
  if (!existsSync(join(root, 'dist'))) return 'dist/ is missing';
  // A dist/ left over from an older or interrupted build would fail for reasons that are not packaging.
  const missing = readdirSync(join(root, 'src'), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => `dist/${f.replace(/\\/g, '/').replace(/\.ts$/, '.js')}`)
    .filter((f) => !existsSync(join(root, f)));
  return missing.length === 0
    ? undefined
    : `dist/ is incomplete (${missing.length} missing, e.g. ${missing[0]})`;
}

/** `npm pack` into a new temp folder: the folder, the tarball's path and its integrity. */
export function pack(): { dir: string; tarball: string; integrity: string } {
  const dir = mkdtempSync(join(tmpdir(), 'spapi-auth-pack-'));
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  ) as { filename: string; integrity: string }[];
  return { dir, tarball: join(dir, packed[0]!.filename), integrity: packed[0]!.integrity };
}
