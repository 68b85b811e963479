/**
 * Side by side with the popular SP-API clients (product.md "Numbers it must reach"), each pointed at
 * the same emulator (50 ms LWA latency): LWA calls under a 50-call stampede on a cold client, and
 * cache-hit calls per second beside the floor.
 *
 * How each library is pointed at the emulator without touching the network:
 * - `@sp-api-sdk/auth`: axios's default adapter is replaced before the library creates its axios
 *   instance, with one that answers through the emulator's in-process fetch.
 * - the official `@amazon-sp-api-release/amazon-sp-api-sdk-js` (`LwaAuthClient`): `superagent.post`
 *   is wrapped so that `https://api.amazon.com/auth/o2/token` goes to the emulator on a local port.
 * - `amazon-sp-api`: the instance's request executor is replaced by one over the emulator's fetch
 *   (it has no cache-hit call to measure: it keeps a token until SP-API answers 403).
 */
import { createRequire } from 'node:module';
import {
  buildConsentUrl,
  createMemoryTokenVault,
  createState,
  createTokenManager,
  exchangeAuthorizationCode,
  parseCallback,
} from '../../src/core/index.js';
import {
  DEV_APPLICATION,
  DEV_CLIENT_SECRET,
  startEmulator,
  type RunningEmulator,
} from '../../src/emulator/index.js';
import { callsPerSecond, median, si, type BenchRow, type BenchSection } from '../framework.js';

const REDIRECT = 'http://localhost:3000/oauth/callback';
const CREDS = { clientId: DEV_APPLICATION.clientId, clientSecret: DEV_CLIENT_SECRET };
const KEY = { sellingPartnerId: 'A1EMUSELLERNA01', region: 'na' } as const;
const require = createRequire(import.meta.url);

type Getter = () => Promise<unknown>;
interface Contender {
  readonly name: string;
  /** A fresh, cold client; its getter returns an access token. */
  make(refreshToken: string): Promise<Getter>;
  readonly cacheHit: boolean;
}

async function refreshTokenFrom(emu: RunningEmulator): Promise<string> {
  await emu.emulator.control.consentMode('auto', KEY.sellingPartnerId);
  const url = buildConsentUrl({
    marketplace: 'US',
    applicationId: DEV_APPLICATION.id,
    state: createState(),
    redirectUri: REDIRECT,
    amazonUrl: emu.url,
  });
  const res = await emu.emulator.fetch(url, { redirect: 'manual' });
  const cb = parseCallback(res.headers.get('location') ?? '');
  if (!cb.ok) throw cb.error;
  return (
    await exchangeAuthorizationCode(
      CREDS,
      { code: cb.spapiOauthCode, redirectUri: REDIRECT },
      { fetch: emu.emulator.fetch, amazonUrl: emu.url },
    )
  ).refreshToken;
}

const refreshCalls = async (emu: RunningEmulator): Promise<number> =>
  Object.values((await emu.emulator.control.stats()).token['refresh_token'] ?? {}).reduce((a, b) => a + b, 0);

function contenders(emu: RunningEmulator): Contender[] {
  const lwaUrl = `${emu.url}/auth/o2/token`;
  return [
    {
      name: 'spapi-auth (this package)',
      cacheHit: true,
      async make(refreshToken) {
        const vault = createMemoryTokenVault();
        vault.put(KEY, refreshToken);
        const m = createTokenManager({
          credentials: CREDS,
          vault,
          fetch: emu.emulator.fetch,
          amazonUrl: emu.url,
        });
        return () => m.getAccessToken(KEY);
      },
    },
    {
      name: '@sp-api-sdk/auth',
      cacheHit: true,
      async make(refreshToken) {
        const { SellingPartnerApiAuth } = await import('@sp-api-sdk/auth');
        const auth = new SellingPartnerApiAuth({ ...CREDS, refreshToken });
        return () => auth.getAccessToken();
      },
    },
    {
      name: 'official SDK (LwaAuthClient)',
      cacheHit: true,
      async make(refreshToken) {
        const { LwaAuthClient } = (await import(
          '@amazon-sp-api-release/amazon-sp-api-sdk-js' as string
        )) as unknown as {
          LwaAuthClient: new (
            id: string,
            secret: string,
            refreshToken: string,
          ) => { getAccessToken(): Promise<string> };
        };
        const client = new LwaAuthClient(CREDS.clientId, CREDS.clientSecret, refreshToken);
        return () => client.getAccessToken();
      },
    },
    {
      name: 'amazon-sp-api',
      cacheHit: false,
      async make(refreshToken) {
        const SellingPartner = require('amazon-sp-api') as new (config: object) => {
          _request: {
            execute(o: { url: string; body: unknown; headers: Record<string, string> }): Promise<unknown>;
          };
          refreshAccessToken(): Promise<void>;
          access_token: string;
        };
        const sp = new SellingPartner({
          region: 'na',
          refresh_token: refreshToken,
          credentials: {
            SELLING_PARTNER_APP_CLIENT_ID: CREDS.clientId,
            SELLING_PARTNER_APP_CLIENT_SECRET: CREDS.clientSecret,
          },
          options: { auto_request_tokens: false, use_sandbox: false },
        });
        sp._request.execute = async (o) => {
          const r = await emu.emulator.fetch(lwaUrl, {
            method: 'POST',
            headers: o.headers,
            body: typeof o.body === 'string' ? o.body : JSON.stringify(o.body),
          });
          return { body: await r.text(), statusCode: r.status, headers: Object.fromEntries(r.headers) };
        };
        // What its callAPI does when it has no token: refresh, then use it.
        return async () => {
          if (!sp.access_token) await sp.refreshAccessToken();
          return sp.access_token;
        };
      },
    },
  ];
}

