// Every message that sends a person to the docs (`docs/storage.md, "When the store cannot be
// opened"`, `README.md, "CLI"`) names a file the package ships and a heading that exists in it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const POINTER = /\b((?:docs\/[a-z0-9-]+\.md)|README(?:\.md)?), ["“]([^"”]+)["”]/g;

function headings(file: string): Set<string> {
  const out = new Set<string>();
  let inFence = false;
  for (const line of readFileSync(join(root, file), 'utf8').split('\n')) {
    if (line.startsWith('```')) inFence = !inFence;
    const h = !inFence && /^#{1,6} (.*)$/.exec(line);
    if (h) out.add(h[1]!.trim());
  }
  return out;
}

/** Every `file, "heading"` pointer written in src/ (TypeScript strings and comments alike). */
function pointers(): { where: string; file: string; heading: string }[] {
  const found: { where: string; file: string; heading: string }[] = [];
  for (const f of readdirSync(join(root, 'src'), { recursive: true }).map(String)) {
    if (!f.endsWith('.ts')) continue;
    const text = readFileSync(join(root, 'src', f), 'utf8');
    for (const m of text.matchAll(POINTER)) {
      const file = m[1] === 'README' ? 'README.md' : m[1]!;
      found.push({ where: `src/${f}`, file, heading: m[2]! });
    }
  }
  return found;
}

test('every docs pointer in a message names an existing file and heading', () => {
  const all = pointers();
  assert.ok(all.length >= 3, `found ${all.length} pointers: the pattern must still match them`);
  const bad = all.filter((p) => !existsSync(join(root, p.file)) || !headings(p.file).has(p.heading));
  assert.deepEqual(
    bad.map((p) => `${p.where}: ${p.file}, "${p.heading}"`),
    [],
  );
});

test('the pointer check fails on a heading that does not exist (it can fail)', () => {
  assert.ok(!headings('README.md').has('Configuration'), 'README has no "Configuration" section');
  const sample = 'see README, "Configuration"';
  const m = [...sample.matchAll(POINTER)];
  assert.equal(m.length, 1);
});
