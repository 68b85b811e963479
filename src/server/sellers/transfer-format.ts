/**
 * The file format of `spapi-auth sellers import` and `sellers export`: JSON lines (or CSV with a
 * header row) of `selling_partner_id`, `region`, `refresh_token`, and optional `user_ref`, `kind`,
 * `marketplace`, `authorized_at`. An export made for another deployment starts with a header line
 * `{"format":"spapi-auth-sellers","version":1,"encryption":{…}}` and carries each refresh token as
 * `refresh_token_encrypted`: AES-256-GCM under a key derived from the receiver's passphrase with
 * scrypt (node:crypto), a fresh IV per line, the seller and region bound as additional data.
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

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

const MAX_LINE = 16 * 1024;

/**
 * Reads a JSON-lines or CSV stream line by line (never whole): blank lines are skipped; a CSV's
 * first line names the columns.
 *
 * @example
 * for await (const l of readTransferLines(createReadStream('sellers.jsonl'), 'jsonl')) console.log(l.line);
 */
export async function* readTransferLines(
  input: Readable,
  format: 'jsonl' | 'csv',
): AsyncGenerator<TransferLine> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  let columns: string[] | undefined;
  for await (const raw of lines) {
    n++;
    const text = n === 1 ? raw.replace(/^\uFEFF/, '') : raw;
    if (text.trim() === '') continue;
    if (text.length > MAX_LINE) {
      yield { line: n, kind: 'malformed', reason: `longer than ${MAX_LINE} characters` };
      continue;
    }
    if (format === 'csv') {
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
