// What the adapter tests share: an emulator the SDKs reach unchanged (their Amazon URLs, Node's https
// stack; only the socket goes to 127.0.0.1), a seller's refresh token from a real consent, a token
// manager on the emulator's clock, and the emulator's counters.
import https from 'node:https';
import { connect, type Socket } from 'node:net';
import { createMemoryTokenVault, createTokenManager, type TokenManager } from '../../src/core/index.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { APP, SECRET, consentCode, tokenRequest } from '../emulator/helpers.js';

export const SELLER = 'A1EMUSELLERNA01';
export const KEY = { sellingPartnerId: SELLER, region: 'na' } as const;
export const CREDENTIALS = { clientId: APP.clientId, clientSecret: SECRET };
export const PARTICIPATIONS = '/sellers/v1/marketplaceParticipations';

/**
 * Node's https agent with plain TCP sockets to the emulator. No constructor arguments: a client that
 * opts out of pooling (`agent: false`, superagent's default) gets `new` of the global agent's class.
 */
export class EmulatorAgent extends https.Agent {
  static port = 0;
  constructor() {
    super({ keepAlive: true, maxSockets: 32 }); // 1,000 concurrent calls share a pool, as an app's would
  }
  override createConnection(_options: unknown, callback?: (e: Error | null, s: Socket) => void) {
    const socket = connect(EmulatorAgent.port, '127.0.0.1');
    callback?.(null, socket);
    return socket;
  }
}

export interface AdapterRig {
  readonly emulator: RunningEmulator;
  readonly refreshToken: string;
  /** The clock the token manager reads: the real one plus the emulator's offset. */
  now(): number;
  /** Moves the emulator's clock and the manager's together. */
  advance(seconds: number): Promise<void>;
  /** Moves only the emulator's clock (SP-API then refuses a token the manager still holds fresh). */
  advanceEmulatorOnly(seconds: number): Promise<void>;
  manager(): TokenManager;
  /** Refresh-grant calls at the emulator, every outcome. */
  refreshCalls(): Promise<number>;
  /** SP-API calls to `path` at the emulator, every status. */
  spapiCalls(path?: string): Promise<number>;
  close(): Promise<void>;
}

const realAgent = https.globalAgent;

/** Starts the rig; the global https agent is routed to the emulator until `close`. */
export async function startRig(): Promise<AdapterRig> {
  const emulator = await startEmulator({
    port: 0,
    consentMode: 'auto',
    rates: { getMarketplaceParticipations: { rate: 1e6, burst: 1e6 } },
  });
  EmulatorAgent.port = emulator.port;
  (https as { globalAgent: https.Agent }).globalAgent = new EmulatorAgent();
  const { code } = await consentCode(emulator.emulator.fetch);
  const res = await tokenRequest(emulator.emulator.fetch, { grant_type: 'authorization_code', code });
  const { refresh_token: refreshToken } = (await res.json()) as { refresh_token: string };
  let offsetMs = 0;
  const now = () => Date.now() + offsetMs;
  const stats = () => emulator.emulator.control.stats();
  const sum = (r: Record<string, number> | undefined) => Object.values(r ?? {}).reduce((a, b) => a + b, 0);
  return {
    emulator,
    refreshToken,
    now,
    async advance(seconds) {
      await emulator.emulator.control.advance(seconds);
      offsetMs += seconds * 1000;
    },
    async advanceEmulatorOnly(seconds) {
      await emulator.emulator.control.advance(seconds);
    },
    manager() {
      const vault = createMemoryTokenVault();
      vault.put(KEY, refreshToken);
      return createTokenManager({ credentials: CREDENTIALS, vault, amazonUrl: emulator.url, now });
    },
    refreshCalls: async () => sum((await stats()).token.refresh_token),
    spapiCalls: async (path = PARTICIPATIONS) => sum((await stats()).spapi[path]),
    async close() {
      (https as { globalAgent: https.Agent }).globalAgent = realAgent;
      await emulator.close();
    },
  };
}

/** Settles every promise; returns the rejections. */
export async function rejections(ps: readonly Promise<unknown>[]): Promise<unknown[]> {
  return (await Promise.allSettled(ps)).flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
}
