/**
 * The benchmark framework: a section is a named async function that returns rows (metric, result,
 * target, met); the runner runs the sections asked for, keeps each section's last result in
 * bench/results/<name>.json, and rewrites bench/REPORT.md from all of them. To add a section, write
 * bench/sections/<name>.ts exporting a {@link BenchSection} and add it to bench/sections/index.ts.
 */
import { cpus, totalmem, platform, release } from 'node:os';

/** One measured number. */
export interface BenchRow {
  readonly metric: string;
  /** Formatted result, e.g. `9.8 M calls/s` or `1`. */
  readonly result: string;
  /** Human-readable target, e.g. `≥ 0.9× floor`; omit for context rows. */
  readonly target?: string;
  /** Whether the target was met; omit for context rows. */
  readonly met?: boolean;
}

/** What a section returns. */
export interface SectionResult {
  readonly rows: readonly BenchRow[];
  /** Markdown paragraphs printed under the table (method, caveats). */
  readonly notes?: readonly string[];
}

/** A benchmark section. */
export interface BenchSection {
  /** Used on the command line: `node --import tsx bench/run.ts <name>`. */
  readonly name: string;
  readonly title: string;
  run(ctx: BenchContext): Promise<SectionResult>;
}

/** Given to every section. */
export interface BenchContext {
  /** Progress output (stderr). */
  log(message: string): void;
}

/** A stored section result (bench/results/<name>.json). */
export interface StoredResult extends SectionResult {
  readonly name: string;
  readonly title: string;
  readonly date: string;
  readonly machine: string;
  readonly durationMs: number;
}

/** The machine line of the report. */
export function machine(): string {
  const c = cpus();
  return `${c.length} × ${c[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, ${platform()} ${release()}, Node ${process.version}`;
}

/**
 * Runs `fn` repeatedly for about `ms` milliseconds, in batches, and returns calls per second.
 * `fn` is awaited call by call (what an application does).
 */
export async function callsPerSecond(fn: () => Promise<unknown>, ms: number): Promise<number> {
  const batch = 10_000;
  let calls = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < ms) {
    for (let i = 0; i < batch; i++) await fn();
    calls += batch;
    elapsed = performance.now() - start;
  }
  return (calls / elapsed) * 1000;
}

/** The median of numbers. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** `12345678` → `12.3 M`. */
export function si(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return n.toFixed(0);
}

/** Renders the whole report from stored results. */
export function renderReport(results: readonly StoredResult[]): string {
  const out: string[] = [
    '# Benchmark report',
    '',
    'Written by `bench/run.ts`; do not edit by hand. Reproduce with `npm run bench` (builds first) or',
    '`node --import tsx bench/run.ts [section …]` (one or more sections; the others keep their last result).',
    'Numbers are from a shared 2-core machine with other work running; treat them as indicative.',
    '',
  ];
  for (const r of results) {
    out.push(`## ${r.title} (\`${r.name}\`)`, '');
    out.push(`Run ${r.date} on ${r.machine}; took ${(r.durationMs / 1000).toFixed(1)} s.`, '');
    out.push('| metric | result | target | met |', '|---|---|---|---|');
    for (const row of r.rows) {
      const met = row.met === undefined ? '' : row.met ? 'met' : '**not met**';
      out.push(`| ${row.metric} | ${row.result} | ${row.target ?? ''} | ${met} |`);
    }
    out.push('');
    for (const n of r.notes ?? []) out.push(n, '');
  }
  return out.join('\n');
}
