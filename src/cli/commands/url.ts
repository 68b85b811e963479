// `spapi-auth url --marketplace DE`: the Seller (or Vendor) Central consent URL of the configured app.
import { MARKETPLACES, findMarketplace } from '../../core/marketplaces.js';
import { createState } from '../../core/state.js';
import { consentUrlOf } from '../../server/tokens/gateway.js';
import { UsageError, type CliContext, type Command } from '../command.js';
import { formatFields, printJson } from '../output.js';
import { clip, loadCliConfig } from '../runtime.js';
import { isVisibleAscii } from '../../core/printable.js';

const help = `Usage: spapi-auth url --marketplace CC [--vendor] [--state S] [--json]

Prints the consent URL of the configured application (SPAPI_APPLICATION_ID, redirect URI
<SPAPI_AUTH_PUBLIC_URL>/oauth/callback, version=beta when SPAPI_AUTH_DRAFT_APP=true) for a
marketplace's Seller Central, or Vendor Central with --vendor — the emulator's when
SPAPI_AUTH_AMAZON_URL is set. Without --state a random one is made and shown.

The service only accepts callbacks for states it created itself: to connect a seller through the
service, use the admin dashboard or POST /v1/connect-sessions. This URL is for checking the app's
registration (redirect URI, draft flag) or for a flow of your own that keeps the state. It carries
no PKCE challenge, even with SPAPI_AUTH_PKCE=true: the verifier would have nowhere to go.

Options:
  --marketplace CC   country code (${MARKETPLACES.map((m) => m.countryCode).join(', ')}) or marketplace id
  --vendor           Vendor Central instead of Seller Central
  --state S          the state to carry (printable, up to 512 characters)
  --json             print { url, state, marketplace, marketplace_id, region, kind, redirect_uri }
  --help             show this help
`;

async function run({ values }: { values: Record<string, unknown> }, ctx: CliContext): Promise<number> {
  const code = values.marketplace;
  if (typeof code !== 'string') throw new UsageError('--marketplace is required (e.g. --marketplace DE)');
  const marketplace = findMarketplace(code);
  if (!marketplace) throw new UsageError(`unknown marketplace '${clip(code)}' (e.g. US, DE, JP)`);
  const given = values.state;
  if (given !== undefined && !isVisibleAscii(given, 512)) {
    throw new UsageError('--state must be 1 to 512 printable characters without spaces');
  }
  const kind = values.vendor === true ? 'vendor' : 'seller';
  const config = loadCliConfig(ctx);
  const state = given ?? createState();
  // The same parameters the service's connect flow sends, minus PKCE: a verifier made here would
  // have nowhere to go.
  const url = consentUrlOf(config, { marketplace, kind, state });
  if (values.json) {
    printJson(ctx, {
      url,
      state,
      marketplace: marketplace.countryCode,
      marketplace_id: marketplace.marketplaceId,
      region: marketplace.region,
      kind,
      redirect_uri: config.redirectUri,
    });
    return 0;
  }
  ctx.stdout(url + '\n');
  ctx.stderr(
    formatFields([
      [
        'marketplace',
        `${marketplace.countryCode} (${marketplace.marketplaceId}, region ${marketplace.region})`,
      ],
      ['kind', kind],
      ['redirect URI', config.redirectUri],
      ...(given === undefined ? ([['state', `${state} (generated)`]] as const) : []),
    ]),
  );
  return 0;
}

/**
 * `spapi-auth url`. Registered in `commands/index.ts`.
 *
 * @example
 * ```sh
 * spapi-auth url --marketplace DE --vendor
 * ```
 */
export const urlCommand: Command = {
  name: 'url',
  summary: 'print the consent URL of the configured app for a marketplace',
  help,
  options: {
    marketplace: { type: 'string' },
    vendor: { type: 'boolean' },
    state: { type: 'string' },
    json: { type: 'boolean' },
  },
  run,
};
