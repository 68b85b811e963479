// Compiles src/ to dist/ and copies the files tsc does not (SQL migrations, static assets),
// so that `dist/` alone is a working package.
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, rmSync, statSync, mkdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
rmSync(join(root, 'dist'), { recursive: true, force: true });
execFileSync(
  process.execPath,
  [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')],
  {
    stdio: 'inherit',
  },
);
const src = join(root, 'src');
for (const entry of readdirSync(src, { recursive: true })) {
  const from = join(src, String(entry));
  if (statSync(from).isDirectory() || /\.(ts|json)$/.test(from)) continue;
  const to = join(root, 'dist', relative(src, from));
  mkdirSync(dirname(to), { recursive: true });
  cpSync(from, to);
}
