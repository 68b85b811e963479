/**
 * Bringing in sellers connected by other code: each line's refresh token is verified with exactly
 * one LWA refresh (paced, with bounded concurrency), its profile read in its region (a grant that
 * does not work there is refused), then stored encrypted like a connected seller, with its audit
 * record and a `seller.authorized` event of `source: "import"`. Lines are reported by number with a
 * stable code; nothing a line holds is ever echoed. Running the same file again changes nothing
 * (a seller already stored with the same token is `unchanged`, and costs no LWA call).
 *
 * A refresh token is one seller's grant: one already stored for another selling partner id (or
 * given to another id earlier in the file) is refused (`refresh_token_in_use`), found by its keyed
 * fingerprint, never by opening stored tokens. What no check can prove is that the id in the file
 * is the token's own: LWA accepts a working token under any id and the profile call answers with
 * marketplaces, not the id; the summary says so ({@link ImportNote} `seller_ids_unverified`).
 */
import { createHash } from 'node:crypto';
import { isSpapiAuthError } from '../../core/errors.js';
import { refreshAccessToken, type LwaCallOptions, type LwaCredentials } from '../../core/lwa.js';
import { SELLING_PARTNER_ID_RE } from '../../core/consent.js';
import { REAUTHORIZE_AFTER_MS } from '../../core/lifetimes.js';
import { findMarketplace, isRegion, type PartnerKind, type Region } from '../../core/marketplaces.js';
import { RefreshTokenInUseError, SellerExistsError, SellerOwnershipError } from '../../storage/errors.js';
import type { Store } from '../../storage/store.js';
import type { AmazonGateway } from '../context.js';
import { profileEventData, sellerAuthorizedEvent } from '../domain/events.js';
import { USER_REF } from '../http/validate.js';
import { checkSellerProfile } from '../domain/profile.js';
import {
  accountReference,
  decideGrant,
  marketplaceFromProfile,
  refuseBeforeGrant,
  type GrantClaim,
  type OwnershipSettings,
} from '../domain/ownership.js';
import {
  TRANSFER_FORMAT,
  transferCipher,
  type TransferCipher,
  type TransferEncryption,
  type TransferLine,
} from './transfer-format.js';
import { isVisibleAscii } from '../../core/printable.js';

