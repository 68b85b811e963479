// An emulator whose state lives in a file across restarts (`spapi-auth dev`, `spapi-auth emulator
// --state FILE`). When: a write follows every answered request within WRITE_DELAY_MS, coalesced (a
// busy emulator writes at most once per delay), and a last one on close — so a hard kill loses at
// most the changes of the last WRITE_DELAY_MS. How: the whole snapshot to `<file>.tmp` (mode 0600:
// it holds tokens), flushed to disk, then renamed over the file, so a reader sees the old state or
// the new one, never half of one.
import { chmod, mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createEmulator, type Emulator } from './emulator.js';
import { SnapshotError } from './snapshot.js';
import type { EmulatorOptions } from './types.js';

/** How long after a change the state is written (milliseconds). */
export const WRITE_DELAY_MS = 250;

/** What became of the state file at start. */
export interface StateFileStart {
  readonly path: string;
  /** True when the emulator continues the state read from the file; false: it starts fresh. */
  readonly restored: boolean;
  /**
   * A file that could not be used (not JSON, not a snapshot, another version): moved aside to
   * `path` (kept, never deleted), with `reason`. The emulator then starts fresh.
   */
  readonly setAside?: { readonly path: string; readonly reason: string };
}

/**
 * An emulator bound to a state file.
 *
 * @example
 * ```ts
 * const { emulator, close } = await createPersistentEmulator('./data/emulator-state.json');
 * // … serve emulator.fetch …
 * await close(); // writes the last state
 * ```
 */
export interface PersistentEmulator {
  readonly emulator: Emulator;
  readonly stateFile: StateFileStart;
  /** Writes the state now if it changed since the last write. */
  flush(): Promise<void>;
  /** Writes the last state and stops writing. */
  close(): Promise<void>;
}

/** A state file that can be neither read nor set aside (permissions, a directory in its place). */
export class EmulatorStateFileError extends Error {
  override readonly name = 'EmulatorStateFileError';
}

async function readState(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new EmulatorStateFileError(
      `cannot read the emulator state file ${path} (${code ?? (err as Error).message}): fix its permissions, or move it away to start the emulator afresh`,
    );
  }
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  await mkdir(dirname(path), { recursive: true });
  const file = await open(tmp, 'w', 0o600);
  try {
    await file.chmod(0o600); // a leftover temp file keeps its old mode otherwise
    await file.writeFile(text, 'utf8');
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmp, path);
}

/** Moves an unusable state file aside, next to it, under a name that says when. */
async function setAside(path: string): Promise<string> {
  const aside = `${path}.unreadable-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  try {
    await rename(path, aside);
    await chmod(aside, 0o600);
  } catch (err) {
    throw new EmulatorStateFileError(
      `the emulator state file ${path} is unusable and cannot be moved aside (${(err as NodeJS.ErrnoException).code ?? 'error'}): move it away by hand`,
    );
  }
  return aside;
}

/**
 * Creates an emulator that continues the state kept in `path` and keeps it there. A missing file
 * starts fresh (created at the first change); an unusable one is moved aside (see
 * {@link StateFileStart.setAside}: say so to the user — the tokens issued before are unknown now)
 * and the emulator starts fresh. `options.onWriteError` hears a failed write (the next change
 * tries again). One process per state file.
 *
 * @example
 * ```ts
 * const { emulator, stateFile, close } = await createPersistentEmulator('./emulator-state.json', { tokenTtlS: 60 });
 * if (stateFile.setAside) console.warn(`moved ${stateFile.setAside.path} aside: ${stateFile.setAside.reason}`);
 * ```
 */
export async function createPersistentEmulator(
  path: string,
  options: Omit<EmulatorOptions, 'state' | 'onChange'> & {
    readonly onWriteError?: (err: Error) => void;
    /** Write delay after a change (milliseconds); default {@link WRITE_DELAY_MS}. */
    readonly writeDelayMs?: number;
  } = {},
): Promise<PersistentEmulator> {
  const delay = options.writeDelayMs ?? WRITE_DELAY_MS;
  let emulator: Emulator | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let writing: Promise<void> | undefined;
  let dirty = false;
  let closed = false;
  let lastWritten: string | undefined;

  const write = async (): Promise<void> => {
    timer = undefined;
    if (emulator === undefined) return;
    dirty = false;
    try {
      const text = JSON.stringify(emulator.snapshot());
      if (text !== lastWritten) {
        await writeAtomically(path, text);
        lastWritten = text;
      }
    } catch (err) {
      options.onWriteError?.(err as Error);
    }
  };
  const run = (): Promise<void> =>
    (writing = write().finally(() => {
      writing = undefined;
      if (dirty && !closed) schedule();
    }));
  const schedule = (): void => {
    dirty = true;
    if (timer !== undefined || writing !== undefined || closed) return;
    timer = setTimeout(() => void run(), delay);
    timer.unref(); // a pending write never keeps the process alive; close() writes the last state
  };
  const flush = async (): Promise<void> => {
    for (;;) {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      if (writing !== undefined) await writing;
      else if (dirty) await run();
      else return;
    }
  };

  const { onWriteError: _w, writeDelayMs: _d, ...emulatorOptions } = options;
  const text = await readState(path);
  let start: StateFileStart = { path, restored: false };
  if (text !== undefined) {
    try {
      emulator = createEmulator({ ...emulatorOptions, state: JSON.parse(text), onChange: schedule });
      start = { path, restored: true };
      lastWritten = text;
    } catch (err) {
      if (!(err instanceof SnapshotError) && !(err instanceof SyntaxError)) throw err;
      const reason = err instanceof SyntaxError ? 'not valid JSON' : err.message;
      start = { path, restored: false, setAside: { path: await setAside(path), reason } };
    }
  }
  emulator ??= createEmulator({ ...emulatorOptions, onChange: schedule });
  return {
    emulator,
    stateFile: start,
    flush,
    close: async () => {
      await flush();
      closed = true;
    },
  };
}
