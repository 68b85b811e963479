// Storage errors as a person sees them: every store-opening command names the SQLite file or the
// PostgreSQL server and the real cause (never the port the service would listen on, never a
// password), fails at once on a path under /proc, and points at a docs section that exists.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { cannotRunAsNobody, runCli, type CliResult } from '../helpers/cli.js';
import { PG_URL, postgresSuiteRuns } from '../storage/helpers.js';
import { APP, CANARY_SECRET } from './helpers.js';

const SERVE_ENV = {
  LWA_CLIENT_ID: APP.clientId,
  LWA_CLIENT_SECRET: CANARY_SECRET,
  SPAPI_APPLICATION_ID: APP.id,
  SPAPI_AUTH_PUBLIC_URL: 'http://localhost:3007',
  SPAPI_AUTH_AMAZON_URL: 'http://127.0.0.1:9',
  SPAPI_AUTH_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
  PORT: '3007',
};

/** A command that would hang (the /proc spin) is killed at this bound and fails the test. */
const BOUND_MS = 20_000;

function failure(r: CliResult, cause: RegExp): string {
  assert.equal(r.code, 1, `exit code (null: killed at the bound): ${r.stdout}${r.stderr}`);
  const line = r.stderr.trim();
  assert.match(line, cause);
  assert.doesNotMatch(line, /allowed to listen|set PORT|already in use/, 'a storage error is not the port');
  assert.match(line, /docs\/storage\.md, "When the store cannot be opened"/);
  assert.ok(!line.includes(CANARY_SECRET));
  return line;
}

const COMMANDS: readonly (readonly string[])[] = [['serve'], ['migrate'], ['doctor'], ['sellers', 'list']];

/** Runs each store-opening command with `DATABASE_URL`; `doctor` reports in its table instead of stderr. */
async function eachCommand(
  databaseUrl: string,
  cause: RegExp,
  opts: { asNobody?: boolean } = {},
): Promise<void> {
  for (const args of COMMANDS) {
    const r = await runCli([...args], {
      env: { ...SERVE_ENV, DATABASE_URL: databaseUrl },
      timeoutMs: BOUND_MS,
      ...opts,
    });
    if (args[0] === 'doctor') {
      assert.equal(r.code, 1, `doctor: ${r.stdout}${r.stderr}`);
      const store = r.stdout.split('\n').find((l) => /^fail\s+store\s/.test(l));
      assert.ok(store !== undefined, r.stdout);
      assert.match(store, cause);
      assert.match(store, /docs\/storage\.md, "When the store cannot be opened"/);
      continue;
    }
    failure(r, cause);
  }
}

describe('SQLite: the path and the reason', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spapi-auth-storage-errors-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a path under /proc fails at once in serve, migrate, doctor and sellers (no endless mkdir)', async () => {
    await eachCommand('sqlite:/proc/nope/x.db', /\/proc\/nope\/x\.db: \/proc is a pseudo-filesystem/);
  });

  it('a directory, or a file where a directory should be, is named as not a regular file', async () => {
    await eachCommand(`sqlite:${dir}`, /it is a directory, not a regular file/);
    const file = join(dir, 'plain-file');
    writeFileSync(file, 'x');
    await eachCommand(
      `sqlite:${file}/db.sqlite`,
      /plain-file is not a regular file, not a directory|plain-file is not a directory/,
    );
  });

  it('a file that is not a database is named', async () => {
    const file = join(dir, 'not-a-db.sqlite');
    writeFileSync(file, 'this is not sqlite '.repeat(200));
    const r = await runCli(['migrate'], { env: { DATABASE_URL: `sqlite:${file}` }, timeoutMs: BOUND_MS });
    failure(r, /not-a-db\.sqlite: the file is not a SQLite database/);
  });

  it('a file on a read-only filesystem is named as such', async (t) => {
    // A read-only tmpfs mount: the one way to get EROFS on any machine (needs root to mount).
    const ro = join(dir, 'read-only');
    mkdirSync(ro);
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', ro], {
      encoding: 'utf8',
    });
    if (mounted.status !== 0) {
      if (process.env.CI === 'true') assert.fail(`mount a read-only tmpfs: ${mounted.stderr}`);
      t.skip(`cannot mount a read-only tmpfs here (${mounted.stderr.trim() || 'not root'})`);
      return;
    }
    try {
      await eachCommand(`sqlite:${ro}/db.sqlite`, /read-only/);
      const r = await runCli(['migrate'], {
        env: { DATABASE_URL: `sqlite:${ro}/db.sqlite` },
        timeoutMs: BOUND_MS,
      });
      failure(r, new RegExp(`${ro.replace(/[.]/g, '\\.')}/db\\.sqlite.*read-only`));
    } finally {
      spawnSync('umount', [ro]);
    }
  });

  describe('as an unprivileged user', { skip: cannotRunAsNobody() }, () => {
    it('a directory it may not create is a permission problem with the path, not "not allowed to listen on port"', async () => {
      const target = `/var/lib/spapi-auth-test-${randomBytes(4).toString('hex')}`;
      await eachCommand(
        `sqlite:${target}/db.sqlite`,
        new RegExp(
          `permission denied creating the directory ${target}: this user \\(uid 65534\\) may not write there`,
        ),
        { asNobody: true },
      );
      assert.equal(existsSync(target), false);
    });

    it('a database file owned by another user is a permission problem naming the file', async () => {
      const owned = mkdtempSync(join(tmpdir(), 'spapi-auth-owned-'));
      try {
        chmodSync(owned, 0o755);
        const file = join(owned, 'db.sqlite');
        const made = await runCli(['migrate'], { env: { DATABASE_URL: `sqlite:${file}` } });
        assert.equal(made.code, 0, made.stderr);
        chmodSync(file, 0o644);
        const r = await runCli(['migrate'], {
          env: { DATABASE_URL: `sqlite:${file}` },
          asNobody: true,
          timeoutMs: BOUND_MS,
        });
        failure(r, new RegExp(`permission denied reading and writing ${file.replace(/[.]/g, '\\.')}`));
      } finally {
        rmSync(owned, { recursive: true, force: true });
      }
    });
  });
});