/** Points @sp-api-sdk/auth's axios and the official SDK's superagent at the emulator, before they load. */
async function redirectLibraries(emu: RunningEmulator): Promise<void> {
  const axios = (await import('axios')).default;
  axios.defaults.adapter = async (config) => {
    const url = new URL(`${(config.baseURL ?? '').replace(/\/+$/, '')}${config.url ?? ''}`);
    const r = await emu.emulator.fetch(`${emu.url}${url.pathname}`, {
      method: (config.method ?? 'get').toUpperCase(),
      headers: { 'content-type': 'application/json' },
      body: typeof config.data === 'string' ? config.data : JSON.stringify(config.data),
    });
    const text = await r.text();
    const response = {
      data: JSON.parse(text) as unknown,
      status: r.status,
      statusText: r.statusText,
      headers: Object.fromEntries(r.headers),
      config,
      request: {},
    };
    if (r.status >= 400)
      throw new axios.AxiosError(`status ${r.status}`, 'ERR_BAD_RESPONSE', config, {}, response as never);
    return response as never;
  };
  // The same module object the official SDK's `import superagent from 'superagent'` receives.
  const superagent = require('superagent') as { post: (url: string) => unknown };
  const post = superagent.post.bind(superagent);
  superagent.post = (url: string) =>
    post(url === 'https://api.amazon.com/auth/o2/token' ? `${emu.url}/auth/o2/token` : url);
}

export const libraries: BenchSection = {
  name: 'libraries',
  title: 'Side by side with the popular SP-API clients',
  async run({ log }) {
    const emu = await startEmulator({ port: 0, consentMode: 'auto', latencyMs: 50 });
    try {
      await redirectLibraries(emu);
      const refreshToken = await refreshTokenFrom(emu);
      const rows: BenchRow[] = [];
      const floorMap = new Map([['k', { token: 'Atza|x', refreshAt: Date.now() + 3_600_000 }]]);
      const floor = async (k: string): Promise<string> => {
        const e = floorMap.get(k);
        if (e !== undefined && Date.now() < e.refreshAt) return e.token;
        throw new Error('miss');
      };
      const floorRate = median([
        await callsPerSecond(() => floor('k'), 300),
        await callsPerSecond(() => floor('k'), 300),
        await callsPerSecond(() => floor('k'), 300),
      ]);
      rows.push({ metric: 'floor: async Map lookup + expiry check', result: `${si(floorRate)} calls/s` });
      for (const c of contenders(emu)) {
        const get = await c.make(refreshToken);
        const before = await refreshCalls(emu);
        await Promise.all(Array.from({ length: 50 }, get));
        const cold = (await refreshCalls(emu)) - before;
        let hit = 'n/a (refreshes only after a 403)';
        if (c.cacheHit) {
          await get();
          const rate = median([
            await callsPerSecond(get, 300),
            await callsPerSecond(get, 300),
            await callsPerSecond(get, 300),
          ]);
          hit = `${si(rate)} calls/s (${(rate / floorRate).toFixed(2)}× floor)`;
        }
        log(`${c.name}: cold stampede ${cold} LWA calls; cache hit ${hit}`);
        rows.push({
          metric: `${c.name}: LWA calls, 50 concurrent calls on a cold client`,
          result: String(cold),
          ...(c.name.startsWith('spapi-auth') ? { target: 'exactly 1', met: cold === 1 } : {}),
        });
        rows.push({ metric: `${c.name}: cache-hit`, result: hit });
      }
      return {
        rows,
        notes: [
          'Each library gets the same emulator (50 ms LWA latency) and a refresh token obtained through the consent page and a code exchange. ' +
            "`@sp-api-sdk/auth` is reached by replacing axios's default adapter, the official SDK by wrapping `superagent.post`, `amazon-sp-api` by replacing its request executor; none of them can be pointed at another LWA URL by configuration. " +
            'Cache-hit rates are medians of three 300 ms runs, awaiting every call.',
        ],
      };
    } finally {
      await emu.close();
    }
  },
};
