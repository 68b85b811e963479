// The docs a user reads come from the npm tarball: every relative link in README.md and docs/ must
// land on a file the package ships (and on a heading that exists, for `#anchors`), and no doc may
// point at material outside the repository or talk about how the project was built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const docs = [
  'README.md',
  'src/emulator/README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const shipped = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { files: string[] }).files;

/** GitHub's heading anchors: lowercase, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, '')
    .replace(/[^\p{L}\p{N} -]/gu, '')
    .replace(/ /g, '-');
}

function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  let inFence = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) inFence = !inFence;
    const h = !inFence && /^#{1,6} (.*)$/.exec(line);
    if (h) out.add(slug(h[1]!));
  }
  return out;
}

/** Markdown links and images outside code, as [source file, target]. */
function relativeLinks(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8')
    .replace(/```[\s\S]*?```/g, '')
    .replace(/`[^`\n]*`/g, '');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1]!)
    .filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t));
}

function isShipped(path: string): boolean {
  return shipped.some((entry) => path === entry || path.startsWith(`${entry.replace(/\/$/, '')}/`));
}

test('docs: every relative link in README.md and docs/ resolves to a shipped file and an existing heading', () => {
  const broken: string[] = [];
  let checked = 0;
  for (const file of docs) {
    for (const link of relativeLinks(file)) {
      checked++;
      const [path, anchor] = link.split('#') as [string, string | undefined];
      const target = path === '' ? file : normalize(join(dirname(file), decodeURIComponent(path)));
      const rel = relative('.', target);
      if (rel.startsWith('..')) broken.push(`${file}: ${link} leaves the package`);
      else if (!existsSync(join(root, rel))) broken.push(`${file}: ${link} does not exist`);
      else if (!isShipped(rel)) broken.push(`${file}: ${link} is not in package.json "files"`);
      else if (
        anchor !== undefined &&
        rel.endsWith('.md') &&
        !anchors(readFileSync(join(root, rel), 'utf8')).has(anchor)
      )
        broken.push(`${file}: ${link} names no heading of ${rel}`);
    }
  }
  assert.ok(checked > 10, `the README and docs have links to check (${checked})`);
  assert.deepEqual(broken, []);
});

test('docs: the link check sees a broken link, a missing anchor and a path out of the package', () => {
  assert.equal(slug('HTTP error codes of the service'), 'http-error-codes-of-the-service');
  assert.equal(slug('The catalogue (row → test)'), 'the-catalogue-row--test');
  assert.ok(!anchors('# A\n```\n# not a heading\n```\n').has('not-a-heading'));
  assert.ok(!isShipped('src/core/index.ts'));
  assert.ok(isShipped('docs/errors.md'));
});

test('docs: no doc names material outside the repository or how the project was built', () => {
  const outside = [
    /\bamazon\.md\b/i,
    /\bproduct\.md\b/i,
    /shared\/spec/i,
    /security specification/i,
    /\bthe spec\b/i,
    /earlier in the session/i,
    /\bthis session\b/i,
    /\btodo rows?\b/i,
  ];
  const found: string[] = [];
  for (const file of docs) {
    readFileSync(join(root, file), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        for (const re of outside)
          if (re.test(line)) found.push(`${file}:${i + 1}: ${line.trim().slice(0, 100)}`);
      });
  }
  assert.deepEqual(found, []);
});
