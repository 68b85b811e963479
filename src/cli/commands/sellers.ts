// `spapi-auth sellers list|show|delete|reauthorize-link|import|export`: the sellers in the store, as the token API shows them.
import { SELLER_TOKEN_STATUSES } from '../../core/token-vault.js';
import { createInterface } from 'node:readline';
import type { Region } from '../../core/marketplaces.js';
import type { SellerRecord, SellerStatus, Store } from '../../storage/store.js';
import { sellerDetailJson, sellerJson } from '../../server/sellers/json.js';
import { withProfiles } from '../../server/domain/profile.js';
import { deleteSellerAuthorizations } from '../../server/sellers/delete.js';
import { CliError, UsageError, type CliContext, type Command } from '../command.js';
import { TRANSFER_FLAGS, exportCommand, importCommand } from './sellers-transfer.js';
import { formatFields, formatTable, isoOrDash, printJson } from '../output.js';
import {
  cliKeyRing,
  loadCliConfig,
  loadCliStoreConfig,
  regionFlag,
  sellerIdArg,
  subcommand,
  withStore,
} from '../runtime.js';
import {
  FLOW_TTL_MS,
  createReauthorizationLink,
  isConnectLinkRefusal,
} from '../../server/flows/connect-link.js';

const help = `Usage: spapi-auth sellers list [--status S] [--json]
       spapi-auth sellers show <seller-id> [--json]
       spapi-auth sellers delete <seller-id> [--region na|eu|fe] [--yes] [--json]
       spapi-auth sellers reauthorize-link <seller-id> [--region na|eu|fe] [--json]
       spapi-auth sellers import FILE|- [--format jsonl|csv] [--dry-run] [--rate N] [--concurrency N]
                                 [--passphrase-file F] [--json]
       spapi-auth sellers export (--passphrase-file F | --unencrypted-refresh-tokens) [--out FILE] [--json]

The sellers (and vendors) in the store the service uses (DATABASE_URL; default
sqlite:./data/spapi-auth.db). A seller authorized in two regions has one row per region.

  list     every authorization, ordered by seller id then region
  show     one seller: status, regions, user_ref, dates, last refresh and error, recent audit
  delete   forget the seller (all regions, or one with --region) and wipe its tokens; emits the
           seller.deleted webhook and an audit record, like DELETE /v1/sellers/:id. Asks for
           confirmation on stdin unless --yes is given. A running service may still hand out an
           access token it holds in memory until that token's refresh time (under an hour);
           nothing is refreshed for the seller again.
  reauthorize-link
           a re-authorization link for a stored seller (the website workflow, naming the seller
           and its user_ref, through the marketplace it connected with), like the dashboard's
           Re-authorize and POST /v1/connect-sessions with selling_partner_id. Prints the URL on
           stdout and how long it lives on stderr; send it to the seller. The link is single use,
           works in one browser, and expires (${FLOW_TTL_MS / 60_000} minutes); the running service at
           SPAPI_AUTH_PUBLIC_URL serves it. Reads the same configuration as serve.

  import   sellers connected by your own code: one JSON object per line (or CSV with a header row)
           with selling_partner_id, region (na|eu|fe), refresh_token, and optional user_ref, kind
           (seller|vendor), marketplace, authorized_at (ISO 8601; default now, which starts the
           365-day clock). Each line is verified with one LWA refresh (at most --rate a second,
           default SPAPI_AUTH_REFRESH_RATE_LIMIT; --concurrency at a time, default 4) and its
           profile read in its region, then stored encrypted with an audit record and a
           seller.authorized webhook ("source":"import"). Refused lines are reported by line number
           with a stable code (invalid_grant, invalid_region, duplicate, malformed_line,
           seller_owned_by_other_user, refresh_token_in_use — the token is stored for another
           seller id —, …). A line longer than 16 KiB is refused unread. The summary says what
           the import cannot verify: that each seller id is its token's own (LWA and the profile
           call prove the token works, not whose it is). Safe to run again. Exit 0 when every line
           was imported or already there, 1 when any failed.
  export   the active sellers in the same format, refresh tokens encrypted for the receiver with a
           passphrase (scrypt + AES-256-GCM; import reads it with the same --passphrase-file), or in
           clear only with --unencrypted-refresh-tokens

Options:
  --status S       list only active or reauthorization_required sellers
  --region R       delete only the authorization in region R; reauthorize-link: the region to
                   renew (required when the seller is authorized in several)
  --yes            delete without asking
  --format F       import: jsonl or csv (default: from the extension, .csv or .jsonl/.ndjson/
                   .json, else from the first line: { starts JSON lines)
  --dry-run        import: check every line, call nothing, store nothing
  --rate N         import: LWA refreshes per second at most
  --concurrency N  import: lines verified at the same time (1-64)
  --passphrase-file F  import/export: the passphrase (first line of F; or SPAPI_AUTH_TRANSFER_PASSPHRASE)
  --out FILE       export: write there (mode 0600) instead of stdout
  --unencrypted-refresh-tokens  export: write the refresh tokens in clear (say so on purpose)
  --json           print one JSON document (the token API's shapes; import: the summary;
                   reauthorize-link: { url, expires_at, selling_partner_id, region })
  --help           show this help
`;

