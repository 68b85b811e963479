// The one contract the Store passes on every engine (Auth.js adapter-suite style): sqlite-memory.test.ts
// (SQLite `:memory:`), sqlite.test.ts (a file) and postgres.test.ts call storeContract with their own
// database factory. Each concern of the store has its file in contract/; kit.ts holds what they share.
import { describe } from 'node:test';
import { argumentChecksContract } from './contract/argument-checks.js';
import { credentialsAuditContract } from './contract/credentials-audit.js';
import { encryptionContract } from './contract/encryption.js';
import { contractKit, type ContractHarness } from './contract/kit.js';
import { oauthTransactionsContract } from './contract/oauth-flows.js';
import { pendingFlowCapContract } from './contract/pending-flow-cap.js';
import { refreshLeaseContract } from './contract/refresh-lease.js';
import { fingerprintsContract } from './contract/refresh-token-fingerprints.js';
import { revocationsContract } from './contract/revocations.js';
import { sellersContract } from './contract/sellers.js';
import { unattendedRotationContract } from './contract/unattended-rotation.js';
import { webhookOutboxContract } from './contract/webhook-outbox.js';

const CONCERNS = [
  sellersContract,
  refreshLeaseContract,
  oauthTransactionsContract,
  pendingFlowCapContract,
  revocationsContract,
  credentialsAuditContract,
  unattendedRotationContract,
  webhookOutboxContract,
  argumentChecksContract,
  fingerprintsContract,
  encryptionContract,
];

export function storeContract(harness: ContractHarness): void {
  const kit = contractKit(harness);
  describe(`Store contract: ${harness.name}`, () => {
    for (const concern of CONCERNS) concern(kit);
  });
}
