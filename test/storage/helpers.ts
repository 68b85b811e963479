// Shared by the SQLite and PostgreSQL test files: temporary folders, the PostgreSQL test server,
// and child processes that use the store.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { PG_URL, postgresSuiteRuns } from '../helpers/e2e.js';

export { PG_URL, postgresSuiteRuns };

/** A temporary folder removed by the returned function. */
export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `spapi-auth-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** A unique schema name for this run. */
export function runSchema(label: string): string {
  return `spapi_test_${label}_${process.pid}_${Date.now().toString(36)}`;
}

export async function dropSchemas(prefix: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ nspname: string }>(
      'SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)',
      [prefix],
    );
    for (const { nspname } of rows) await client.query(`DROP SCHEMA "${nspname}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** Runs `node --import tsx <script> <args>` and resolves to its parsed JSON stdout. */
export function runChild<T>(script: string, args: readonly string[], timeoutMs = 20_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`${script} exited ${code}: ${err.slice(0, 2000)}`));
      else {
        try {
          resolve(JSON.parse(out) as T);
        } catch {
          reject(new Error(`${script} printed no JSON: ${out.slice(0, 500)} ${err.slice(0, 500)}`));
        }
      }
    });
  });
}