const STATUSES: readonly SellerStatus[] = SELLER_TOKEN_STATUSES;
const PAGE = 500;

function row(s: SellerRecord): string[] {
  const j = sellerJson(s);
  return [
    s.sellingPartnerId,
    s.region,
    s.kind,
    s.status,
    s.userRef ?? '-',
    s.marketplace ?? '-',
    String(j.authorized_at),
    String(j.reauthorize_by),
    isoOrDash(s.lastRefreshAt),
    s.lastError?.code ?? '-',
  ];
}

const HEADER = [
  'SELLER ID',
  'REGION',
  'KIND',
  'STATUS',
  'USER REF',
  'MARKETPLACE',
  'AUTHORIZED AT',
  'REAUTHORIZE BY',
  'LAST REFRESH',
  'LAST ERROR',
];

async function list(values: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const status = values.status as string | undefined;
  if (status !== undefined && !STATUSES.includes(status as SellerStatus)) {
    throw new UsageError(`--status must be one of ${STATUSES.join(', ')}`);
  }
  const items = await withStore(ctx, loadCliStoreConfig(ctx), null, async (store) => {
    const all: SellerRecord[] = [];
    let cursor: string | null = null;
    do {
      const page = await store.listSellers({
        limit: PAGE,
        cursor,
        ...(status ? { status: status as SellerStatus } : {}),
      });
      all.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== null);
    return all;
  });
  if (values.json) {
    printJson(ctx, { items: items.map(sellerJson) });
    return 0;
  }
  if (items.length === 0) {
    ctx.stdout(status ? `no sellers with status ${status}\n` : 'no sellers yet\n');
    return 0;
  }
  ctx.stdout(formatTable(HEADER, items.map(row)));
  ctx.stdout(`${items.length} authorization${items.length === 1 ? '' : 's'}\n`);
  return 0;
}

async function show(id: string, values: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const { records, audit, detail } = await withStore(ctx, loadCliStoreConfig(ctx), null, async (store) => {
    const found = await store.findSellers(id);
    return {
      records: found,
      audit: await store.listAudit({ sellingPartnerId: id, limit: 10 }),
      detail: found.length === 0 ? undefined : await withProfiles(store, sellerDetailJson(found), found),
    };
  });
  if (detail === undefined) throw new CliError(`no seller ${id} in the store (seller_not_found)`);
  if (values.json) {
    // The shape of GET /v1/sellers/:id.
    printJson(ctx, detail);
    return 0;
  }
  const out: string[] = [
    formatFields([
      ['seller', detail.selling_partner_id],
      ['status', detail.status],
      ['kind', detail.kind],
      ['user_ref', detail.user_ref ?? '-'],
      ['regions', detail.regions.join(', ')],
    ]),
  ];
  records.forEach((r, i) => {
    const j = sellerJson(r);
    const profile = detail.authorizations[i]!;
    const markets = profile.marketplaces as { country: string; participating: boolean }[] | null;
    out.push(
      `\nregion ${r.region}\n` +
        formatFields(
          [
            ['status', r.status],
            ['store name', typeof profile.store_name === 'string' ? profile.store_name : '-'],
            [
              'marketplaces',
              markets === null
                ? '- (not read yet)'
                : markets
                    .map((m) => `${m.country}${m.participating ? '' : ' (not participating)'}`)
                    .join(', ') || '-',
            ],
            ['marketplace', r.marketplace ?? '-'],
            ['authorized at', String(j.authorized_at)],
            ['reauthorize by', String(j.reauthorize_by)],
            ['last refresh', isoOrDash(r.lastRefreshAt)],
            ['access token until', isoOrDash(r.accessTokenExpiresAt)],
            [
              'last error',
              r.lastError === null ? '-' : `${r.lastError.code} at ${isoOrDash(r.lastError.at)}`,
            ],
          ],
          '  ',
        ),
    );
  });
  if (audit.length > 0) {
    out.push(
      '\nrecent activity\n' +
        formatTable(
          ['  AT', 'ACTION', 'REGION', 'ACTOR', 'OUTCOME'],
          audit.map((a) => [
            `  ${isoOrDash(a.at)}`,
            a.action,
            a.region ?? '-',
            a.actor ?? '-',
            a.outcome ?? '-',
          ]),
        ),
    );
  }
  ctx.stdout(out.join(''));
  return 0;
}

