/**
 * Printable ASCII, the one character rule for what comes from outside and must stay plain: tokens,
 * secrets, ids, cursors, names, search text, and text echoed into logs, headers and terminals.
 * ASCII only, so that a value has one spelling (no look-alike letters, no normalisation), no
 * control character (nothing that ends a header or a log line, or moves a terminal's cursor), and
 * a length in characters that is its length in bytes.
 *
 * Two kinds: visible (`!` to `~`, 0x21–0x7E), for values pasted into a header or a URL, where a
 * space would split them; printable (space to `~`, 0x20–0x7E), for names and text people read.
 */

/** The two character classes, for a rule that must stay a regular expression (an OpenAPI `pattern`). */
export const VISIBLE_ASCII_CLASS = '\\x21-\\x7e';
export const PRINTABLE_ASCII_CLASS = '\\x20-\\x7e';

const VISIBLE = new RegExp(`^[${VISIBLE_ASCII_CLASS}]*$`);
const PRINTABLE = new RegExp(`^[${PRINTABLE_ASCII_CLASS}]*$`);
const NOT_VISIBLE = new RegExp(`[^${VISIBLE_ASCII_CLASS}]`, 'g');
const NOT_PRINTABLE = new RegExp(`[^${PRINTABLE_ASCII_CLASS}]`, 'g');

/**
 * Whether `value` is a string of `min` to `max` visible ASCII characters (no space).
 *
 * @example
 * isVisibleAscii('Atzr|IwEB', 2048); // true
 * isVisibleAscii('two words', 100); // false
 */
export function isVisibleAscii(value: unknown, max: number, min = 1): value is string {
  return typeof value === 'string' && value.length >= min && value.length <= max && VISIBLE.test(value);
}

/**
 * Whether `value` is a string of `min` to `max` printable ASCII characters (spaces allowed).
 *
 * @example
 * isPrintableAscii('Shop EU', 100); // true
 */
export function isPrintableAscii(value: unknown, max: number, min = 1): value is string {
  return typeof value === 'string' && value.length >= min && value.length <= max && PRINTABLE.test(value);
}

/**
 * `text` with every character outside printable ASCII replaced by `by` (a space too when
 * `visible`), for echoing a value from elsewhere into a log line, a header or a terminal.
 *
 * @example
 * printableOnly('caf\u00e9\n'); // 'caf??'
 */
export function printableOnly(text: string, by = '?', visible = false): string {
  return text.replace(visible ? NOT_VISIBLE : NOT_PRINTABLE, by);
}
