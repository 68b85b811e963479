// A seller's grant at the recipe test's emulator, as Amazon hands it out: consent (auto mode, for
// the seller) and the authorization-code exchange with the app's secret. Run with the recipe's own
// Node inside the root filesystem; prints the seller as one line of `spapi-auth sellers import`.
//   node grant.mjs <emulator origin> <application JSON file> <seller id> <region>
import { readFileSync } from 'node:fs';

const [emulator, appFile, seller, region] = process.argv.slice(2);
const app = JSON.parse(readFileSync(appFile, 'utf8'));
const consentMode = await fetch(`${emulator}/__emulator/consent`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ mode: 'auto', selling_partner_id: seller }),
});
if (!consentMode.ok) throw new Error(`consent mode: ${consentMode.status}`);
const consent = await fetch(`${emulator}/apps/authorize/consent?application_id=${app.id}&state=recipe`, {
  redirect: 'manual',
});
const code = new URL(consent.headers.get('location') ?? 'about:blank').searchParams.get('spapi_oauth_code');
if (!code) throw new Error(`consent answered ${consent.status} without a code`);
const token = await fetch(`${emulator}/auth/o2/token`, {
  method: 'POST',
  body: new URLSearchParams({
    grant_type: 'authorization_code',
    code,
    redirect_uri: app.redirect_uris[0],
    client_id: app.client_id,
    client_secret: app.client_secret,
  }),
});
if (token.status !== 200) throw new Error(`code exchange: ${token.status}`);
const { refresh_token } = await token.json();
console.log(JSON.stringify({ selling_partner_id: seller, region, refresh_token }));
