/**
 * Before SQLite opens its file: the folders are created one level at a time and every refusal is
 * said with the path and the reason (missing directory, permission, read-only filesystem, not a
 * regular file). A recursive `mkdir` under `/proc` never returns on Node 20 (it loops on ENOENT at
 * full CPU), and SQLite's own "unable to open database file" names neither the path nor the cause.
 */
import { accessSync, constants, mkdirSync, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { StorageUnavailableError } from './errors.js';

/** Where a person reads what to do about each of these causes. */
export const SQLITE_ERRORS_DOCS = 'docs/storage.md, "When the store cannot be opened"';

/** Pseudo-filesystems that hold no regular files a database could live in. */
const PSEUDO = /^\/(proc|sys|dev)(\/|$)/;

function statOf(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  if (stats.isFIFO()) return 'a pipe';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

function who(): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  return uid === undefined ? 'this user' : `this user (uid ${uid})`;
}

function refuse(file: string, reason: string, cause?: unknown): StorageUnavailableError {
  return new StorageUnavailableError(
    `Cannot open the SQLite database ${file}: ${reason} (see ${SQLITE_ERRORS_DOCS})`,
    cause === undefined ? undefined : { cause },
  );
}

/** Why a filesystem call failed, in words. */
function reasonOf(err: unknown, path: string, doing: string): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EACCES' || code === 'EPERM')
    return `permission denied ${doing} ${path}: ${who()} may not write there; create it and give this user ownership (chown), or choose a path this user owns`;
  if (code === 'EROFS') return `${path} is on a read-only filesystem`;
  if (code === 'ENOTDIR') return `a part of ${path} is not a directory`;
  if (code === 'ENOSPC') return `no space left on the device holding ${path}`;
  return `${doing} ${path} failed (${typeof code === 'string' ? code : 'unknown error'})`;
}

/**
 * Why `path` cannot hold the database, without changing anything (for `doctor`), or undefined
 * when it can: the file is there and usable, or the nearest existing folder lets it be created.
 *
 * @example
 * sqlitePathProblem('/proc/x.db')?.message; // 'Cannot open the SQLite database /proc/x.db: /proc is a pseudo-filesystem …'
 */
export function sqlitePathProblem(path: string): StorageUnavailableError | undefined {
  try {
    inspectPath(resolve(path));
    return undefined;
  } catch (err) {
    if (err instanceof StorageUnavailableError) return err;
    throw err;
  }
}

/** Checks the file, or the folders to be made for it; returns the missing folders, outermost first. */
function inspectPath(file: string): string[] {
  const pseudo = PSEUDO.exec(file);
  if (pseudo !== null)
    throw refuse(file, `/${pseudo[1]} is a pseudo-filesystem that holds no database files`);
  const existing = statOf(file);
  if (existing !== undefined) {
    if (!existing.isFile()) throw refuse(file, `it is ${kindOf(existing)}, not a regular file`);
    try {
      accessSync(file, constants.R_OK | constants.W_OK);
    } catch (err) {
      throw refuse(file, reasonOf(err, file, 'reading and writing'), err);
    }
    return [];
  }
  // The nearest existing ancestor must be a directory this user may write in.
  const missing: string[] = [];
  let dir = dirname(file);
  let stats = statOf(dir);
  while (stats === undefined && dirname(dir) !== dir) {
    missing.unshift(dir);
    dir = dirname(dir);
    stats = statOf(dir);
  }
  if (stats !== undefined && !stats.isDirectory())
    throw refuse(file, `${dir} is ${kindOf(stats)}, not a directory`);
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    const first = missing[0];
    throw refuse(
      file,
      first === undefined
        ? reasonOf(err, dir, 'creating the file in')
        : reasonOf(err, first, 'creating the directory'),
      err,
    );
  }
  return missing;
}

/**
 * Checks `path` can hold the database and creates its missing folders, one level at a time;
 * throws a `StorageUnavailableError` naming the path and the reason when it cannot.
 *
 * @example
 * prepareSqliteFile('/var/lib/spapi-auth/db.sqlite');
 */
export function prepareSqliteFile(path: string): string {
  const file = resolve(path);
  for (const level of inspectPath(file)) {
    try {
      mkdirSync(level);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw refuse(file, reasonOf(err, level, 'creating the directory'), err);
    }
  }
  return file;
}

/**
 * SQLite's refusal to open `file` (after {@link prepareSqliteFile} passed) as an error naming it.
 *
 * @example
 * try { db = new Database(file); } catch (err) { throw sqliteOpenFailure(file, err); }
 */
export function sqliteOpenFailure(file: string, err: unknown): unknown {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== 'string' || !/^SQLITE_/.test(code)) return err;
  const reason =
    code === 'SQLITE_NOTADB'
      ? 'the file is not a SQLite database'
      : code === 'SQLITE_READONLY'
        ? 'it is read-only'
        : `SQLite could not open it (${code})`;
  return refuse(resolve(file), reason, err);
}
