// Plain numbered SQL migrations per engine (`migrations/<engine>/NNN_name.sql`), read from next to
// this module so that the built package (dist/, where the build copies the .sql files) finds them.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** One migration file. */
export interface Migration {
  readonly name: string;
  readonly sql: string;
}

const FILE_PATTERN = /^(\d{3})_[a-z0-9_]+\.sql$/;

/**
 * The migrations of an engine, in order.
 *
 * @example
 * ```ts
 * for (const { name, sql } of loadMigrations('sqlite')) console.log(name);
 * ```
 */
export function loadMigrations(engine: 'sqlite' | 'postgres'): Migration[] {
  const dir = new URL(`./migrations/${engine}/`, import.meta.url);
  return readdirSync(fileURLToPath(dir))
    .filter((file) => FILE_PATTERN.test(file))
    .sort()
    .map((file) => ({ name: file.replace(/\.sql$/, ''), sql: readFileSync(new URL(file, dir), 'utf8') }));
}
