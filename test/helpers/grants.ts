// A seller's first tokens at an in-process emulator, the way Amazon hands them out: consent (auto
// mode, for the named seller) and then the authorization-code exchange with the app's secret. The
// refresher tests and the simulated-day bench both start from real grants, so the emulator's refresh
// tokens are the ones the service later refreshes with. No node:test here: bench/ imports it too.
import type { Emulator } from '../../src/emulator/index.js';
import type { EmulatorApplication, EmulatorSeller } from '../../src/emulator/types.js';

/** One NA seller (US marketplace) per id, named by its id. */
export function naSellers(ids: readonly string[]): EmulatorSeller[] {
  return ids.map((id) => ({
    sellingPartnerId: id,
    name: id,
    kind: 'seller' as const,
    regions: ['na' as const],
    marketplaces: ['US'],
  }));
}

/**
 * Consents `sellingPartnerId` to `app` (auto mode, for that seller) and returns the authorization
 * code. The consent mode is the emulator's state: consents go one at a time.
 */
export async function consentCodeAtEmulator(
  emulator: Pick<Emulator, 'fetch' | 'control'>,
  app: EmulatorApplication,
  sellingPartnerId: string,
): Promise<string> {
  await emulator.control.consentMode('auto', sellingPartnerId);
  const consent = await emulator.fetch(
    `https://sellercentral.amazon.com/apps/authorize/consent?application_id=${app.id}&state=s${sellingPartnerId}`,
    { redirect: 'manual' },
  );
  return new URL(consent.headers.get('location')!).searchParams.get('spapi_oauth_code')!;
}

/** Exchanges an authorization code with the app's secret; throws unless the exchange answers 200. */
export async function exchangeAtEmulator(
  emulator: Pick<Emulator, 'fetch'>,
  app: EmulatorApplication,
  clientSecret: string,
  code: string,
): Promise<{ refreshToken: string; accessToken: string; expiresIn: number }> {
  const res = await emulator.fetch('https://api.amazon.com/auth/o2/token', {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: app.redirectUris[0]!,
      client_id: app.clientId,
      client_secret: clientSecret,
    }),
  });
  if (res.status !== 200) throw new Error(`code exchange: ${res.status}`);
  const body = (await res.json()) as { refresh_token: string; access_token: string; expires_in: number };
  return { refreshToken: body.refresh_token, accessToken: body.access_token, expiresIn: body.expires_in };
}

/**
 * Consents `sellingPartnerId` to `app` and exchanges the code; throws unless the exchange answers 200.
 *
 * @example
 * const g = await grantAtEmulator(emulator, app, SECRET, 'A1SELLER0001');
 * await store.saveAuthorization({ …, refreshToken: g.refreshToken,
 *   accessToken: { accessToken: g.accessToken, expiresAt: now + g.expiresIn * 1000 } });
 */
export async function grantAtEmulator(
  emulator: Pick<Emulator, 'fetch' | 'control'>,
  app: EmulatorApplication,
  clientSecret: string,
  sellingPartnerId: string,
): Promise<{ refreshToken: string; accessToken: string; expiresIn: number }> {
  const code = await consentCodeAtEmulator(emulator, app, sellingPartnerId);
  return exchangeAtEmulator(emulator, app, clientSecret, code);
}
