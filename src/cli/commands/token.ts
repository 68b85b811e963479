// `spapi-auth token <seller-id>`: an access token for one seller, from the service's own token
// machinery (the store's cached token, else one refresh under the store's lease).
import type { Region } from '../../core/marketplaces.js';
import { createService } from '../../server/service.js';
import { tokenApiError } from '../../server/tokens/api-errors.js';
import { CliError, UsageError, type CliContext, type Command } from '../command.js';
import { printJson } from '../output.js';
import { cliKeyRing, loadCliConfig, regionFlag, sellerIdArg, withStore } from '../runtime.js';

const help = `Usage: spapi-auth token <seller-id> [--region na|eu|fe] [--json]

Prints an access token for the seller (valid about an hour), exactly as
GET /v1/sellers/:id/access-token hands it out: the cached one when still fresh, else one refresh
with Login with Amazon shared with every running instance. Reads the service's configuration
(LWA_CLIENT_ID, LWA_CLIENT_SECRET, DATABASE_URL, SPAPI_AUTH_ENCRYPTION_KEYS, SPAPI_AUTH_AMAZON_URL…).

The token alone goes to stdout, for scripts:
  curl -H "x-amz-access-token: $(spapi-auth token A3FHEXAMPLEYWS)" …

Options:
  --region R   the region, when the seller is authorized in several (na, eu, fe)
  --json       print { access_token, expires_at, region, endpoint }
  --help       show this help
`;

async function run(
  { values, positionals }: { values: Record<string, unknown>; positionals: string[] },
  ctx: CliContext,
): Promise<number> {
  const id = sellerIdArg(positionals);
  const asked = regionFlag(values.region);
  const config = loadCliConfig(ctx);
  const keyRing = cliKeyRing(config.encryptionKeys, true);
  const out = await withStore(ctx, config, keyRing, async (store) => {
    let region: Region;
    if (asked !== undefined) {
      region = asked;
    } else {
      const regions = (await store.findSellers(id)).map((s) => s.region);
      if (regions.length === 0) throw new CliError(`no seller ${id} in the store (seller_not_found)`);
      if (regions.length > 1) {
        throw new UsageError(
          `seller ${id} is authorized in ${regions.join(', ')}: pass --region (region_required)`,
        );
      }
      region = regions[0]!;
    }
    const service = await createService(config, { store });
    const { amazon } = service;
    try {
      // The secrets the service uses, stored ones included after a rotation was accepted.
      await service.ops.ring.reload();
      const token = await amazon.getAccessToken({ sellingPartnerId: id, region });
      await store.appendAudit([
        { action: 'token.released', actor: 'cli', sellingPartnerId: id, region, outcome: 'ok' },
      ]);
      return { token, region, endpoint: amazon.endpoint(region) };
    } catch (err) {
      let e;
      try {
        e = tokenApiError(err);
      } catch {
        throw err;
      }
      await store
        .appendAudit([
          { action: 'token.released', actor: 'cli', sellingPartnerId: id, region, outcome: e.code },
        ])
        .catch(() => undefined);
      throw new CliError(`${e.message.replace(/\.$/, '')} (${e.code})`);
    } finally {
      // Writes the service's buffered audit (the refresh, if any) and closes the store.
      await service.close();
    }
  });
  if (values.json) {
    printJson(ctx, {
      access_token: out.token.accessToken,
      expires_at: new Date(out.token.expiresAt).toISOString(),
      region: out.region,
      endpoint: out.endpoint,
    });
  } else {
    ctx.stdout(out.token.accessToken + '\n');
  }
  return 0;
}

/**
 * `spapi-auth token`. Registered in `commands/index.ts`.
 *
 * @example
 * ```sh
 * curl -H "x-amz-access-token: $(spapi-auth token A3FHEXAMPLEYWS)" …
 * ```
 */
export const tokenCommand: Command = {
  name: 'token',
  summary: "print a seller's access token (cached, or refreshed once)",
  help,
  options: { region: { type: 'string' }, json: { type: 'boolean' } },
  positionals: true,
  run,
};
