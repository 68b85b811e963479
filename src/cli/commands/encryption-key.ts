// `spapi-auth encryption-key generate|rewrap`: key rotation for the secrets at rest
// (docs/storage.md): add a new key in front of SPAPI_AUTH_ENCRYPTION_KEYS, restart, rewrap.
import { KID_PATTERN, generateKey } from '../../storage/crypto.js';
import { rewrap, type RewrapProgress } from '../../storage/rewrap.js';
import type { Store } from '../../storage/store.js';
import { CliError, UsageError, type CliContext, type Command } from '../command.js';
import { createProgress, formatFields, printJson } from '../output.js';
import { clip, cliKeyRing, integerFlag, loadCliStoreConfig, subcommand, withStore } from '../runtime.js';

const help = `Usage: spapi-auth encryption-key generate [--kid KID] [--json]
       spapi-auth encryption-key rewrap [--batch-size N] [--json]

Rotating the key that encrypts refresh tokens and the other secrets at rest:
  1. spapi-auth encryption-key generate          prints a new entry kid:<base64 of 32 bytes>
  2. put it FIRST in SPAPI_AUTH_ENCRYPTION_KEYS   SPAPI_AUTH_ENCRYPTION_KEYS=<new>,<old entries>
     and restart every instance: the first key encrypts, every key listed decrypts
  3. spapi-auth encryption-key rewrap            re-encrypts every stored value with the first key
                                                 (safe while the service runs; resumable: run it
                                                 again after an interruption, done rows are skipped)
  4. once rewrap reports 0 values left on the old key, remove the old entry (keep a copy for as
     long as you keep backups made before the rewrap)

generate prints the key once; nothing is stored. rewrap uses DATABASE_URL and
SPAPI_AUTH_ENCRYPTION_KEYS and shows a running count on stderr.

Options:
  --kid KID          the new key's id (1-32 of A-Z a-z 0-9 _ -; default k<yyyymmdd>)
  --batch-size N     values read per batch (1-10000, default 500)
  --json             generate → { kid, key, entry }; rewrap → { scanned, rewrapped, current, raced }
  --help             show this help
`;

/**
 * The store, handing the event loop a turn before each batch: SQLite answers synchronously, so
 * without it a long rewrap would never let a signal handler run or the running count reach stderr.
 */
function yieldingBetweenBatches(store: Store): Store {
  const wrapped: Store = Object.create(store) as Store;
  Object.defineProperty(wrapped, 'listEncryptedValues', {
    value: async (options: Parameters<Store['listEncryptedValues']>[0]) => {
      await new Promise<void>((resolve) => setImmediate(resolve));
      return store.listEncryptedValues(options);
    },
  });
  return wrapped;
}

/** Thrown from the progress callback to stop {@link rewrap} between batches. */
class RewrapInterrupted extends Error {}

function defaultKid(now: Date): string {
  return `k${now.toISOString().slice(0, 10).replace(/-/g, '')}`;
}

/** A key id not in `kids`, derived from `kid` (`k1` → `k2`), to suggest when `kid` is taken. */
function nextKid(kid: string, kids: readonly string[]): string {
  const m = /^(.*?)(\d*)$/.exec(kid)!;
  for (let n = m[2] === '' ? 2 : Number(m[2]) + 1; ; n++) {
    const candidate = `${m[1]}${n}`;
    if (!kids.includes(candidate) && candidate.length <= 32) return candidate;
  }
}

function generate(values: Record<string, unknown>, ctx: CliContext): number {
  const kid = (values.kid as string | undefined) ?? defaultKid(new Date());
  if (!KID_PATTERN.test(kid)) {
    throw new UsageError(`--kid '${clip(kid)}' must be 1-32 characters of A-Z a-z 0-9 _ -`);
  }
  // Only the ids of the configured ring are looked at, to refuse a duplicate id.
  const configured = ctx.env.SPAPI_AUTH_ENCRYPTION_KEYS;
  const kids =
    configured === undefined
      ? []
      : configured
          .split(',')
          .map((e) => e.trim().split(':')[0]!)
          .filter((k) => k !== '');
  if (kids.includes(kid)) {
    // Refused, and said why: a second key under an id in use would make every value written under
    // that id undecryptable (the ring picks a key by id).
    throw new UsageError(
      `key id '${kid}' is already in SPAPI_AUTH_ENCRYPTION_KEYS (this environment's key ring), so no key was generated: ` +
        `a new key under the same id could not decrypt what the current one wrote. ` +
        `To keep using the current ring, there is nothing to do; to rotate, pass a new id (--kid ${nextKid(kid, kids)}) and put the entry first`,
    );
  }
  const entry = `${kid}:${generateKey()}`;
  if (values.json) {
    printJson(ctx, { kid, key: entry.slice(kid.length + 1), entry });
    return 0;
  }
  ctx.stdout(entry + '\n');
  ctx.stderr(
    [
      '',
      'Keep this entry secret (a secret store, not the repository). To start using it:',
      `  1. prepend it: SPAPI_AUTH_ENCRYPTION_KEYS=${kid}:…${kids.length > 0 ? `,${kids.map((k) => `${k}:…`).join(',')}` : ''}`,
      '     (the first key encrypts; keep every old entry after it so existing values still decrypt)',
      '  2. restart every instance of the service',
      '  3. run: spapi-auth encryption-key rewrap',
      '',
    ].join('\n'),
  );
  return 0;
}