if (
  await postgresSuiteRuns(
    'PostgreSQL storage errors',
    'PostgreSQL storage errors',
    'names host:port and the cause',
  )
) {
  describe('PostgreSQL: host:port and the cause, never the password', () => {
    const role = `spapi_auth_noperm_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: PG_URL });
    after(async () => {
      await admin.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
      await admin.end();
    });

    it('a port nobody listens on: refused, at host:port', async () => {
      await eachCommand(
        'postgres://postgres:CANARYpgPassword@127.0.0.1:1/none',
        /PostgreSQL at 127\.0\.0\.1:1 refused the connection/,
      );
    });

    it('a server that accepts the connection and never answers: a timeout, at host:port', async () => {
      // A listening socket that never speaks: what a stuck server or a half-open firewall looks like.
      const silent: Server = createServer(() => undefined);
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const { port } = silent.address() as { port: number };
      try {
        await eachCommand(
          `postgres://postgres:CANARYpgPassword@127.0.0.1:${port}/none?connect_timeout=2`,
          new RegExp(`PostgreSQL at 127\\.0\\.0\\.1:${port} did not answer in time`),
        );
      } finally {
        silent.close();
      }
    });

    it('a mistyped host: unknown, named', async () => {
      const r = await runCli(['migrate'], {
        env: { DATABASE_URL: 'postgres://postgres:CANARYpgPassword@no-such-db-host.invalid:5432/x' },
        timeoutMs: BOUND_MS,
      });
      failure(r, /PostgreSQL at no-such-db-host\.invalid:5432: the host no-such-db-host\.invalid is unknown/);
      assert.ok(!r.stderr.includes('CANARYpgPassword'));
    });

    it('a role that does not exist: authentication, with the user named', async () => {
      const url = new URL(PG_URL);
      url.username = 'no_such_role_h8';
      url.password = 'CANARYpgPassword';
      const r = await runCli(['sellers', 'list'], { env: { DATABASE_URL: url.href }, timeoutMs: BOUND_MS });
      failure(
        r,
        new RegExp(
          `PostgreSQL at ${url.hostname.replace(/\./g, '\\.')}:${url.port || 5432} refused user "no_such_role_h8": authentication failed`,
        ),
      );
      assert.ok(!r.stderr.includes('CANARYpgPassword'));
    });

    it('a user that may not create tables in the schema: the GRANT to run, in every command', async () => {
      await admin.connect();
      await admin.query(`CREATE ROLE ${role} LOGIN`);
      const url = new URL(PG_URL);
      url.username = role;
      const grant = new RegExp(
        `user "${role}" may not create or use tables in schema "public" \\(permission denied\\)\\. As a superuser run: GRANT USAGE, CREATE ON SCHEMA public TO ${role};`,
      );
      const migrate = await runCli(['migrate'], { env: { DATABASE_URL: url.href }, timeoutMs: BOUND_MS });
      failure(migrate, grant);
      const serve = await runCli(['serve'], {
        env: { ...SERVE_ENV, DATABASE_URL: url.href },
        timeoutMs: BOUND_MS,
      });
      failure(serve, grant);
    });
  });
}
