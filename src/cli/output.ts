/**
 * Output helpers shared by the CLI commands: aligned tables for people, one JSON document for
 * scripts (`--json`), and a running count on stderr for long work. Data goes to stdout, everything
 * meant only for the person at the terminal (progress, hints) to stderr, so `--json` output and
 * piped values stay clean.
 */
import type { CliContext } from './command.js';

/**
 * Lays rows out in columns separated by two spaces, the header first; trailing spaces trimmed.
 *
 * @example
 * ```ts
 * ctx.stdout(formatTable(['ID', 'STATUS'], [['A1', 'active'], ['A22', 'reauthorization_required']]));
 * // ID   STATUS
 * // A1   active
 * // A22  reauthorization_required
 * ```
 */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows].map((r) => r.map(cell));
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return (
    all
      .map((r) =>
        widths
          .map((w, i) => (r[i] ?? '').padEnd(w))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/**
 * Lays `label value` pairs out with the values aligned, for one record shown in full.
 *
 * @example
 * ```ts
 * ctx.stdout(formatFields([['status', 'active'], ['region', 'na']]));
 * ```
 */
export function formatFields(fields: readonly (readonly [string, string])[], indent = ''): string {
  const width = Math.max(0, ...fields.map(([k]) => k.length));
  return fields.map(([k, v]) => `${indent}${k.padEnd(width)}  ${cell(v)}`.trimEnd()).join('\n') + '\n';
}

// Stored values (user_ref, error codes) reach the terminal: control characters could move the
// cursor or forge lines, so they are shown as '?'.
function cell(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, '?');
}

/**
 * Prints one JSON document on stdout (the whole output of a command run with `--json`).
 *
 * @example
 * ```ts
 * if (values.json) return printJson(ctx, { items }), 0;
 * ```
 */
export function printJson(ctx: Pick<CliContext, 'stdout'>, value: unknown): void {
  ctx.stdout(JSON.stringify(value, null, 2) + '\n');
}

/**
 * An ISO timestamp for epoch ms, or `-` for none (table cells).
 *
 * @example
 * ```ts
 * isoOrDash(seller.lastRefreshAt); // '2026-11-25T18:00:00.000Z' or '-'
 * ```
 */
export function isoOrDash(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '-' : new Date(ms).toISOString();
}

/**
 * A running count on stderr; see {@link createProgress}.
 *
 * @example
 * ```ts
 * const progress: Progress = createProgress(ctx, { tty: false });
 * ```
 */
export interface Progress {
  /** Reports the current state; redrawn at most every `intervalMs` (always on `done`). */
  update(text: string): void;
  /** Prints the last state and ends the line. */
  done(text?: string): void;
}

/**
 * A running count for long work, written to stderr: redrawn in place (`\r`) on a terminal, one line
 * per interval otherwise (logs, CI), so a 100,000-row job shows life without flooding a log file.
 *
 * @example
 * ```ts
 * const progress = createProgress(ctx, { tty: process.stderr.isTTY === true });
 * for (const n of batches) progress.update(`${n} rows re-encrypted`);
 * progress.done();
 * ```
 */
export function createProgress(
  ctx: Pick<CliContext, 'stderr'>,
  opts: { tty: boolean; intervalMs?: number; now?: () => number },
): Progress {
  const now = opts.now ?? Date.now;
  const interval = opts.intervalMs ?? (opts.tty ? 100 : 2000);
  let last = -Infinity;
  let pending: string | undefined;
  let drawn = false;
  const draw = (text: string): void => {
    ctx.stderr(opts.tty ? `\r\x1b[2K${text}` : `${text}\n`);
    drawn = true;
    pending = undefined;
  };
  return {
    update(text) {
      pending = text;
      const t = now();
      if (t - last >= interval) {
        last = t;
        draw(text);
      }
    },
    done(text) {
      const final = text ?? pending;
      if (final !== undefined) draw(final);
      if (opts.tty && drawn) ctx.stderr('\n');
    },
  };
}