async function rewrapAll(values: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const batchSize = integerFlag(values['batch-size'], 'batch-size', 1, 10_000) ?? 500;
  const settings = loadCliStoreConfig(ctx);
  const keyRing = cliKeyRing(settings.encryptionKeys, true);
  const json = values.json === true;
  const progress = createProgress(ctx, { tty: process.stderr.isTTY === true });
  const line = (p: RewrapProgress): string =>
    `rewrap: ${p.scanned} scanned, ${p.rewrapped} re-encrypted, ${p.current} already on ${keyRing.activeKid}` +
    (p.raced > 0 ? `, ${p.raced} changed meanwhile` : '');
  let last: RewrapProgress = { scanned: 0, rewrapped: 0, current: 0, raced: 0 };
  let result: RewrapProgress;
  // Ctrl-C (or SIGTERM) stops after the batch in hand, so the summary says where it stopped; a
  // second one kills at once. Either way a rerun skips what is done.
  let interrupted: NodeJS.Signals | null = null;
  const stop = (signal: NodeJS.Signals): void => {
    interrupted = signal;
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    result = await withStore(ctx, settings, keyRing, (store) =>
      rewrap(yieldingBetweenBatches(store), keyRing, {
        batchSize,
        onProgress: (p) => {
          last = p;
          progress.update(line(p));
          if (interrupted !== null) throw new RewrapInterrupted();
        },
      }),
    );
  } catch (err) {
    progress.done(last.scanned > 0 ? line(last) : undefined);
    if (err instanceof RewrapInterrupted) {
      throw new CliError(
        `interrupted (${interrupted}) after ${last.rewrapped} re-encrypted: run \`spapi-auth encryption-key rewrap\` again to finish (done values are skipped)`,
      );
    }
    if (err instanceof CliError && last.scanned > 0) {
      throw new CliError(
        `${err.message} — stopped after ${last.rewrapped} re-encrypted; fix it and run rewrap again (done values are skipped)`,
      );
    }
    throw err;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  progress.done(line(result));
  if (json) {
    printJson(ctx, { active_kid: keyRing.activeKid, ...result });
    return 0;
  }
  ctx.stdout(
    formatFields([
      ['active key', keyRing.activeKid],
      ['values scanned', String(result.scanned)],
      ['re-encrypted', String(result.rewrapped)],
      ['already current', String(result.current)],
      [
        'changed meanwhile',
        `${result.raced}${result.raced > 0 ? ' (written by the service with the active key)' : ''}`,
      ],
    ]) +
      (keyRing.kids.length > 1
        ? `Every value is on ${keyRing.activeKid}. The other entries (${keyRing.kids.slice(1).join(', ')}) can be removed from SPAPI_AUTH_ENCRYPTION_KEYS once no backup made before now needs them.\n`
        : ''),
  );
  return 0;
}

async function run(
  args: { values: Record<string, unknown>; positionals: string[] },
  ctx: CliContext,
): Promise<number> {
  const { sub, rest } = subcommand(args, { generate: ['kid', 'json'], rewrap: ['batch-size', 'json'] });
  if (rest.length > 0) throw new UsageError(`unexpected argument '${clip(rest[0]!)}'`);
  return sub === 'generate' ? generate(args.values, ctx) : rewrapAll(args.values, ctx);
}

/**
 * `spapi-auth encryption-key`. Registered in `commands/index.ts`.
 *
 * @example
 * ```sh
 * spapi-auth encryption-key rewrap --batch-size 1000
 * ```
 */
export const encryptionKeyCommand: Command = {
  name: 'encryption-key',
  summary: 'generate a new encryption key, or re-encrypt every stored secret with the first key',
  help,
  options: {
    kid: { type: 'string' },
    'batch-size': { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: true,
  run,
};
