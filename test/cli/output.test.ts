// The CLI's output helpers in-process: aligned tables, inert control characters, the running count.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createProgress, formatFields, formatTable, isoOrDash } from '../../src/cli/output.js';

describe('CLI output helpers', () => {
  it('aligns columns on the widest cell and trims trailing spaces', () => {
    const text = formatTable(
      ['ID', 'STATUS', 'NOTE'],
      [
        ['A1', 'active', ''],
        ['A1234567', 'reauthorization_required', 'x'],
      ],
    );
    assert.equal(
      text,
      [
        'ID        STATUS                    NOTE',
        'A1        active',
        'A1234567  reauthorization_required  x',
        '',
      ].join('\n'),
    );
  });

  it('shows control characters in cells and fields as ?', () => {
    assert.equal(formatTable(['A'], [['x\x1b[2Jy\r\n']]), 'A\nx?[2Jy??\n');
    assert.equal(formatFields([['user', 'a\x07b\x9bc']]), 'user  a?b?c\n');
    assert.equal(isoOrDash(null), '-');
    assert.equal(isoOrDash(0), '1970-01-01T00:00:00.000Z');
  });

  it('redraws the running count in place on a terminal, at most once per interval, and ends the line', () => {
    let t = 0;
    const out: string[] = [];
    const p = createProgress({ stderr: (s) => out.push(s) }, { tty: true, intervalMs: 100, now: () => t });
    p.update('1 done');
    t = 50;
    p.update('2 done'); // within the interval: not drawn
    t = 150;
    p.update('3 done');
    t = 160;
    p.update('4 done');
    p.done();
    assert.deepEqual(out, ['\r\x1b[2K1 done', '\r\x1b[2K3 done', '\r\x1b[2K4 done', '\n']);
  });

  it('writes whole lines when not on a terminal (logs), and the final state on done', () => {
    let t = 0;
    const out: string[] = [];
    const p = createProgress({ stderr: (s) => out.push(s) }, { tty: false, intervalMs: 2000, now: () => t });
    for (let i = 1; i <= 5; i++) {
      t += 700;
      p.update(`${i * 100} rows`);
    }
    p.done('500 rows, finished');
    assert.deepEqual(out, ['100 rows\n', '400 rows\n', '500 rows, finished\n']);
    const quiet: string[] = [];
    createProgress({ stderr: (s) => quiet.push(s) }, { tty: true }).done();
    assert.deepEqual(quiet, [], 'nothing drawn, nothing to end');
  });
});
