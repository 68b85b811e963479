/**
 * spapi-auth's offline Amazon: Seller Central consent pages, the Appstore hop, the Login with Amazon
 * token endpoint, a slice of SP-API, and a control API to count calls and to break things.
 * See src/emulator/README.md.
 */
export { createEmulator, type Emulator, type FetchLike } from './emulator.js';
export { startEmulator, emulatorListener, type RunningEmulator } from './node.js';
export { createPersistentEmulator, type PersistentEmulator, type StateFileStart } from './state-file.js';
export type { EmulatorSnapshot } from './snapshot.js';
export {
  createControlClient,
  parseApplication,
  EmulatorControlError,
  CONTROL_PREFIX,
  type EmulatorControl,
  type EmulatorQueueInfo,
} from './control.js';
export { DEFAULT_NOTIFICATION_QUEUE, SQS_ACCOUNT_ID, queueUrl } from './sqs.js';
export { DEV_APPLICATION, DEV_CLIENT_SECRET, TEST_SELLERS, devApplication } from './dev-app.js';
export { GRANTLESS_SCOPES, tokenKey } from './lwa.js';
export {
  DEFAULT_RATES,
  type EmulatorStats,
  type EmulatorNotification,
  type EmulatorTokenStatus,
} from './state.js';
export type { FaultSpec, FaultTarget, Outcome } from './faults.js';
export type {
  EmulatorApplication,
  EmulatorSeller,
  EmulatorOptions,
  BucketRate,
  SpapiOperation,
  ConsentMode,
} from './types.js';
