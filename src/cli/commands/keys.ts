// `spapi-auth keys create|list|revoke`: API keys for the token API. A key is printed once; the store
// keeps only its SHA-256.
import { SCOPES, generateApiKey, isScope } from '../../server/tokens/api-keys.js';
import type { Store } from '../../storage/store.js';
import { CliError, UsageError, type CliContext, type Command } from '../command.js';
import { loadCliStoreConfig, withStore } from '../runtime.js';
import { isPrintableAscii } from '../../core/printable.js';

const help = `Usage: spapi-auth keys create --scopes SCOPE[,SCOPE…] [--name NAME] [--json]
       spapi-auth keys list [--json]
       spapi-auth keys revoke <id>

API keys for the token API (Authorization: Bearer spk_…). The key is printed once, at creation;
the store keeps only its SHA-256. Scopes: ${SCOPES.join(', ')}.
Uses DATABASE_URL (default sqlite:./data/spapi-auth.db), which must exist and be migrated
(\`spapi-auth migrate\`, or a service that started once).

Options:
  --scopes LIST   comma-separated scopes (create)
  --name NAME     a label shown by \`keys list\` (create)
  --json          print one JSON document: create → { "id", "key", "scopes" }; list → [ … ]
  --help          show this help
`;

// Like every store command but `migrate`, keys refuse a missing or unmigrated store instead of
// creating one: a key made in a mistyped database would work nowhere.
function withKeyStore<T>(ctx: CliContext, fn: (store: Store) => Promise<T>): Promise<T> {
  return withStore(ctx, loadCliStoreConfig(ctx), null, fn);
}

export const keysCommand: Command = {
  name: 'keys',
  summary: 'create, list and revoke API keys for the token API',
  help,
  positionals: true,
  options: {
    scopes: { type: 'string' },
    name: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run({ values, positionals }, ctx) {
    const [sub, ...rest] = positionals;
    const json = values.json === true;
    if (sub === 'create') {
      if (rest.length > 0) throw new UsageError('keys create takes no positional arguments');
      if (typeof values.scopes !== 'string' || values.scopes.trim() === '') {
        throw new UsageError(`--scopes is required (${SCOPES.join(', ')})`);
      }
      const scopes = [
        ...new Set(
          values.scopes
            .split(',')
            .map((s) => s.trim())
            .filter((s) => s !== ''),
        ),
      ];
      const unknown = scopes.filter((s) => !isScope(s));
      if (unknown.length > 0 || scopes.length === 0) {
        throw new UsageError(
          `unknown scope(s): ${unknown.map((s) => JSON.stringify(s.slice(0, 40))).join(', ')} (expected ${SCOPES.join(', ')})`,
        );
      }
      const name = typeof values.name === 'string' ? values.name : null;
      if (name !== null && !isPrintableAscii(name, 100))
        throw new UsageError('--name must be 1 to 100 printable characters');
      const k = generateApiKey();
      await withKeyStore(ctx, (store) =>
        store.createApiKey(
          { id: k.id, name, hash: k.hash, scopes },
          { audit: [{ action: 'api_key.created', actor: 'cli', outcome: 'ok', details: { key_id: k.id } }] },
        ),
      );
      if (json) ctx.stdout(JSON.stringify({ id: k.id, key: k.key, scopes }) + '\n');
      else {
        ctx.stdout(`${k.key}\n`);
        ctx.stderr(`Created API key ${k.id} (${scopes.join(', ')}). It is shown only once: store it now.\n`);
      }
      return 0;
    }
    if (sub === 'list') {
      if (rest.length > 0) throw new UsageError('keys list takes no positional arguments');
      const keys = await withKeyStore(ctx, (store) => store.listApiKeys());
      const rows = keys.map((k) => ({
        id: k.id,
        name: k.name,
        scopes: k.scopes,
        created_at: new Date(k.createdAt).toISOString(),
        last_used_at: k.lastUsedAt === null ? null : new Date(k.lastUsedAt).toISOString(),
        revoked_at: k.revokedAt === null ? null : new Date(k.revokedAt).toISOString(),
      }));
      if (json) ctx.stdout(JSON.stringify(rows) + '\n');
      else if (rows.length === 0) ctx.stdout('No API keys.\n');
      else {
        for (const r of rows) {
          const state = r.revoked_at === null ? 'active' : `revoked ${r.revoked_at}`;
          ctx.stdout(`${r.id}  ${r.scopes.join(',')}  ${r.name ?? '-'}  created ${r.created_at}  ${state}\n`);
        }
      }
      return 0;
    }
    if (sub === 'revoke') {
      const [id, ...extra] = rest;
      if (id === undefined || extra.length > 0) throw new UsageError('keys revoke takes exactly one key id');
      if (!/^[0-9a-f]{16}$/.test(id))
        throw new UsageError('a key id is 16 hexadecimal characters (see keys list)');
      const ok = await withKeyStore(ctx, (store) =>
        store.revokeApiKey(id, {
          audit: [{ action: 'api_key.revoked', actor: 'cli', outcome: 'ok', details: { key_id: id } }],
        }),
      );
      if (!ok) throw new CliError(`no active API key ${id}`);
      if (json) ctx.stdout(JSON.stringify({ id, revoked: true }) + '\n');
      else ctx.stdout(`Revoked API key ${id}. Running services stop accepting it within 10 seconds.\n`);
      return 0;
    }
    throw new UsageError(
      sub === undefined
        ? 'a subcommand is required: create, list or revoke'
        : `unknown subcommand '${sub.slice(0, 40)}'`,
    );
  },
};
