// A real OpenID provider (node-oidc-provider) on 127.0.0.1 for the admin sign-in tests: test users
// whose claims carry email / email_verified / groups, the dev login form (any password), consent
// granted up front, PKCE required. It listens behind a small forwarding proxy that is the issuer,
// so a test can make the token endpoint hand out an altered ID token (`tamper`).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type Configuration } from 'oidc-provider';

/** A test account: its id is what the dev login form takes as "login". */
export interface OidcTestUser {
  readonly id: string;
  readonly email?: string;
  readonly emailVerified?: boolean;
  readonly groups?: readonly string[];
}

/** How the proxy alters the token endpoint's ID token. */
export type Tamper =
  | 'none'
  /** Rewrites the payload (e-mail and groups of another user), keeping the provider's signature. */
  | 'claims'
  /** Flips bits of the signature. */
  | 'signature';

export interface TestProvider {
  /** The issuer (the proxy's origin). */
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Token responses the proxy forwarded (with the tamper applied). */
  readonly tokenResponses: number;
  tamper: Tamper;
  close(): Promise<void>;
}

export const OIDC_USERS: readonly OidcTestUser[] = [
  { id: 'alice', email: 'alice@example.com', emailVerified: true },
  { id: 'bob', email: 'bob@elsewhere.test', emailVerified: true },
  { id: 'carol', email: 'carol@example.com', emailVerified: false },
  { id: 'dave', email: 'dave@elsewhere.test', emailVerified: true, groups: ['admins', 'staff'] },
  // Another account whose unverified e-mail claim names the admin alice.
  { id: 'mallory', email: 'alice@example.com', emailVerified: false },
  // A verified address that only lower-cases into kim@example.com (U+212A KELVIN SIGN).
  { id: 'kelvin', email: '\u212Aim@example.com', emailVerified: true },
];

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function b64urlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function tamperIdToken(idToken: string, how: Tamper): string {
  const [header, payload, signature] = idToken.split('.') as [string, string, string];
  if (how === 'signature') {
    const sig = Buffer.from(signature, 'base64url');
    sig[0] = sig[0]! ^ 0xff;
    sig[sig.length - 1] = sig[sig.length - 1]! ^ 0xff;
    return `${header}.${payload}.${sig.toString('base64url')}`;
  }
  if (how === 'claims') {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    return `${header}.${b64urlJson({ ...claims, email: 'alice@example.com', email_verified: true, groups: ['admins'] })}.${signature}`;
  }
  return idToken;
}

/**
 * Starts the provider with one confidential client whose only redirect URI is `redirectUri`.
 *
 * @example
 * const idp = await startTestProvider({ redirectUri: `${publicUrl}/admin/oidc/callback` });
 */
export async function startTestProvider(opts: {
  redirectUri: string;
  users?: readonly OidcTestUser[];
}): Promise<TestProvider> {
  const users = new Map((opts.users ?? OIDC_USERS).map((u) => [u.id, u]));
  const front = createServer();
  const frontPort = await listen(front);
  const issuer = `http://127.0.0.1:${frontPort}`;
  const clientId = 'spapi-auth-admin';
  const clientSecret = randomBytes(24).toString('base64url');
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key-1', use: 'sig', alg: 'RS256' };

  const configuration: Configuration = {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [opts.redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [jwk as never] },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    scopes: ['openid', 'email', 'profile', 'groups'],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], groups: ['groups'] },
    conformIdTokenClaims: false,
    ttl: {
      Interaction: 600,
      Grant: 3600,
      Session: 3600,
      AccessToken: 600,
      IdToken: 600,
      AuthorizationCode: 60,
    },
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true },
    findAccount: (_ctx, id) => {
      const user = users.get(id);
      if (user === undefined) return undefined;
      return {
        accountId: id,
        claims: () => ({
          sub: id,
          ...(user.email !== undefined
            ? { email: user.email, email_verified: user.emailVerified ?? false }
            : {}),
          ...(user.groups !== undefined ? { groups: [...user.groups] } : {}),
        }),
      };
    },
    // Consent is granted up front: the dev login form is the only interaction.
    loadExistingGrant: async (ctx) => {
      const provider = ctx.oidc.provider;
      const grant = new provider.Grant({
        clientId: ctx.oidc.client!.clientId,
        accountId: ctx.oidc.session!.accountId!,
      });
      grant.addOIDCScope('openid email profile groups');
      grant.addOIDCClaims(['email', 'email_verified', 'groups']);
      await grant.save();
      return grant;
    },
  };
  const provider = new Provider(issuer, configuration);
  // The provider's own errors are the tests' business, not the console's.
  provider.on('server_error', () => {});
  const back = createServer(provider.callback());
  const backPort = await listen(back);

  const state = { tamper: 'none' as Tamper, tokenResponses: 0 };
  front.on('request', (req, res) => {
    const isToken = req.method === 'POST' && (req.url ?? '').split('?')[0] === '/token';
    const upstream = httpRequest(
      { host: '127.0.0.1', port: backPort, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        if (!isToken) {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => {
          let body = Buffer.concat(chunks).toString('utf8');
          if (up.statusCode === 200) {
            state.tokenResponses++;
            const json = JSON.parse(body) as Record<string, unknown>;
            if (typeof json.id_token === 'string') json.id_token = tamperIdToken(json.id_token, state.tamper);
            body = JSON.stringify(json);
          }
          const headers = { ...up.headers, 'content-length': String(Buffer.byteLength(body)) };
          res.writeHead(up.statusCode ?? 502, headers);
          res.end(body);
        });
      },
    );
    upstream.on('error', () => {
      res.writeHead(502).end();
    });
    req.pipe(upstream);
  });

  const close = (s: Server): Promise<void> =>
    new Promise((resolve) => {
      s.closeAllConnections();
      s.close(() => resolve());
    });
  return {
    issuer,
    clientId,
    clientSecret,
    get tokenResponses() {
      return state.tokenResponses;
    },
    get tamper() {
      return state.tamper;
    },
    set tamper(v: Tamper) {
      state.tamper = v;
    },
    close: async () => {
      await close(front);
      await close(back);
    },
  };
}

/**
 * Walks the provider's dev login form without a browser, as `login` (a cookie jar of the
 * provider's cookies), from the authorization URL to the redirect back to the client; returns
 * that redirect's URL (the callback with `code` and `state`, or an `error`).
 *
 * @example
 * const callback = await signInAtProvider(authorizationUrl, 'alice');
 */
export async function signInAtProvider(authorizationUrl: string, login: string): Promise<URL> {
  const jar = new Map<string, string>();
  const origin = new URL(authorizationUrl).origin;
  const send = async (url: string, init: RequestInit = {}): Promise<Response> => {
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers as Record<string, string>), ...(cookie ? { cookie } : {}) },
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      jar.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
    }
    return res;
  };
  let url = authorizationUrl;
  for (let hop = 0; hop < 10; hop++) {
    const res = await send(url);
    const location = res.headers.get('location');
    if (location !== null) {
      const next = new URL(location, url);
      if (next.origin !== origin) return next;
      url = next.href;
      continue;
    }
    const page = await res.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(page)?.[1];
    if (action === undefined) throw new Error(`no login form at ${url} (${res.status})`);
    const posted = await send(new URL(action.replace(/&amp;/g, '&'), url).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ prompt: 'login', login, password: 'any' }).toString(),
    });
    const after = posted.headers.get('location');
    if (after === null) throw new Error(`login form answered ${posted.status}`);
    url = new URL(after, url).href;
  }
  throw new Error('too many redirects at the provider');
}
