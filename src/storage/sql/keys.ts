// API keys over SQL (only their SHA-256 is stored).
import type { ApiKeyInput, ApiKeyRecord, ApiKeyStore } from '../store.js';
import type { Row, SqlContext } from './driver.js';
import { num, numOrNull, strOrNull } from './values.js';
import { writeEffects } from './effects.js';
import { insertRevocation, REVOCATION_WINDOW_MS } from './revocations.js';

function toApiKey(row: Row): ApiKeyRecord {
  return {
    id: String(row.id),
    name: strOrNull(row.name),
    hash: String(row.hash),
    scopes: JSON.parse(String(row.scopes)) as string[],
    createdAt: num(row.created_at),
    lastUsedAt: numOrNull(row.last_used_at),
    revokedAt: numOrNull(row.revoked_at),
  };
}

/** The ApiKeyStore methods over the SQL driver. */
export function apiKeyMethods(ctx: SqlContext): ApiKeyStore {
  const { db, now } = ctx;

  return {
    async createApiKey(input: ApiKeyInput, effects) {
      if (!Array.isArray(input.scopes) || !input.scopes.every((s) => typeof s === 'string')) {
        throw new TypeError('scopes must be an array of strings');
      }
      const at = now();
      await db.transaction(async (tx) => {
        await tx.run(
          `INSERT INTO api_keys (id, name, hash, scopes, created_at, last_used_at, revoked_at)
           VALUES (?, ?, ?, ?, ?, NULL, NULL)`,
          [input.id, input.name, input.hash, JSON.stringify(input.scopes), at],
        );
        await writeEffects(tx, effects, at);
      });
      return { ...input, scopes: [...input.scopes], createdAt: at, lastUsedAt: null, revokedAt: null };
    },

    async findApiKeyByHash(hash) {
      const [row] = await db.all('SELECT * FROM api_keys WHERE hash = ?', [hash]);
      return row ? toApiKey(row) : null;
    },

    async listApiKeys() {
      return (await db.all('SELECT * FROM api_keys ORDER BY created_at, id')).map(toApiKey);
    },

    async touchApiKey(id) {
      await db.run('UPDATE api_keys SET last_used_at = ? WHERE id = ?', [now(), id]);
    },

    async revokeApiKey(id, effects) {
      const at = now();
      return db.transaction(async (tx) => {
        const changed = await tx.run(
          'UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
          [at, id],
        );
        if (changed === 0) return false;
        // Other instances drop the key from their verified-key cache when they read this row.
        await insertRevocation(tx, 'api_key', id, at, at + REVOCATION_WINDOW_MS);
        await writeEffects(tx, effects, at);
        return true;
      });
    },
  };
}
