/**
 * Bringing in sellers connected by other code: each line's refresh token is verified with exactly
 * one LWA refresh (paced, with bounded concurrency), its profile read in its region (a grant that
 * does not work there is refused), then stored encrypted like a connected seller, with its audit
 * record and a `seller.authorized` event of `source: "import"`. Lines are reported by number with a
 * stable code; nothing a line holds is ever echoed. Running the same file again changes nothing
 * (a seller already stored with the same token is `unchanged`, and costs no LWA call).
 */
import { isSpapiAuthError } from '../../core/errors.js';
import { refreshAccessToken, type LwaCallOptions, type LwaCredentials } from '../../core/lwa.js';
import { REAUTHORIZE_AFTER_MS, SELLING_PARTNER_ID_RE } from '../../core/consent.js';
import { findMarketplace, isRegion, type PartnerKind, type Region } from '../../core/marketplaces.js';
import { SellerExistsError, SellerOwnershipError } from '../../storage/errors.js';
import type { Store } from '../../storage/store.js';
import type { AmazonGateway } from '../context.js';
import { profileEventData, sellerAuthorizedEvent } from '../ops/events.js';
import { USER_REF } from '../http/validate.js';
import { checkSellerProfile } from './profile.js';
import {
  accountReference,
  decideGrant,
  marketplaceFromProfile,
  refuseBeforeGrant,
  type GrantClaim,
  type OwnershipSettings,
} from './ownership.js';
import {
  TRANSFER_FORMAT,
  transferCipher,
  type TransferCipher,
  type TransferEncryption,
  type TransferLine,
} from './transfer-format.js';

/** The stable codes of a line that was not imported. */
export const IMPORT_CODES = Object.freeze({
  malformed_line: 'The line is not a JSON object (or a CSV row of the header’s columns).',
  invalid_seller_id: 'selling_partner_id is missing or malformed.',
  invalid_region: 'region must be na, eu or fe.',
  missing_refresh_token: 'refresh_token (or refresh_token_encrypted) is missing or malformed.',
  invalid_kind: 'kind must be seller or vendor.',
  invalid_user_ref: 'user_ref must be 1 to 256 printable characters.',
  invalid_marketplace: 'marketplace is not a known country code or marketplace id.',
  invalid_authorized_at: 'authorized_at must be an ISO 8601 time in the past 365 days.',
  duplicate: 'The same seller and region appear earlier in the file.',
  seller_owned_by_other_user: 'The seller is stored for another user_ref.',
  seller_already_connected: 'The seller was stored by another authorization while this line was verified.',
  seller_account_mismatch:
    'The refresh token is of another Amazon account than the stored seller’s (its profile differs): not imported.',
  seller_account_unverified:
    'The seller is stored and the refresh token’s profile could not be read to show it is the same account: not imported.',
  passphrase_required: 'The file holds encrypted refresh tokens: give the passphrase.',
  refresh_token_undecryptable: 'The encrypted refresh token does not open with this passphrase.',
  invalid_grant: 'LWA refused the refresh token (revoked, expired, or for another app): not imported.',
  region_mismatch: 'The refresh token does not work in this region but does in another: not imported.',
  upstream_unavailable: 'LWA could not be reached or answered with an error; run the import again later.',
  invalid_client: "LWA refused the app's client credentials; the import stopped.",
} as const);
export type ImportCode = keyof typeof IMPORT_CODES;

/** One line that was not imported. */
export interface ImportFailure {
  readonly line: number;
  readonly code: ImportCode;
  readonly message: string;
  readonly sellingPartnerId?: string;
  readonly region?: Region;
}

/** What an import did. */
export interface ImportSummary {
  readonly dryRun: boolean;
  /** Seller lines read (the header and blank lines not counted). */
  readonly lines: number;
  readonly imported: number;
  /** Already stored with the same refresh token and active: left as they are. */
  readonly unchanged: number;
  /** Dry run: lines that would be verified and imported. */
  readonly valid: number;
  readonly failed: number;
  /** Lines without `authorized_at`, given the import time (their 365 days start now). */
  readonly authorizedAtDefaulted: number;
  /** LWA refresh calls made (one per verified line). */
  readonly lwaCalls: number;
  /** Lines imported without a profile (the participations read failed; fetched later). */
  readonly profilesPending: number;
  readonly failures: readonly ImportFailure[];
  /** Set when the import stopped early (`invalid_client`). */
  readonly stopped: ImportCode | null;
}

