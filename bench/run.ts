/**
 * `npm run bench` / `node --import tsx bench/run.ts [section …]`: runs the named sections (all when
 * none is named), stores each result in bench/results/<name>.json and rewrites bench/REPORT.md.
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machine, renderReport, type StoredResult } from './framework.js';
import { SECTIONS } from './sections/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const resultsDir = join(here, 'results');

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !SECTIONS.some((s) => s.name === w));
if (unknown.length > 0) {
  console.error(
    `unknown section(s): ${unknown.join(', ')}; known: ${SECTIONS.map((s) => s.name).join(', ')}`,
  );
  process.exit(2);
}
mkdirSync(resultsDir, { recursive: true });
let failed = false;
for (const section of SECTIONS.filter((s) => wanted.length === 0 || wanted.includes(s.name))) {
  console.error(`== ${section.name}: ${section.title}`);
  const started = performance.now();
  try {
    const result = await section.run({ log: (m) => console.error(`   ${m}`) });
    const stored: StoredResult = {
      name: section.name,
      title: section.title,
      date: new Date().toISOString(),
      machine: machine(),
      durationMs: Math.round(performance.now() - started),
      ...result,
    };
    writeFileSync(join(resultsDir, `${section.name}.json`), JSON.stringify(stored, null, 2) + '\n');
    for (const r of result.rows) {
      console.error(
        `   ${r.metric}: ${r.result}${r.target ? ` (target ${r.target}: ${r.met ? 'met' : 'NOT MET'})` : ''}`,
      );
    }
  } catch (err) {
    failed = true;
    // The stack only: a third-party error object may carry request bodies (secrets).
    console.error(`   section ${section.name} failed: ${err instanceof Error ? err.stack : String(err)}`);
  }
}
const order = new Map(SECTIONS.map((s, i) => [s.name, i]));
const stored = readdirSync(resultsDir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(join(resultsDir, f), 'utf8')) as StoredResult)
  .filter((r) => order.has(r.name))
  .sort((a, b) => order.get(a.name)! - order.get(b.name)!);
writeFileSync(join(here, 'REPORT.md'), renderReport(stored));
console.error(`wrote bench/REPORT.md (${stored.length} section(s))`);
process.exit(failed ? 1 : 0);
