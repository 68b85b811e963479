// `spapi-auth sellers import FILE` and `sellers export`: moving sellers in and out of the store.
import {
  createReadStream,
  createWriteStream,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  type WriteStream,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { DEFAULT_REFRESH_RATE_LIMIT } from '../../config.js';
import { exportSellers } from '../../server/sellers/export.js';
import { importSellers, type ImportCounts, type ImportSummary } from '../../server/sellers/import.js';
import { readTransferLines, transferCipher, transferFormatOf } from '../../server/sellers/transfer-format.js';
import { spApiCaller } from '../../server/tokens/gateway.js';
import { CliError, UsageError, type CliContext } from '../command.js';
import { printJson } from '../output.js';
import {
  cliKeyRing,
  integerFlag,
  loadCliConfig,
  loadCliStoreConfig,
  loadSecretRing,
  singleArg,
  withStore,
} from '../runtime.js';

/** The flags of `import` and `export` (subcommand() checks which belongs to which). */
export const TRANSFER_FLAGS = {
  import: ['format', 'dry-run', 'json', 'rate', 'concurrency', 'passphrase-file'],
  export: ['out', 'passphrase-file', 'unencrypted-refresh-tokens', 'json'],
} as const;

/** The passphrase of `--passphrase-file` (first line), or of SPAPI_AUTH_TRANSFER_PASSPHRASE. */
function passphrase(values: Record<string, unknown>, ctx: CliContext): string | undefined {
  const file = values['passphrase-file'];
  if (typeof file === 'string') {
    try {
      return readFileSync(resolve(ctx.cwd, file), 'utf8').split(/\r?\n/)[0]!;
    } catch (err) {
      throw new CliError(`cannot read --passphrase-file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  const env = ctx.env.SPAPI_AUTH_TRANSFER_PASSPHRASE;
  return env === undefined || env === '' ? undefined : env;
}

/** The count line, alike while the import runs and in its summary. */
function countLine(c: ImportCounts, dryRun: boolean): string {
  const verb = dryRun ? `${c.valid} valid (dry run: nothing verified or stored)` : `${c.imported} imported`;
  return `${c.lines} line${c.lines === 1 ? '' : 's'}: ${verb}, ${c.unchanged} unchanged, ${c.failed} failed`;
}

function humanSummary(s: ImportSummary): string {
  const out: string[] = [];
  for (const f of s.failures) {
    const who =
      f.sellingPartnerId === undefined ? '' : ` ${f.sellingPartnerId}${f.region ? ` (${f.region})` : ''}`;
    out.push(`line ${f.line}:${who} ${f.code} — ${f.message}`);
  }
  out.push(
    countLine(s, s.dryRun) + (s.dryRun ? '' : `; ${s.lwaCalls} LWA refresh${s.lwaCalls === 1 ? '' : 'es'}`),
  );
  for (const note of s.notes) out.push(`note: ${note.message}`);
  if (s.stopped !== null) out.push(`stopped early: ${s.stopped}`);
  return out.join('\n') + '\n';
}

/**
 * `sellers import FILE|-`: exit 0 when every line was imported (or unchanged), 1 when any failed.
 *
 * @example
 * ```sh
 * spapi-auth sellers import sellers.jsonl --json
 * ```
 */
export async function importCommand(
  rest: string[],
  values: Record<string, unknown>,
  ctx: CliContext,
): Promise<number> {
  const file = singleArg(rest, 'FILE (or - for stdin)');
  // --format, else the file's extension, else its first line.
  const format = values.format ?? (file === '-' ? undefined : transferFormatOf(file)) ?? 'auto';
  if (format !== 'jsonl' && format !== 'csv' && format !== 'auto')
    throw new UsageError('--format must be jsonl or csv');
  const rate = integerFlag(values.rate, 'rate', 1, 10_000);
  const concurrency = integerFlag(values.concurrency, 'concurrency', 1, 64) ?? 4;
  const config = loadCliConfig(ctx);
  const keyRing = cliKeyRing(config.encryptionKeys, true);
  const secret = passphrase(values, ctx);
  let input: Readable;
  if (file === '-') input = process.stdin;
  else {
    input = createReadStream(resolve(ctx.cwd, file));
    await new Promise<void>((ok, fail) => {
      input
        .once('readable', ok)
        .once('error', (err: NodeJS.ErrnoException) =>
          fail(new CliError(`cannot read ${file} (${err.code ?? 'error'})`)),
        );
    });
  }
  const json = values.json === true;
  const dryRun = values['dry-run'] === true;
  let lastReport = 0;
  const summary = await withStore(ctx, config, keyRing, async (store) => {
    const ring = await loadSecretRing(config, store);
    try {
      return await importSellers(readTransferLines(input, format), {
        store,
        credentials: () => ring.credentials(),
        lwa: config.amazonUrl ? { amazonUrl: config.amazonUrl } : {},
        spapi: { callSpApi: spApiCaller(config) },
        ownership: { allowRelink: config.allowRelink, evidence: config.reauthorizeEvidence },
        // Paced like the proactive refresher: an import does not crowd out the service's refreshes.
        ratePerSecond: rate ?? (config.refreshRateLimit || DEFAULT_REFRESH_RATE_LIMIT),
        concurrency,
        dryRun,
        ...(secret !== undefined ? { passphrase: secret } : {}),
        onProgress: (counts) => {
          const t = Date.now();
          if (t - lastReport < 1000) return;
          lastReport = t;
          ctx.stderr(`spapi-auth sellers import: ${countLine(counts, dryRun)}\n`);
        },
      });
    } catch (err) {
      if (err instanceof TypeError) throw new UsageError(err.message);
      throw err;
    }
  });
  if (json) {
    printJson(ctx, {
      dry_run: summary.dryRun,
      lines: summary.lines,
      imported: summary.imported,
      unchanged: summary.unchanged,
      valid: summary.valid,
      failed: summary.failed,
      lwa_calls: summary.lwaCalls,
      authorized_at_defaulted: summary.authorizedAtDefaulted,
      profiles_pending: summary.profilesPending,
      stopped: summary.stopped,
      notes: summary.notes,
      failures: summary.failures.map((f) => ({
        line: f.line,
        code: f.code,
        message: f.message,
        selling_partner_id: f.sellingPartnerId ?? null,
        region: f.region ?? null,
      })),
    });
  } else ctx.stdout(humanSummary(summary));
  return summary.failed === 0 ? 0 : 1;
}

/**
 * `sellers export`: JSON lines on stdout or `--out FILE`; refresh tokens encrypted with the
 * passphrase, or clear with `--unencrypted-refresh-tokens`.
 *
 * @example
 * ```sh
 * spapi-auth sellers export --passphrase-file pass.txt --out sellers.jsonl
 * ```
 */
export async function exportCommand(
  rest: string[],
  values: Record<string, unknown>,
  ctx: CliContext,
): Promise<number> {
  if (rest.length > 0) throw new UsageError("unexpected argument for 'export'");
  const clear = values['unencrypted-refresh-tokens'] === true;
  const secret = passphrase(values, ctx);
  if (clear && secret !== undefined)
    throw new UsageError('give a passphrase or --unencrypted-refresh-tokens, not both');
  if (!clear && secret === undefined)
    throw new UsageError(
      'refresh tokens leave encrypted: give --passphrase-file FILE (or SPAPI_AUTH_TRANSFER_PASSPHRASE); --unencrypted-refresh-tokens writes them in clear',
    );
  let protection;
  try {
    protection = clear ? ({ clear: true } as const) : { cipher: transferCipher(secret!) };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const settings = loadCliStoreConfig(ctx);
  const keyRing = cliKeyRing(settings.encryptionKeys, true);
  const file = typeof values.out === 'string' ? privateFile(resolve(ctx.cwd, values.out)) : undefined;
  const out = file?.stream;
  const write = out
    ? (line: string) =>
        new Promise<void>((ok, fail) => {
          if (out.write(line)) ok();
          else out.once('drain', ok).once('error', fail);
        })
    : (line: string) => ctx.stdout(line);
  const summary = await withStore(ctx, settings, keyRing, (store) =>
    exportSellers(store, protection, write, (n) => ctx.stderr(`spapi-auth sellers export: ${n} exported\n`)),
  ).catch((err: unknown) => {
    file?.abort();
    throw err;
  });
  await file?.commit();
  if (clear)
    ctx.stderr('spapi-auth sellers export: warning: the refresh tokens are in clear in this export\n');
  const line = `${summary.exported} seller(s) exported${summary.skipped > 0 ? `, ${summary.skipped} not active skipped` : ''}`;
  if (values.json === true && out)
    printJson(ctx, { exported: summary.exported, skipped: summary.skipped, encrypted: summary.encrypted });
  else ctx.stderr(`spapi-auth sellers export: ${line}\n`);
  return 0;
}

/**
 * A file written under a temporary name and renamed over `path` once complete: always created anew
 * with mode 0600 (an existing file's mode is not kept), never through a symlink (the temporary name
 * is created exclusively; the rename replaces a link at `path` instead of following it), and an
 * export that fails leaves `path` as it was.
 */
function privateFile(path: string): { stream: WriteStream; commit(): Promise<void>; abort(): void } {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number;
  try {
    fd = openSync(temp, 'wx', 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === undefined) throw err;
    throw new CliError(`cannot create the export file next to ${path} (${code})`);
  }
  const stream = createWriteStream('', { fd });
  return {
    stream,
    async commit() {
      await new Promise<void>((ok, fail) => {
        stream.once('error', fail);
        stream.end(ok);
      });
      renameSync(temp, path);
    },
    abort() {
      stream.destroy();
      rmSync(temp, { force: true });
    },
  };
}