/** What {@link importSellers} needs. */
export interface ImportOptions {
  readonly store: Store;
  /** The app's LWA credentials (the client-secret ring's current ones). */
  readonly credentials: () => LwaCredentials;
  /** Transport of the LWA calls (`fetch`, `amazonUrl` for the emulator). */
  readonly lwa?: LwaCallOptions;
  /** Reads the seller's profile (the gateway's `callSpApi`). */
  readonly spapi: Pick<AmazonGateway, 'callSpApi'>;
  /** LWA refreshes per second at most (the refresh rate limit); 0 = unpaced. */
  readonly ratePerSecond: number;
  /** Lines verified at the same time (default 4). */
  readonly concurrency?: number;
  /** Validate only: no LWA call, nothing stored. */
  readonly dryRun?: boolean;
  /** Opens `refresh_token_encrypted` values of an export made with this passphrase. */
  readonly passphrase?: string;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /**
   * The ownership policy's settings (`SPAPI_AUTH_ALLOW_RELINK`, `SPAPI_AUTH_REAUTHORIZE_EVIDENCE`);
   * default: no relink, `profile` evidence.
   */
  readonly ownership?: OwnershipSettings;
  /** Called after each line (for a running count). */
  readonly onProgress?: (p: { lines: number; imported: number; failed: number }) => void;
}

interface ValidLine {
  readonly line: number;
  readonly sellingPartnerId: string;
  readonly region: Region;
  readonly kind: PartnerKind;
  readonly userRef: string | null;
  readonly marketplace: string | null;
  readonly authorizedAt: number | undefined;
  readonly refreshToken: string;
}

const TOKEN_RE = /^[\x21-\x7e]{1,2048}$/;

class LineError extends Error {
  constructor(readonly code: ImportCode) {
    super(IMPORT_CODES[code]);
  }
}

/**
 * Reads a stored seller's profile with its stored access token (an import makes no LWA call for a
 * row it is not importing): the policy's second look at a stored seller whose profile is stale.
 */
function storedGrantReader(
  options: Pick<ImportOptions, 'store' | 'spapi'>,
  now: () => number,
): Pick<AmazonGateway, 'callSpApi' | 'getAccessToken'> {
  return {
    callSpApi: (input) => options.spapi.callSpApi(input),
    getAccessToken: async (key) => {
      const t = (await options.store.loadTokens(key))?.accessToken;
      if (!t || t.expiresAt <= now() + 60_000) throw new Error('no stored access token');
      return t;
    },
  };
}

/** Checks one record; throws a {@link LineError}. */
function validate(
  line: number,
  r: Record<string, unknown>,
  now: number,
  cipher: TransferCipher | undefined,
  encrypted: boolean,
): ValidLine {
  const id = r.selling_partner_id;
  if (typeof id !== 'string' || !SELLING_PARTNER_ID_RE.test(id)) throw new LineError('invalid_seller_id');
  const region = typeof r.region === 'string' ? r.region.toLowerCase() : r.region;
  if (!isRegion(region)) throw new LineError('invalid_region');
  const kind = r.kind ?? 'seller';
  if (kind !== 'seller' && kind !== 'vendor') throw new LineError('invalid_kind');
  const userRef = r.user_ref ?? null;
  if (userRef !== null && (typeof userRef !== 'string' || !USER_REF.test(userRef)))
    throw new LineError('invalid_user_ref');
  let marketplace: string | null = null;
  if (r.marketplace !== undefined && r.marketplace !== null) {
    const m = typeof r.marketplace === 'string' ? findMarketplace(r.marketplace) : undefined;
    if (!m || m.region !== region) throw new LineError('invalid_marketplace');
    marketplace = m.countryCode;
  }
  let authorizedAt: number | undefined;
  if (r.authorized_at !== undefined && r.authorized_at !== null) {
    const t = typeof r.authorized_at === 'string' ? Date.parse(r.authorized_at) : NaN;
    if (!Number.isFinite(t) || t > now + 60_000 || t < now - REAUTHORIZE_AFTER_MS)
      throw new LineError('invalid_authorized_at');
    authorizedAt = Math.floor(t);
  }
  let refreshToken: unknown = r.refresh_token;
  if (refreshToken === undefined && r.refresh_token_encrypted !== undefined) {
    if (!encrypted) throw new LineError('missing_refresh_token');
    if (cipher === undefined) throw new LineError('passphrase_required');
    if (typeof r.refresh_token_encrypted !== 'string') throw new LineError('refresh_token_undecryptable');
    refreshToken = cipher.open(r.refresh_token_encrypted, id, region);
    if (refreshToken === undefined) throw new LineError('refresh_token_undecryptable');
  }
  if (typeof refreshToken !== 'string' || !TOKEN_RE.test(refreshToken))
    throw new LineError('missing_refresh_token');
  return { line, sellingPartnerId: id, region, kind, userRef, marketplace, authorizedAt, refreshToken };
}

