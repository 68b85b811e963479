/**
 * The file format of `spapi-auth sellers import` and `sellers export`: JSON lines (or CSV with a
 * header row) of `selling_partner_id`, `region`, `refresh_token`, and optional `user_ref`, `kind`,
 * `marketplace`, `authorized_at`. An export made for another deployment starts with a header line
 * `{"format":"spapi-auth-sellers","version":1,"encryption":{…}}` and carries each refresh token as
 * `refresh_token_encrypted`: AES-256-GCM under a key derived from the receiver's passphrase with
 * scrypt (node:crypto), a fresh IV per line, the seller and region bound as additional data.
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';

/** The format name in an export's header line. */
export const TRANSFER_FORMAT = 'spapi-auth-sellers';

/** The fields of one seller line. */
export const TRANSFER_FIELDS = [
  'selling_partner_id',
  'region',
  'refresh_token',
  'user_ref',
  'kind',
  'marketplace',
  'authorized_at',
] as const;

/** scrypt cost of a passphrase export (N, r, p): ~100 ms on a server, once per file. */
const SCRYPT = { N: 32768, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;
const PREFIX = 'v1.';

/** How an export's tokens are encrypted (the header line's `encryption`). */
export interface TransferEncryption {
  readonly alg: 'A256GCM';
  readonly kdf: 'scrypt';
  /** base64url, 16 bytes. */
  readonly salt: string;
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/** Seals and opens the refresh tokens of one export file. */
export interface TransferCipher {
  readonly header: TransferEncryption;
  seal(refreshToken: string, sellingPartnerId: string, region: string): string;
  /** The token, or undefined when the passphrase is wrong or the value was altered. */
  open(sealed: string, sellingPartnerId: string, region: string): string | undefined;
}

/**
 * The cipher of a file: a new salt for an export, or the header's salt for an import.
 *
 * @example
 * const cipher = transferCipher(passphrase); // export
 * const same = transferCipher(passphrase, cipher.header); // import
 */
export function transferCipher(passphrase: string, header?: TransferEncryption): TransferCipher {
  if (typeof passphrase !== 'string' || passphrase.length < 12)
    throw new TypeError('the passphrase must have at least 12 characters');
  const params = header ?? {
    alg: 'A256GCM' as const,
    kdf: 'scrypt' as const,
    salt: randomBytes(16).toString('base64url'),
    N: SCRYPT.N,
    r: SCRYPT.r,
    p: SCRYPT.p,
  };
  if (params.alg !== 'A256GCM' || params.kdf !== 'scrypt') throw new TypeError('unknown export encryption');
  if (![16384, 32768, 65536, 131072].includes(params.N) || params.r !== 8 || params.p !== 1)
    throw new TypeError('unsupported scrypt parameters in the export header');
  const key = scryptSync(passphrase, Buffer.from(params.salt, 'base64url'), 32, {
    N: params.N,
    r: params.r,
    p: params.p,
    maxmem: SCRYPT.maxmem * (params.N / SCRYPT.N > 1 ? params.N / SCRYPT.N : 1),
  });
  const aad = (id: string, region: string): Buffer => Buffer.from(`${TRANSFER_FORMAT}|${id}|${region}`);
  return {
    header: params,
    seal(refreshToken, id, region) {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv);
      c.setAAD(aad(id, region));
      const body = Buffer.concat([c.update(refreshToken, 'utf8'), c.final(), c.getAuthTag()]);
      return `${PREFIX}${iv.toString('base64url')}.${body.toString('base64url')}`;
    },
    open(sealed, id, region) {
      if (!sealed.startsWith(PREFIX)) return undefined;
      const [ivText, bodyText] = sealed.slice(PREFIX.length).split('.');
      if (ivText === undefined || bodyText === undefined) return undefined;
      const iv = Buffer.from(ivText, 'base64url');
      const body = Buffer.from(bodyText, 'base64url');
      if (iv.length !== 12 || body.length < 17) return undefined;
      try {
        const d = createDecipheriv('aes-256-gcm', key, iv);
        d.setAAD(aad(id, region));
        d.setAuthTag(body.subarray(body.length - 16));
        return Buffer.concat([d.update(body.subarray(0, body.length - 16)), d.final()]).toString('utf8');
      } catch {
        return undefined;
      }
    },
  };
}

/** One line of an input file: its number and what it holds (an object, or why it is not one). */
export type TransferLine =
  | { readonly line: number; readonly kind: 'record'; readonly record: Record<string, unknown> }
  | { readonly line: number; readonly kind: 'header'; readonly header: Record<string, unknown> }
  | { readonly line: number; readonly kind: 'malformed'; readonly reason: string };

/** The longest line read, in bytes (a line of JSON for one seller is well under 4 KiB). */
export const MAX_LINE_BYTES = 16 * 1024;

/** How a file's lines are read: JSON lines, CSV with a header row, or whichever the first line is. */
export type TransferFormat = 'jsonl' | 'csv';

/**
 * The format a file name says (`.csv`; `.jsonl`, `.ndjson`, `.json`), or undefined (then the
 * content decides: see {@link readTransferLines}).
 *
 * @example
 * transferFormatOf('sellers.csv'); // 'csv'
 */
export function transferFormatOf(fileName: string): TransferFormat | undefined {
  const ext = /\.([A-Za-z0-9]+)$/.exec(fileName)?.[1]?.toLowerCase();
  if (ext === 'csv') return 'csv';
  if (ext === 'jsonl' || ext === 'ndjson' || ext === 'json') return 'jsonl';
  return undefined;
}

type RawLine = { readonly n: number; readonly text: string } | { readonly n: number; readonly text: null };

/**
 * Splits a byte stream into lines (LF or CRLF) without ever holding more than `max` bytes of one:
 * a longer line is reported (`text: null`) as soon as it passes the limit, and its remaining bytes
 * are skipped as they arrive.
 */
async function* splitLines(input: AsyncIterable<unknown>, max: number): AsyncGenerator<RawLine> {
  let parts: Buffer[] = [];
  let size = 0;
  let skipping = false;
  let n = 0;
  const line = (): RawLine => {
    let text = Buffer.concat(parts, size).toString('utf8');
    if (text.endsWith('\r')) text = text.slice(0, -1);
    parts = [];
    size = 0;
    return { n: ++n, text };
  };
  for await (const chunk of input) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk), 'utf8');
    let start = 0;
    while (start <= buf.length) {
      const nl = buf.indexOf(10, start);
      const end = nl < 0 ? buf.length : nl;
      if (!skipping && end > start) {
        // One byte more than the limit for the CR of a CRLF line.
        if (size + (end - start) > max + 1) {
          skipping = true;
          parts = [];
          size = 0;
          yield { n: ++n, text: null };
        } else {
          parts.push(Buffer.from(buf.subarray(start, end)));
          size += end - start;
        }
      }
      if (nl < 0) break;
      if (skipping) skipping = false;
      else {
        const l = line();
        yield l.text !== null && Buffer.byteLength(l.text) > max ? { n: l.n, text: null } : l;
      }
      start = nl + 1;
    }
  }
  if (!skipping && size > 0) {
    const l = line();
    yield l.text !== null && Buffer.byteLength(l.text) > max ? { n: l.n, text: null } : l;
  }
}

