// LWA client secrets over SQL, sealed at rest.
import { assertTime } from '../shared.js';
import type { AppSecretInput, AppSecretRecord, AppSecretStore } from '../store.js';
import type { SqlContext } from './driver.js';
import { num, numOrNull } from './values.js';
import { writeEffects } from './effects.js';

/** The AppSecretStore methods over the SQL driver. */
export function appSecretMethods(ctx: SqlContext): AppSecretStore {
  const { db, now, sealer } = ctx;

  return {
    async saveAppSecret(input: AppSecretInput) {
      if (input.expiresAt !== null) assertTime(input.expiresAt, 'expiresAt');
      const at = now();
      const secretEnc = sealer.seal('app_secrets', 'secret', input.id, input.secret);
      await db.transaction(async (tx) => {
        await tx.run(
          'INSERT INTO app_secrets (id, client_id, secret_enc, created_at, expires_at) VALUES (?, ?, ?, ?, ?)',
          [input.id, input.clientId, secretEnc, at, input.expiresAt],
        );
        await writeEffects(tx, input, at);
      });
      return {
        id: input.id,
        clientId: input.clientId,
        secret: input.secret,
        createdAt: at,
        expiresAt: input.expiresAt,
      };
    },

    async listAppSecrets(clientId) {
      const rows = await db.all(
        'SELECT * FROM app_secrets WHERE client_id = ? ORDER BY created_at DESC, id DESC',
        [clientId],
      );
      return rows.map((row): AppSecretRecord => ({
        id: String(row.id),
        clientId: String(row.client_id),
        secret: sealer.open('app_secrets', 'secret', String(row.id), String(row.secret_enc)),
        createdAt: num(row.created_at),
        expiresAt: numOrNull(row.expires_at),
      }));
    },

    async setAppSecretExpiry(id, expiresAt) {
      if (expiresAt !== null) assertTime(expiresAt, 'expiresAt');
      return (await db.run('UPDATE app_secrets SET expires_at = ? WHERE id = ?', [expiresAt, id])) === 1;
    },

    async deleteAppSecret(id) {
      return (await db.run('DELETE FROM app_secrets WHERE id = ?', [id])) === 1;
    },
  };
}
