// `spapi-auth migrate`: applies the schema migrations, with progress (also done at start-up).
import { loadStoreConfig } from '../../config.js';
import { openServiceStore } from '../../server/service.js';
import type { Command } from '../command.js';
import { configFailure, newSqliteFile } from './serve.js';

const help = `Usage: spapi-auth migrate [--json]

Applies pending schema migrations to DATABASE_URL (default sqlite:./data/spapi-auth.db) and prints
each one as it is applied. serve and dev also migrate at start-up; run this first when several
instances share one PostgreSQL database.

Options:
  --json   print { "applied": [names] }
  --help   show this help
`;

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'apply the database schema migrations',
  help,
  options: { json: { type: 'boolean' } },
  async run({ values }, ctx) {
    let store;
    try {
      const { databaseUrl } = loadStoreConfig(ctx.env);
      const created = newSqliteFile(databaseUrl, ctx.cwd);
      store = await openServiceStore(databaseUrl, ctx.cwd, null, { migrate: false });
      if (created !== undefined)
        ctx.stderr(`spapi-auth migrate: created a new SQLite database at ${created}\n`);
    } catch (err) {
      throw configFailure(err);
    }
    try {
      const json = values.json === true;
      const applied = await store.migrate({
        onProgress: (p) => {
          if (!json) ctx.stdout(`applied ${p.index + 1}/${p.total} ${p.name}\n`);
        },
      });
      if (json) ctx.stdout(JSON.stringify({ applied }) + '\n');
      else
        ctx.stdout(
          applied.length === 0 ? 'The schema is up to date.\n' : `Applied ${applied.length} migration(s).\n`,
        );
      return 0;
    } catch (err) {
      throw configFailure(err);
    } finally {
      await store.close();
    }
  },
};