/** Reads one line from stdin (the answer to a confirmation); empty at end of input. */
function readAnswer(): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, terminal: false });
    let answered = false;
    rl.once('line', (line) => {
      answered = true;
      rl.close();
      resolve(line.trim());
    });
    rl.once('close', () => {
      if (!answered) resolve('');
    });
  });
}

async function remove(id: string, values: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const region = regionFlag(values.region);
  const deleted = await withStore(ctx, loadCliStoreConfig(ctx), null, async (store) => {
    const found = (await store.findSellers(id)).filter((r) => region === undefined || r.region === region);
    if (found.length === 0) {
      throw new CliError(
        `no seller ${id}${region === undefined ? '' : ` in region ${region}`} in the store (seller_not_found)`,
      );
    }
    if (values.yes !== true) {
      ctx.stderr(
        `Delete seller ${id} (${found.map((r) => r.region).join(', ')}) and wipe its tokens? ` +
          'The seller must authorize again to come back. [y/N] ',
      );
      const answer = await readAnswer();
      if (!/^y(es)?$/i.test(answer))
        throw new CliError('not deleted (cancelled; pass --yes to skip the question)');
    }
    const { deleted } = await deleteSellerAuthorizations(store, id, {
      actor: 'cli',
      ...(region ? { region } : {}),
    });
    return deleted;
  });
  // Another process may have deleted a region between the look-up and the delete: say what happened.
  if (deleted.length === 0) throw new CliError(`seller ${id} was already gone (seller_not_found)`);
  if (values.json) {
    // The shape of DELETE /v1/sellers/:id.
    printJson(ctx, { selling_partner_id: id, deleted_regions: deleted });
    return 0;
  }
  ctx.stdout(`deleted seller ${id} (${deleted.join(', ')})\n`);
  return 0;
}

async function reauthorizeLink(
  id: string,
  values: Record<string, unknown>,
  ctx: CliContext,
): Promise<number> {
  const region = regionFlag(values.region);
  const config = loadCliConfig(ctx);
  const link = await withStore(ctx, config, cliKeyRing(config.encryptionKeys, true), async (store) => {
    try {
      return await createReauthorizationLink(
        { config, store, now: Date.now, audit: { add: (record) => store.appendAudit([record]) } },
        { sellingPartnerId: id, actor: 'cli', ...(region === undefined ? {} : { region }) },
      );
    } catch (err) {
      if (!isConnectLinkRefusal(err)) throw err;
      const hint = err.code === 'region_required' ? ': pass --region' : '';
      throw new CliError(`${err.message.replace(/\.$/, '')} (${err.code})${hint}`);
    }
  });
  const expiresAt = new Date(link.expiresAt).toISOString();
  if (values.json) {
    printJson(ctx, {
      url: link.url,
      expires_at: expiresAt,
      selling_partner_id: id,
      region: link.seller.region,
    });
    return 0;
  }
  ctx.stdout(`${link.url}\n`);
  ctx.stderr(
    `re-authorization link for ${id} in region ${link.seller.region}: single use, one browser, ` +
      `valid ${Math.round(link.lifetimeMs / 60_000)} minutes (until ${expiresAt}); send it to the seller\n`,
  );
  return 0;
}

async function run(
  args: { values: Record<string, unknown>; positionals: string[] },
  ctx: CliContext,
): Promise<number> {
  const { sub, rest } = subcommand(args, {
    list: ['status', 'json'],
    show: ['json'],
    delete: ['region', 'yes', 'json'],
    'reauthorize-link': ['region', 'json'],
    ...TRANSFER_FLAGS,
  });
  if (sub === 'import') return importCommand(rest, args.values, ctx);
  if (sub === 'export') return exportCommand(rest, args.values, ctx);
  if (sub === 'list') {
    if (rest.length > 0) throw new UsageError(`unexpected argument for 'list'`);
    return list(args.values, ctx);
  }
  const id = sellerIdArg(rest);
  if (sub === 'reauthorize-link') return reauthorizeLink(id, args.values, ctx);
  return sub === 'show' ? show(id, args.values, ctx) : remove(id, args.values, ctx);
}

/**
 * `spapi-auth sellers`. Registered in `commands/index.ts`.
 *
 * @example
 * ```sh
 * spapi-auth sellers list --status reauthorization_required --json
 * ```
 */
export const sellersCommand: Command = {
  name: 'sellers',
  summary: 'list, show, delete, re-authorize, import or export the sellers in the store',
  help,
  options: {
    status: { type: 'string' },
    region: { type: 'string' },
    yes: { type: 'boolean', short: 'y' },
    json: { type: 'boolean' },
    format: { type: 'string' },
    'dry-run': { type: 'boolean' },
    rate: { type: 'string' },
    concurrency: { type: 'string' },
    'passphrase-file': { type: 'string' },
    out: { type: 'string' },
    'unencrypted-refresh-tokens': { type: 'boolean' },
  },
  positionals: true,
  run,
};
