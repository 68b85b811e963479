// docs/security.md's catalogue of bad inputs, faults and loads: every row names the test files that
// cover it (files that exist), says it is covered by the row above ("same test"), or says why it is
// not applicable — and the "Count" paragraph adds up to the rows there are.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/cli.js';

interface Row {
  readonly id: string;
  readonly coveredBy: string;
}

function catalogue(markdown: string): Row[] {
  const rows: Row[] = [];
  for (const line of markdown.split('\n')) {
    const m = /^\| (T-[A-Z]\d+) \|.*\| ([^|]*) \|$/.exec(line);
    if (m) rows.push({ id: m[1]!, coveredBy: m[2]! });
  }
  return rows;
}

test('docs/security.md: every catalogue row is covered by test files that exist or says why not; the count adds up', () => {
  const doc = readFileSync(join(repoRoot, 'docs/security.md'), 'utf8');
  const rows = catalogue(doc);
  assert.ok(rows.length > 100, `only ${rows.length} rows parsed`);
  assert.equal(new Set(rows.map((r) => r.id)).size, rows.length, 'a row id is used twice');

  const notApplicable = rows.filter((r) => r.coveredBy.startsWith('not applicable'));
  const missing: string[] = [];
  for (const row of rows) {
    if (notApplicable.includes(row) || /^same tests?\b/.test(row.coveredBy)) continue;
    const files = [...row.coveredBy.matchAll(/`(test\/[^`\s]+?\.ts)`/g)].map((m) => m[1]!);
    if (files.length === 0) missing.push(`${row.id}: names no test file`);
    for (const f of files) if (!existsSync(join(repoRoot, f))) missing.push(`${row.id}: ${f} does not exist`);
  }
  assert.deepEqual(missing, []);

  const count = /^### Count\n\n(\d+) rows: \*\*(\d+) covered\*\*[\s\S]*?\*\*(\d+) not applicable\*\*/m.exec(
    doc,
  );
  assert.ok(count, 'the Count paragraph is missing or reworded');
  assert.deepEqual(
    { rows: Number(count[1]), covered: Number(count[2]), notApplicable: Number(count[3]) },
    { rows: rows.length, covered: rows.length - notApplicable.length, notApplicable: notApplicable.length },
  );
});