/** A CSV header row of the import's columns (what a JSON-lines reader must not take for data). */
function looksLikeCsvHeader(text: string): boolean {
  const first = text.split(',')[0]?.trim().replace(/^"|"$/g, '');
  return text.includes(',') && (TRANSFER_FIELDS as readonly string[]).includes(first ?? '');
}

/**
 * Reads a JSON-lines or CSV stream line by line, streaming (never a whole file, never more than
 * {@link MAX_LINE_BYTES} of one line): blank lines are skipped; a CSV's first line names the
 * columns. `auto` takes the first line that is not blank: `{` starts JSON lines, anything else a
 * CSV header. A file in the other format than the one given throws a `TypeError` that says so.
 *
 * @example
 * for await (const l of readTransferLines(createReadStream('sellers.jsonl'), 'auto')) console.log(l.line);
 */
export async function* readTransferLines(
  input: AsyncIterable<unknown>,
  format: TransferFormat | 'auto',
): AsyncGenerator<TransferLine> {
  let columns: string[] | undefined;
  let chosen: TransferFormat | undefined = format === 'auto' ? undefined : format;
  let sniffed = false;
  for await (const raw of splitLines(input, MAX_LINE_BYTES)) {
    const n = raw.n;
    if (raw.text === null) {
      yield { line: n, kind: 'malformed', reason: `longer than ${MAX_LINE_BYTES} bytes` };
      continue;
    }
    const text = n === 1 ? raw.text.replace(/^\uFEFF/, '') : raw.text;
    if (text.trim() === '') continue;
    if (!sniffed) {
      sniffed = true;
      const json = text.trimStart().startsWith('{');
      if (chosen === undefined) chosen = json ? 'jsonl' : 'csv';
      else if (chosen === 'csv' && json)
        throw new TypeError('the file holds JSON lines, not CSV: give --format jsonl (or name it .jsonl)');
      else if (chosen === 'jsonl' && !json && looksLikeCsvHeader(text))
        throw new TypeError('the file starts with a CSV header: give --format csv (or name it .csv)');
    }
    if (chosen === 'csv') {
      const cells = parseCsvLine(text);
      if (cells === undefined) {
        yield { line: n, kind: 'malformed', reason: 'unbalanced quotes' };
        continue;
      }
      if (columns === undefined) {
        columns = cells.map((c) => c.trim());
        const unknown = columns.filter((c) => !(TRANSFER_FIELDS as readonly string[]).includes(c));
        if (unknown.length > 0 || !columns.includes('selling_partner_id')) {
          throw new TypeError(
            `the CSV header must name the columns (${TRANSFER_FIELDS.join(', ')}); unknown: ${unknown.length}`,
          );
        }
        continue;
      }
      if (cells.length !== columns.length) {
        yield {
          line: n,
          kind: 'malformed',
          reason: `${cells.length} columns, the header has ${columns.length}`,
        };
        continue;
      }
      const record: Record<string, unknown> = {};
      columns.forEach((c, i) => {
        if (cells[i] !== '') record[c] = cells[i];
      });
      yield { line: n, kind: 'record', record };
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      yield { line: n, kind: 'malformed', reason: 'not valid JSON' };
      continue;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      yield { line: n, kind: 'malformed', reason: 'not a JSON object' };
      continue;
    }
    const obj = value as Record<string, unknown>;
    if ('format' in obj) yield { line: n, kind: 'header', header: obj };
    else yield { line: n, kind: 'record', record: obj };
  }
}

/** One CSV line (RFC 4180 quoting, no line breaks inside a field); undefined when quotes do not balance. */
export function parseCsvLine(line: string): string[] | undefined {
  const cells: string[] = [];
  let i = 0;
  for (;;) {
    let cell = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) return undefined;
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            cell += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        cell += line[i++];
      }
      if (i < line.length && line[i] !== ',') return undefined;
    } else {
      const end = line.indexOf(',', i);
      cell = line.slice(i, end < 0 ? line.length : end);
      i = end < 0 ? line.length : end;
    }
    cells.push(cell);
    if (i >= line.length) return cells;
    i++; // the comma
  }
}