/**
 * Imports sellers from parsed lines (see `readTransferLines`), streaming: at most `concurrency`
 * lines are in flight, LWA is called at most `ratePerSecond` times a second.
 *
 * @example
 * ```ts
 * const summary = await importSellers(readTransferLines(createReadStream('sellers.jsonl'), 'jsonl'), {
 *   store, credentials: () => ({ clientId, clientSecret }), spapi: amazon, ratePerSecond: 10 });
 * if (summary.failed > 0) console.log(summary.failures);
 * ```
 */
export async function importSellers(
  lines: AsyncIterable<TransferLine>,
  options: ImportOptions,
): Promise<ImportSummary> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const concurrency = Math.max(1, Math.min(options.concurrency ?? 4, 64));
  const dryRun = options.dryRun === true;
  const ownership = options.ownership ?? { allowRelink: false, evidence: 'profile' };
  const interval = options.ratePerSecond > 0 ? 1000 / options.ratePerSecond : 0;
  const failures: ImportFailure[] = [];
  const seen = new Set<string>();
  const counts = { lines: 0, imported: 0, unchanged: 0, valid: 0, defaulted: 0, lwaCalls: 0, pending: 0 };
  let stopped: ImportCode | null = null;
  let cipher: TransferCipher | undefined;
  let encrypted = false;
  let nextSlot = 0;
  const inFlight = new Set<Promise<void>>();

  const fail = (line: number, code: ImportCode, v?: { sellingPartnerId?: string; region?: Region }): void => {
    failures.push({
      line,
      code,
      message: IMPORT_CODES[code],
      ...(v?.sellingPartnerId !== undefined ? { sellingPartnerId: v.sellingPartnerId } : {}),
      ...(v?.region !== undefined ? { region: v.region } : {}),
    });
  };
  const progress = (): void =>
    options.onProgress?.({
      lines: counts.lines,
      imported: counts.imported + counts.unchanged,
      failed: failures.length,
    });

  /** Waits for this line's turn at LWA under the rate limit. */
  const paced = async (): Promise<void> => {
    if (interval === 0) return;
    const t = now();
    const at = Math.max(t, nextSlot);
    nextSlot = at + interval;
    if (at > t) await sleep(at - t);
  };

  const verifyAndStore = async (v: ValidLine): Promise<void> => {
    const key = { sellingPartnerId: v.sellingPartnerId, region: v.region };
    // The operator's file names the seller: an import is a named claim (see ownership.ts).
    const claim: GrantClaim = { ...key, flow: 'import', userRef: v.userRef, named: true };
    const rows = await options.store.findSellers(v.sellingPartnerId);
    const existing = rows.find((s) => s.region === v.region);
    const early = refuseBeforeGrant(ownership, rows, claim);
    if (early) return fail(v.line, early, key);
    if (existing && existing.status === 'active') {
      const stored = await options.store.loadTokens(key);
      if (stored?.refreshToken === v.refreshToken) {
        counts.unchanged++;
        return;
      }
    }
    if (dryRun) {
      counts.valid++;
      return;
    }
    if (stopped) return fail(v.line, stopped, key);
    await paced();
    let token;
    try {
      counts.lwaCalls++;
      token = await refreshAccessToken(options.credentials(), v.refreshToken, options.lwa);
    } catch (err) {
      if (isSpapiAuthError(err, 'invalid_client')) {
        stopped = 'invalid_client';
        return fail(v.line, 'invalid_client', key);
      }
      if (isSpapiAuthError(err, 'reauthorization_required')) return fail(v.line, 'invalid_grant', key);
      return fail(v.line, 'upstream_unavailable', key);
    }
    const check = await checkSellerProfile(options.spapi, { ...key, accessToken: token.accessToken, now });
    if (check.kind === 'wrong_region') return fail(v.line, 'region_mismatch', key);
    const profile = check.kind === 'ok' ? check.profile : null;
    const current = await options.store.findSellers(v.sellingPartnerId);
    const decision = await decideGrant(ownership, current, claim, profile, (reread) =>
      accountReference(
        { store: options.store, amazon: storedGrantReader(options, now), now },
        current,
        v.region,
        reread,
      ),
    );
    if (!decision.ok) return fail(v.line, decision.code, key);
    const at = now();
    const seller = { ...key, kind: v.kind, userRef: decision.write.userRef };
    const stored = current.find((s) => s.region === v.region);
    try {
      await options.store.saveAuthorization({
        ...seller,
        // A line without one: the marketplace stored already, else one the seller sells in.
        marketplace:
          v.marketplace ?? (stored?.marketplace ? null : (marketplaceFromProfile(profile, v.region) ?? null)),
        refreshToken: token.refreshToken ?? v.refreshToken,
        accessToken: { accessToken: token.accessToken, expiresAt: token.expiresAt },
        authorizedAt: v.authorizedAt ?? at,
        replaces: decision.write.replaces,
        allowRelink: decision.write.allowRelink,
        profile,
        events: [sellerAuthorizedEvent(seller, { source: 'import' }, at, profileEventData(profile))],
        audit: [
          {
            action: 'seller.authorized',
            actor: 'import',
            sellingPartnerId: v.sellingPartnerId,
            region: v.region,
            outcome: 'ok',
            details: { kind: v.kind, user_ref: v.userRef, source: 'import' },
          },
        ],
      });
    } catch (err) {
      if (err instanceof SellerOwnershipError) return fail(v.line, 'seller_owned_by_other_user', key);
      if (err instanceof SellerExistsError) return fail(v.line, 'seller_already_connected', key);
      throw err;
    }
    if (profile === null) counts.pending++;
    counts.imported++;
  };

  for await (const l of lines) {
    if (l.kind === 'header') {
      if (l.header.format !== TRANSFER_FORMAT || counts.lines > 0 || encrypted) {
        fail(l.line, 'malformed_line');
        continue;
      }
      const enc = l.header.encryption as TransferEncryption | undefined;
      if (enc !== undefined) {
        encrypted = true;
        if (options.passphrase !== undefined) {
          try {
            cipher = transferCipher(options.passphrase, enc);
          } catch {
            fail(l.line, 'malformed_line');
          }
        }
      }
      continue;
    }
    counts.lines++;
    if (l.kind === 'malformed') {
      fail(l.line, 'malformed_line');
      progress();
      continue;
    }
    let v: ValidLine;
    try {
      v = validate(l.line, l.record, now(), cipher, encrypted);
    } catch (err) {
      if (!(err instanceof LineError)) throw err;
      const id = l.record.selling_partner_id;
      fail(
        l.line,
        err.code,
        typeof id === 'string' && SELLING_PARTNER_ID_RE.test(id) ? { sellingPartnerId: id } : undefined,
      );
      progress();
      continue;
    }
    const seenKey = `${v.sellingPartnerId}|${v.region}`;
    if (seen.has(seenKey)) {
      fail(v.line, 'duplicate', { sellingPartnerId: v.sellingPartnerId, region: v.region });
      progress();
      continue;
    }
    seen.add(seenKey);
    if (v.authorizedAt === undefined) counts.defaulted++;
    while (inFlight.size >= concurrency) await Promise.race(inFlight);
    const p: Promise<void> = verifyAndStore(v)
      .catch((err: unknown) => {
        // A store failure ends the import: the caller reports it (nothing of the line in the message).
        stopped ??= 'upstream_unavailable';
        throw err;
      })
      .finally(() => {
        inFlight.delete(p);
        progress();
      });
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  failures.sort((a, b) => a.line - b.line);
  return {
    dryRun,
    lines: counts.lines,
    imported: counts.imported,
    unchanged: counts.unchanged,
    valid: counts.valid,
    failed: failures.length,
    authorizedAtDefaulted: counts.defaulted,
    lwaCalls: counts.lwaCalls,
    profilesPending: counts.pending,
    failures,
    stopped,
  };
}
