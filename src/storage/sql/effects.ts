// The events and audit records of a change, written in the change's own transaction.
import type { ChangeEffects } from '../store.js';
import { insertAudit } from './audit.js';
import type { SqlExecutor } from './driver.js';
import { insertEvents } from './outbox.js';

/** Writes `effects` in `tx`; audit records without their own time get `at`. */
export async function writeEffects(
  tx: SqlExecutor,
  effects: ChangeEffects | undefined,
  at: number,
): Promise<void> {
  if (!effects) return;
  await insertAudit(tx, effects.audit ?? [], at);
  await insertEvents(tx, effects.events ?? []);
}