/** The stable codes of a line that was not imported. */
export const IMPORT_CODES = Object.freeze({
  malformed_line:
    'The line is not a JSON object (or a CSV row of the header’s columns), or is longer than 16 KiB.',
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
  refresh_token_in_use:
    'The refresh token is stored for another selling partner id (or given to one earlier in the file): one grant belongs to one seller, not imported.',
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

/**
 * The counts of an import, as it goes and at its end (the same numbers): every line read that is
 * not blank nor a valid export header is one of `imported`, `unchanged`, `valid` or `failed`.
 */
export interface ImportCounts {
  /** Lines finished (the header and blank lines not counted). */
  readonly lines: number;
  readonly imported: number;
  /** Already stored with the same refresh token and active: left as they are. */
  readonly unchanged: number;
  /** Dry run: lines that would be verified and imported. */
  readonly valid: number;
  readonly failed: number;
}

/** Something the summary says about the lines imported, with a stable code. */
export interface ImportNote {
  readonly code: 'seller_ids_unverified' | 'authorized_at_defaulted' | 'profiles_pending';
  readonly message: string;
}

/** What an import did. */
export interface ImportSummary extends ImportCounts {
  readonly dryRun: boolean;
  /** Lines imported (dry run: valid) without `authorized_at`: their 365 days start at the import. */
  readonly authorizedAtDefaulted: number;
  /** LWA refresh calls made (one per verified line). */
  readonly lwaCalls: number;
  /** Lines imported without a profile (the participations read failed; fetched later). */
  readonly profilesPending: number;
  readonly failures: readonly ImportFailure[];
  /** Set when the import stopped early (`invalid_client`). */
  readonly stopped: ImportCode | null;
  /** What the counts do not say: what was taken on trust, what the import defaulted or deferred. */
  readonly notes: readonly ImportNote[];
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
  /** Called after each line is finished, with the counts so far (the summary's at the last line). */
  readonly onProgress?: (counts: ImportCounts) => void;
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
  if (!isVisibleAscii(refreshToken, 2048)) throw new LineError('missing_refresh_token');
  return { line, sellingPartnerId: id, region, kind, userRef, marketplace, authorizedAt, refreshToken };
}

/** What the summary says the import could not verify about a seller id. */
const SELLER_IDS_UNVERIFIED =
  'taken from the file: LWA accepted each refresh token and SP-API answered with it in its region, which proves the token works for this app there, not which selling partner it belongs to. Check the ids against the sellers (Seller Central shows it as the Merchant Token under Account Info) before relying on them: a token under a wrong id serves that id’s calls with another seller’s data.';

/** The state one import shares between its lines. */
interface ImportRun {
  readonly options: ImportOptions;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly dryRun: boolean;
  /** Milliseconds between two LWA calls (0: unpaced). */
  readonly interval: number;
  readonly failures: ImportFailure[];
  readonly counts: {
    imported: number;
    unchanged: number;
    valid: number;
    defaulted: number;
    lwaCalls: number;
    pending: number;
  };
  stopped: ImportCode | null;
  nextSlot: number;
  readonly ownership: OwnershipSettings;
}

function fail(
  run: ImportRun,
  line: number,
  code: ImportCode,
  v?: { sellingPartnerId?: string; region?: Region },
): void {
  run.failures.push({
    line,
    code,
    message: IMPORT_CODES[code],
    ...(v?.sellingPartnerId !== undefined ? { sellingPartnerId: v.sellingPartnerId } : {}),
    ...(v?.region !== undefined ? { region: v.region } : {}),
  });
}

function countsOf(run: ImportRun): ImportCounts {
  const { imported, unchanged, valid } = run.counts;
  const failed = run.failures.length;
  return { lines: imported + unchanged + valid + failed, imported, unchanged, valid, failed };
}

/** Waits for this line's turn at LWA under the rate limit. */
async function paced(run: ImportRun): Promise<void> {
  if (run.interval === 0) return;
  const t = run.now();
  const at = Math.max(t, run.nextSlot);
  run.nextSlot = at + run.interval;
  if (at > t) await run.sleep(at - t);
}

/**
 * Why the line cannot replace what is stored, before any LWA call: another owner, or its refresh
 * token stored for another seller id; `unchanged` when the seller already has this token.
 */
async function storedConflict(run: ImportRun, v: ValidLine): Promise<ImportCode | 'unchanged' | null> {
  const { store } = run.options;
  const rows = await store.findSellers(v.sellingPartnerId);
  const existing = rows.find((s) => s.region === v.region);
  const early = refuseBeforeGrant(run.ownership, rows, claimOf(v));
  if (early) return early;
  if (existing && existing.status === 'active') {
    const stored = await store.loadTokens({ sellingPartnerId: v.sellingPartnerId, region: v.region });
    if (stored?.refreshToken === v.refreshToken) return 'unchanged';
  }
  const holders = await store.findSellersByRefreshToken(v.refreshToken);
  return holders.some((k) => k.sellingPartnerId !== v.sellingPartnerId) ? 'refresh_token_in_use' : null;
}

/** The operator's file names the seller: an import is a named claim (see ownership.ts). */
function claimOf(v: ValidLine): GrantClaim {
  return {
    sellingPartnerId: v.sellingPartnerId,
    region: v.region,
    flow: 'import',
    userRef: v.userRef,
    named: true,
  };
}

type LwaToken = Awaited<ReturnType<typeof refreshAccessToken>>;

/** One LWA refresh of the line's token: the token, or the code of the failure. */
async function verifyToken(run: ImportRun, v: ValidLine): Promise<ImportCode | LwaToken> {
  await paced(run);
  try {
    run.counts.lwaCalls++;
    return await refreshAccessToken(run.options.credentials(), v.refreshToken, run.options.lwa);
  } catch (err) {
    if (isSpapiAuthError(err, 'invalid_client')) {
      run.stopped = 'invalid_client';
      return 'invalid_client';
    }
    if (isSpapiAuthError(err, 'reauthorization_required')) return 'invalid_grant';
    return 'upstream_unavailable';
  }
}

async function verifyAndStore(run: ImportRun, v: ValidLine): Promise<void> {
  const { options, now } = run;
  const key = { sellingPartnerId: v.sellingPartnerId, region: v.region };
  const conflict = await storedConflict(run, v);
  if (conflict === 'unchanged') {
    run.counts.unchanged++;
    return;
  }
  if (conflict !== null) return fail(run, v.line, conflict, key);
  if (run.dryRun) {
    run.counts.valid++;
    if (v.authorizedAt === undefined) run.counts.defaulted++;
    return;
  }
  if (run.stopped) return fail(run, v.line, run.stopped, key);
  const token = await verifyToken(run, v);
  if (typeof token === 'string') return fail(run, v.line, token, key);
  const check = await checkSellerProfile(options.spapi, { ...key, accessToken: token.accessToken, now });
  if (check.kind === 'wrong_region') return fail(run, v.line, 'region_mismatch', key);
  const profile = check.kind === 'ok' ? check.profile : null;
  const current = await options.store.findSellers(v.sellingPartnerId);
  const decision = await decideGrant(run.ownership, current, claimOf(v), profile, (reread) =>
    accountReference(
      { store: options.store, amazon: storedGrantReader(options, now), now },
      current,
      v.region,
      reread,
    ),
  );
  if (!decision.ok) return fail(run, v.line, decision.code, key);
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
      // Checked above; again in the write, against another import in between.
      exclusiveRefreshToken: true,
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
    if (err instanceof SellerOwnershipError) return fail(run, v.line, 'seller_owned_by_other_user', key);
    if (err instanceof RefreshTokenInUseError) return fail(run, v.line, 'refresh_token_in_use', key);
    if (err instanceof SellerExistsError) return fail(run, v.line, 'seller_already_connected', key);
    throw err;
  }
  if (profile === null) run.counts.pending++;
  if (v.authorizedAt === undefined) run.counts.defaulted++;
  run.counts.imported++;
}

/** The notes of a finished import (see {@link ImportNote}). */
function notesOf(run: ImportRun): ImportNote[] {
  const { imported, valid, defaulted, pending } = run.counts;
  const notes: ImportNote[] = [];
  const taken = run.dryRun ? valid : imported;
  const count = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;
  if (taken > 0)
    notes.push({
      code: 'seller_ids_unverified',
      message: `${count(taken, 'seller id', 'seller ids')} ${SELLER_IDS_UNVERIFIED}`,
    });
  if (defaulted > 0)
    notes.push({
      code: 'authorized_at_defaulted',
      message: `${count(defaulted, 'line', 'lines')} ${run.dryRun ? 'to import' : 'imported'} without authorized_at: their 365-day re-authorization clock starts now`,
    });
  if (pending > 0)
    notes.push({
      code: 'profiles_pending',
      message: `${count(pending, 'seller profile', 'seller profiles')} could not be read yet: the service fetches them later`,
    });
  return notes;
}

interface HeaderState {
  encrypted: boolean;
  cipher: TransferCipher | undefined;
  seenRecord: boolean;
}

/** The export header line: the cipher of its encrypted tokens, or a failure when misplaced. */
function readHeader(
  run: ImportRun,
  l: { line: number; header: Record<string, unknown> },
  state: HeaderState,
): void {
  if (l.header.format !== TRANSFER_FORMAT || state.seenRecord || state.encrypted) {
    fail(run, l.line, 'malformed_line');
    return;
  }
  const enc = l.header.encryption as TransferEncryption | undefined;
  if (enc === undefined) return;
  state.encrypted = true;
  if (run.options.passphrase === undefined) return;
  try {
    state.cipher = transferCipher(run.options.passphrase, enc);
  } catch {
    fail(run, l.line, 'malformed_line');
  }
}

/**
 * Validates a record line and checks it against the lines before it (the same seller twice, the
 * same refresh token for two seller ids); a failure is recorded and undefined returned.
 */
function checkLine(
  run: ImportRun,
  l: { line: number; record: Record<string, unknown> },
  header: HeaderState,
  seen: Set<string>,
  tokensInFile: Map<string, string>,
): ValidLine | undefined {
  let v: ValidLine;
  try {
    v = validate(l.line, l.record, run.now(), header.cipher, header.encrypted);
  } catch (err) {
    if (!(err instanceof LineError)) throw err;
    const id = l.record.selling_partner_id;
    const known = typeof id === 'string' && SELLING_PARTNER_ID_RE.test(id);
    fail(run, l.line, err.code, known ? { sellingPartnerId: id } : undefined);
    return undefined;
  }
  const key = { sellingPartnerId: v.sellingPartnerId, region: v.region };
  const seenKey = `${v.sellingPartnerId}|${v.region}`;
  if (seen.has(seenKey)) {
    fail(run, v.line, 'duplicate', key);
    return undefined;
  }
  seen.add(seenKey);
  const digest = createHash('sha256').update(v.refreshToken).digest('base64url');
  const holder = tokensInFile.get(digest);
  if (holder !== undefined && holder !== v.sellingPartnerId) {
    fail(run, v.line, 'refresh_token_in_use', key);
    return undefined;
  }
  tokensInFile.set(digest, v.sellingPartnerId);
  return v;
}

/**
 * Imports sellers from parsed lines (see `readTransferLines`), streaming: at most `concurrency`
 * lines are in flight, LWA is called at most `ratePerSecond` times a second.
 *
 * @example
 * ```ts
 * const summary = await importSellers(readTransferLines(createReadStream('sellers.jsonl'), 'auto'), {
 *   store, credentials: () => ({ clientId, clientSecret }), spapi: amazon, ratePerSecond: 10 });
 * if (summary.failed > 0) console.log(summary.failures);
 * ```
 */
export async function importSellers(
  lines: AsyncIterable<TransferLine>,
  options: ImportOptions,
): Promise<ImportSummary> {
  const concurrency = Math.max(1, Math.min(options.concurrency ?? 4, 64));
  const run: ImportRun = {
    options,
    now: options.now ?? Date.now,
    sleep: options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms))),
    dryRun: options.dryRun === true,
    interval: options.ratePerSecond > 0 ? 1000 / options.ratePerSecond : 0,
    failures: [],
    counts: { imported: 0, unchanged: 0, valid: 0, defaulted: 0, lwaCalls: 0, pending: 0 },
    stopped: null,
    nextSlot: 0,
    ownership: options.ownership ?? { allowRelink: false, evidence: 'profile' },
  };
  const header: HeaderState = { encrypted: false, cipher: undefined, seenRecord: false };
  const seen = new Set<string>();
  /** A digest of each refresh token of the file (never the token) → the seller id it came with. */
  const tokensInFile = new Map<string, string>();
  const inFlight = new Set<Promise<void>>();
  const progress = (): void => options.onProgress?.(countsOf(run));
  // Rows stored before fingerprints existed, or under a key rotated since, are found only once
  // fingerprinted (a dry run too: fingerprints are derived data, no seller is written).
  await options.store.fingerprintRefreshTokens();

  for await (const l of lines) {
    if (l.kind === 'header') {
      const before = run.failures.length;
      readHeader(run, l, header);
      if (run.failures.length > before) progress();
      continue;
    }
    header.seenRecord = true;
    const v = l.kind === 'malformed' ? undefined : checkLine(run, l, header, seen, tokensInFile);
    if (v === undefined) {
      if (l.kind === 'malformed') fail(run, l.line, 'malformed_line');
      progress();
      continue;
    }
    while (inFlight.size >= concurrency) await Promise.race(inFlight);
    const p: Promise<void> = verifyAndStore(run, v)
      .catch((err: unknown) => {
        // A store failure ends the import: the caller reports it (nothing of the line in the message).
        run.stopped ??= 'upstream_unavailable';
        throw err;
      })
      .finally(() => {
        inFlight.delete(p);
        progress();
      });
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  run.failures.sort((a, b) => a.line - b.line);
  return {
    dryRun: run.dryRun,
    ...countsOf(run),
    authorizedAtDefaulted: run.counts.defaulted,
    lwaCalls: run.counts.lwaCalls,
    profilesPending: run.counts.pending,
    failures: run.failures,
    stopped: run.stopped,
    notes: notesOf(run),
  };
}
