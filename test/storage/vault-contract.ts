// The lease rules of a TokenVault (core/token-vault.ts), one contract for the core's memory vault
// (library users) and the store-backed vault (the service): vault.test.ts runs it on both.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SellerTokenKey, TokenVault } from '../../src/core/index.js';
import { fakeClock } from './contract/kit.js';

/** A fresh, empty vault on the given clock, with the app-side steps the protocol leaves out. */
export interface VaultUnderTest {
  readonly vault: TokenVault;
  /** Stores a new authorization (the callback's job, not the vault's). */
  put(key: SellerTokenKey, refreshToken: string): Promise<void>;
  /** The code of the last recorded refresh failure, or null. */
  lastFailure(key: SellerTokenKey): Promise<string | null>;
  /** A vault of another owner (another process) on the same data, where the vault can have one. */
  readonly otherOwner?: TokenVault;
  close(): Promise<void>;
}

export interface VaultHarness {
  readonly name: string;
  fresh(now: () => number): Promise<VaultUnderTest>;
}

const KEY: SellerTokenKey = { sellingPartnerId: 'A3FHEXAMPLEYWS', region: 'eu' };
const token = (accessToken: string, expiresAt = 1_800_003_600_000) => ({ accessToken, expiresAt });

export function vaultContract(harness: VaultHarness): void {
  async function withVault(
    fn: (v: VaultUnderTest, clock: ReturnType<typeof fakeClock>) => Promise<void>,
  ): Promise<void> {
    const clock = fakeClock();
    const v = await harness.fresh(clock.now);
    try {
      await v.put(KEY, 'Atzr|refresh-1');
      await fn(v, clock);
    } finally {
      await v.close();
    }
  }

  describe(`TokenVault contract: ${harness.name}`, () => {
    it('knows nothing of a seller never stored: no state, no lease', () =>
      withVault(async ({ vault }) => {
        const other = { sellingPartnerId: 'A0NOSUCHSELLER', region: 'na' } as const;
        assert.equal(await vault.load(other), null);
        assert.equal(await vault.acquireLease(other, 1000), null);
      }));

    it('loads a stored authorization: active, its refresh token, no access token yet', () =>
      withVault(async ({ vault }) => {
        const state = await vault.load(KEY);
        assert.equal(state?.status, 'active');
        assert.equal(state?.refreshToken, 'Atzr|refresh-1');
        assert.equal(state?.accessToken, null);
        assert.ok(Number.isSafeInteger(state?.version));
      }));

    it('gives one lease at a time — not even its own owner a second — until it expires', () =>
      withVault(async ({ vault }, clock) => {
        const { version } = (await vault.load(KEY))!;
        const lease = await vault.acquireLease(KEY, 1000);
        assert.equal(lease?.version, version);
        assert.equal(lease?.expiresAt, clock.now() + 1000);
        assert.equal(await vault.acquireLease(KEY, 1000), null);
        clock.advance(999);
        assert.equal(await vault.acquireLease(KEY, 1000), null);
        clock.advance(1);
        assert.notEqual(await vault.acquireLease(KEY, 1000), null, 'free at its expiry');
      }));

    it('commits by compare-and-set on the version: the lease is released, a second commit fails', () =>
      withVault(async ({ vault }) => {
        const before = (await vault.load(KEY))!;
        const lease = (await vault.acquireLease(KEY, 1000))!;
        assert.equal(await vault.commitRefresh(KEY, lease, token('Atza|one')), true);
        const after = (await vault.load(KEY))!;
        assert.deepEqual(after.accessToken, token('Atza|one'));
        assert.equal(after.refreshToken, 'Atzr|refresh-1');
        assert.ok(after.version > before.version);
        assert.equal(await vault.commitRefresh(KEY, lease, token('Atza|two')), false);
        assert.deepEqual((await vault.load(KEY))!.accessToken, token('Atza|one'));
        assert.notEqual(await vault.acquireLease(KEY, 1000), null, 'the commit released the lease');
      }));

    it('stores a rotated refresh token in the same commit, and nothing on a lost lease', () =>
      withVault(async ({ vault }) => {
        const lease = (await vault.acquireLease(KEY, 1000))!;
        assert.equal(await vault.commitRefresh(KEY, lease, token('Atza|one'), 'Atzr|refresh-2'), true);
        assert.equal((await vault.load(KEY))!.refreshToken, 'Atzr|refresh-2');
        assert.equal(await vault.commitRefresh(KEY, lease, token('Atza|two'), 'Atzr|refresh-3'), false);
        assert.equal((await vault.load(KEY))!.refreshToken, 'Atzr|refresh-2');
      }));

    it('releases a lease recording the failure; a commit clears it', () =>
      withVault(async (v) => {
        const lease = (await v.vault.acquireLease(KEY, 1000))!;
        await v.vault.releaseLease(KEY, lease, { code: 'upstream_unavailable', message: 'LWA answered 503' });
        assert.equal(await v.lastFailure(KEY), 'upstream_unavailable');
        const next = await v.vault.acquireLease(KEY, 1000);
        assert.notEqual(next, null, 'released');
        assert.equal(await v.vault.commitRefresh(KEY, next!, token('Atza|one')), true);
        assert.equal(await v.lastFailure(KEY), null);
      }));

    it('ignores a lost lease: its release, commit and re-authorization mark change nothing', () =>
      withVault(async (v) => {
        const stale = (await v.vault.acquireLease(KEY, 1000))!;
        assert.equal(await v.vault.commitRefresh(KEY, stale, token('Atza|one')), true);
        const current = (await v.vault.acquireLease(KEY, 1000))!;
        await v.vault.releaseLease(KEY, stale, { code: 'upstream_unavailable' });
        assert.equal(await v.lastFailure(KEY), null);
        assert.equal(await v.vault.acquireLease(KEY, 1000), null, 'the current lease is still held');
        await v.vault.markReauthorizationRequired(KEY, stale, { code: 'reauthorization_required' });
        assert.equal((await v.vault.load(KEY))!.status, 'active');
        assert.equal(await v.vault.commitRefresh(KEY, current, token('Atza|two')), true);
      }));

    it('marks re-authorization required: no access token, a new version, the old lease spent', () =>
      withVault(async (v) => {
        const first = (await v.vault.acquireLease(KEY, 1000))!;
        await v.vault.commitRefresh(KEY, first, token('Atza|one'));
        const lease = (await v.vault.acquireLease(KEY, 1000))!;
        await v.vault.markReauthorizationRequired(KEY, lease, {
          code: 'reauthorization_required',
          message: 'invalid_grant',
        });
        const state = (await v.vault.load(KEY))!;
        assert.equal(state.status, 'reauthorization_required');
        assert.equal(state.accessToken, null);
        assert.ok(state.version > lease.version);
        assert.equal(await v.lastFailure(KEY), 'reauthorization_required');
        assert.equal(await v.vault.commitRefresh(KEY, lease, token('Atza|two')), false);
        // The lease locks the row whatever its status; the manager reads the status and stops.
        const after = await v.vault.acquireLease(KEY, 1000);
        assert.equal(after?.version, state.version);
      }));

    it('discards the stored access token only if it is the one named, without spoiling a refresh in flight', () =>
      withVault(async ({ vault }) => {
        const first = (await vault.acquireLease(KEY, 1000))!;
        await vault.commitRefresh(KEY, first, token('Atza|one'));
        const inFlight = (await vault.acquireLease(KEY, 1000))!;
        await vault.discardAccessToken!(KEY, 'Atza|someone-else');
        assert.deepEqual((await vault.load(KEY))!.accessToken, token('Atza|one'));
        await vault.discardAccessToken!(KEY, 'Atza|one');
        assert.equal((await vault.load(KEY))!.accessToken, null);
        assert.equal(await vault.commitRefresh(KEY, inFlight, token('Atza|two')), true);
        assert.deepEqual((await vault.load(KEY))!.accessToken, token('Atza|two'));
      }));

    it('treats a lease taken again by its own owner as lost to the paused holder', () =>
      withVault(async (v, clock) => {
        const paused = (await v.vault.acquireLease(KEY, 1000))!;
        clock.advance(1000);
        const again = (await v.vault.acquireLease(KEY, 1000))!;
        assert.equal(again.owner, paused.owner);
        assert.equal(again.version, paused.version);
        await v.vault.releaseLease(KEY, paused, { code: 'upstream_unavailable' });
        assert.equal(await v.vault.acquireLease(KEY, 1000), null, 'the new lease is still held');
        assert.equal(await v.lastFailure(KEY), null);
        await v.vault.markReauthorizationRequired(KEY, paused, { code: 'reauthorization_required' });
        assert.equal((await v.vault.load(KEY))!.status, 'active');
        assert.equal(await v.vault.commitRefresh(KEY, paused, token('Atza|late'), 'Atzr|late'), false);
        assert.equal(await v.vault.commitRefresh(KEY, again, token('Atza|new')), true);
        const state = (await v.vault.load(KEY))!;
        assert.equal(state.accessToken?.accessToken, 'Atza|new');
        assert.equal(state.refreshToken, 'Atzr|refresh-1');
      }));

    it("keeps another owner out until the lease expires, then a paused holder's commit fails", async (t) => {
      const clock = fakeClock();
      const v = await harness.fresh(clock.now);
      try {
        if (!v.otherOwner) {
          t.skip('this vault lives in one process: there is no other owner');
          return;
        }
        await v.put(KEY, 'Atzr|refresh-1');
        const paused = (await v.vault.acquireLease(KEY, 1000))!;
        assert.equal(await v.otherOwner.acquireLease(KEY, 1000), null);
        clock.advance(1000);
        const taken = (await v.otherOwner.acquireLease(KEY, 1000))!;
        assert.notEqual(taken, null);
        assert.equal(await v.vault.commitRefresh(KEY, paused, token('Atza|late')), false);
        assert.equal(await v.otherOwner.commitRefresh(KEY, taken, token('Atza|new')), true);
        assert.equal((await v.vault.load(KEY))!.accessToken?.accessToken, 'Atza|new');
      } finally {
        await v.close();
      }
    });
  });
}
