/**
 * The only module that reads the environment. It maps the documented variables (docs/deployment.md) to one
 * frozen, validated {@link Config}. A missing or malformed value throws a {@link ConfigError} whose
 * message names the variable and never its value; the config object itself redacts its secrets
 * when inspected or serialised, so a crash report or a debug dump cannot leak them.
 */
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { parseTrustedProxies } from './server/http/client-address.js';

/** `dev` runs with the embedded emulator and generated defaults; `serve` is production. */
export type Mode = 'dev' | 'serve';

/**
 * A configuration problem; `variable` names the environment variable at fault.
 *
 * @example
 * try { loadConfig(process.env, { mode: 'serve' }); } catch (e) { if (e instanceof ConfigError) console.error(e.message); }
 */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly code = 'invalid_config';
  /** Every variable at fault: several when required ones are missing (all named in one message). */
  readonly variables: readonly string[];
  constructor(
    readonly variable: string,
    problem: string,
    variables: readonly string[] = [variable],
  ) {
    super(`${variable}: ${problem}`);
    this.variables = Object.freeze([...variables]);
  }
}

/** What `serve` cannot start without (dev has defaults for all of them). */
const REQUIRED_IN_SERVE = [
  'LWA_CLIENT_ID',
  'LWA_CLIENT_SECRET',
  'SPAPI_APPLICATION_ID',
  'SPAPI_AUTH_PUBLIC_URL',
  'SPAPI_AUTH_ENCRYPTION_KEYS',
] as const;

const DEFAULT_DATABASE_URL = 'sqlite:./data/spapi-auth.db';

/**
 * Checks the shape of `DATABASE_URL`. `sqlite://./data/x.db` is refused: read as a URL its path is
 * `/data/x.db` at the filesystem root, never what the writer meant; `sqlite:<path>` is the form.
 */
function checkDatabaseUrl(url: string): string {
  if (url.startsWith('sqlite://')) {
    throw new ConfigError(
      'DATABASE_URL',
      'sqlite:// is not accepted (it would put the file at the filesystem root): write sqlite:<path>, e.g. sqlite:./data/spapi-auth.db or sqlite:/var/lib/spapi-auth/db.sqlite',
    );
  }
  if (!/^(sqlite:.+|postgres(ql)?:\/\/.+|memory:)$/.test(url)) {
    throw new ConfigError('DATABASE_URL', 'must be sqlite:<path> or postgres://…');
  }
  return url;
}

/** The validated configuration. Every field is read-only and the object is frozen. */
export interface Config {
  readonly mode: Mode;
  readonly lwaClientId: string;
  readonly lwaClientSecret: string;
  readonly lwaClientSecretNext: string | undefined;
  readonly applicationId: string;
  /** The service's public origin and path prefix (when a proxy mounts it below the root), without a trailing slash. */
  readonly publicUrl: string;
  /** `<publicUrl>/oauth/callback`: one constant used in the consent URL, the Appstore hop and the exchange. */
  readonly redirectUri: string;
  /** `<publicUrl>/oauth/login`. */
  readonly loginUri: string;
  /** True when the public URL is https: the binding cookie is then `__Host-spapi_tx` with `Secure`. */
  readonly secureCookies: boolean;
  readonly draftApp: boolean;
  readonly databaseUrl: string;
  /** The raw key ring (`kid:<base64 32 bytes>,…`), shape-checked here, parsed by the storage layer; undefined in dev when none is set. */
  readonly encryptionKeys: string | undefined;
  /** One origin for every Amazon call (the emulator), or undefined for Amazon itself. */
  readonly amazonUrl: string | undefined;
  readonly sandbox: boolean;
  readonly pkce: boolean;
  /** Allowed origins for `return_to` (exact `scheme://host[:port]` strings). */
  readonly returnOrigins: readonly string[];
  readonly signinUrl: string | undefined;
  readonly webhookUrl: string | undefined;
  readonly webhookSecret: string | undefined;
  /**
   * The signing secret being retired (`SPAPI_AUTH_WEBHOOK_SECRET_PREVIOUS`): while set, every
   * delivery carries a second `v1=` signature made with it, so receivers still holding it verify.
   */
  readonly webhookSecretPrevious: string | undefined;
  readonly adminPassword: string | undefined;
  /**
   * Admin sign-in with an OpenID provider (`SPAPI_AUTH_ADMIN_OIDC_ISSUER`): the issuer URL exactly
   * as the provider names itself, or undefined when off. Set together with the client id, the
   * client secret and the allow-list.
   */
  readonly adminOidcIssuer: string | undefined;
  readonly adminOidcClientId: string | undefined;
  readonly adminOidcClientSecret: string | undefined;
  /** Who may sign in (`SPAPI_AUTH_ADMIN_OIDC_ALLOWED`); empty lists when OIDC is off. */
  readonly adminOidcAllowed: AdminOidcAllowList;
  /** `<publicUrl>/admin/oidc/callback`: the redirect URI to register at the provider. */
  readonly adminOidcRedirectUri: string;
  /** When set, `GET /metrics` requires `Authorization: Bearer <token>` (`SPAPI_AUTH_METRICS_TOKEN`). */
  readonly metricsToken: string | undefined;
  /** Whether `/metrics` includes the process and runtime metrics (`SPAPI_AUTH_METRICS_RUNTIME`). */
  readonly metricsRuntime: boolean;
  readonly allowRelink: boolean;
  /** Requests per second per API key; 0 turns the limit off. The burst is twice this. */
  readonly keyRateLimit: number;
  /**
   * Requests per minute per client address on the browser flows that anyone can reach
   * (`SPAPI_AUTH_OAUTH_RATE_LIMIT`: `/oauth/login`, `/connect/:token`, `/oauth/callback`); as many at
   * once after a quiet spell. 0 turns the limit off.
   */
  readonly oauthRateLimit: number;
  /**
   * Unconsumed OAuth transactions, and unconsumed pending Appstore sessions, kept at most
   * (`SPAPI_AUTH_MAX_PENDING_FLOWS`); past it the oldest are deleted first.
   */
  readonly maxPendingFlows: number;
  /**
   * Addresses and CIDR networks of the reverse proxies whose `X-Forwarded-For` is believed
   * (`SPAPI_AUTH_TRUSTED_PROXIES`); empty: the socket peer is the client.
   */
  readonly trustedProxies: readonly string[];
  /**
   * Proactive LWA refreshes per second this instance starts at most (`SPAPI_AUTH_REFRESH_RATE_LIMIT`);
   * 0 turns the proactive refresher off (tokens are then refreshed only on demand).
   */
  readonly refreshRateLimit: number;
  /**
   * The hot set (`SPAPI_AUTH_REFRESH_IDLE_AFTER`, seconds): the proactive refresher renews only
   * sellers whose access token was asked for within this long; an idle seller is refreshed on its
   * next request. 0 renews every active seller (no idle filter).
   */
  readonly refreshIdleAfterS: number;
  readonly port: number;
  readonly host: string;
  /**
   * Seconds a client has to send a request's headers (`SPAPI_AUTH_HEADERS_TIMEOUT`), counted from
   * the connection's opening for its first request: a connection that sends nothing is closed
   * after this long (answered `408`).
   */
  readonly headersTimeoutS: number;
  /** Seconds a client has to send a whole request, body included (`SPAPI_AUTH_REQUEST_TIMEOUT`); then `408`. */
  readonly requestTimeoutS: number;
  /** Seconds a keep-alive connection may stay idle between requests (`SPAPI_AUTH_KEEP_ALIVE_TIMEOUT`). */
  readonly keepAliveTimeoutS: number;
  /**
   * Open client connections this process keeps at most (`SPAPI_AUTH_MAX_CONNECTIONS`); undefined
   * is automatic (10,000, or less when the open-file limit is lower: see `server/http/connections.ts`).
   */
  readonly maxConnections: number | undefined;
  /** Non-fatal remarks to print at start-up (never containing a value). */
  readonly warnings: readonly string[];
  /**
   * Test only (`SPAPI_AUTH_FAULT_POINT`): the named point where the process kills itself with
   * SIGKILL (see `server/flows/fault-points.ts`); refused when `NODE_ENV=production`.
   */
  readonly faultPoint?: string;
}

/** The parsed `SPAPI_AUTH_ADMIN_OIDC_ALLOWED`: e-mails and domains lower-cased, groups as written. */
export interface AdminOidcAllowList {
  /** `alice@example.com`: this verified e-mail. */
  readonly emails: readonly string[];
  /** `@example.com`: any verified e-mail at this domain (written here without the `@`). */
  readonly domains: readonly string[];
  /** `group:admins`: anyone whose `groups` claim lists `admins`. */
  readonly groups: readonly string[];
}

/**
 * Default of `SPAPI_AUTH_REFRESH_RATE_LIMIT`: proactive LWA refreshes per second per instance. At
 * one-hour tokens renewed about 7 minutes early, 10/s keeps about 30,000 sellers per instance
 * refreshed ahead of time.
 *
 * @example
 * const rate = config.refreshRateLimit || DEFAULT_REFRESH_RATE_LIMIT;
 */
export const DEFAULT_REFRESH_RATE_LIMIT = 10;

/**
 * Default of `SPAPI_AUTH_REFRESH_IDLE_AFTER`: two one-hour token lifetimes. A seller asked for at
 * least once per token lifetime always has a request inside the window when its token comes due,
 * with a whole lifetime to spare for irregular callers; a seller that goes quiet costs at most two
 * more proactive refreshes before it leaves the hot set.
 *
 * @example
 * const idleMs = (config.refreshIdleAfterS || DEFAULT_REFRESH_IDLE_AFTER_S) * 1000;
 */
export const DEFAULT_REFRESH_IDLE_AFTER_S = 7200;

/**
 * Default of `SPAPI_AUTH_OAUTH_RATE_LIMIT`: requests per minute per client address on the browser
 * flows. One authorization is two or three of them (Login URI or connect link, then the callback),
 * so a person retrying a few times stays far below it, while one client can no longer create
 * thousands of rows a second.
 *
 * @example
 * const perMinute = config.oauthRateLimit; // 30 unless configured
 */
export const DEFAULT_OAUTH_RATE_LIMIT = 30;

/**
 * Default of `SPAPI_AUTH_MAX_PENDING_FLOWS`: at about 0.5 KB a row, 10,000 unconsumed
 * transactions are a few megabytes, and far more authorizations than a service starts in the
 * 10 minutes a transaction lives.
 *
 * @example
 * const cap = config.maxPendingFlows; // 10000 unless configured
 */
export const DEFAULT_MAX_PENDING_FLOWS = 10_000;

/** Credentials used in dev when the environment sets none: the emulator's built-in application. */
export interface DevDefaults {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly applicationId: string;
}

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  readonly mode: Mode;
  /** Required in dev: the emulator's dev application. */
  readonly devDefaults?: DevDefaults;
  /** Reads `NAME_FILE` secrets; injectable for tests. */
  readonly readFile?: (path: string) => string;
}

const SECRET_FIELDS = new Set<keyof Config>([
  'lwaClientSecret',
  'lwaClientSecretNext',
  'encryptionKeys',
  'webhookSecret',
  'webhookSecretPrevious',
  'adminPassword',
  'adminOidcClientSecret',
  'metricsToken',
  'databaseUrl',
]);

/**
 * Variables that hold secrets; {@link scrubSecretsFromEnv} deletes them after start-up.
 *
 * @example
 * SECRET_VARIABLES.includes('LWA_CLIENT_SECRET'); // true
 */
export const SECRET_VARIABLES: readonly string[] = Object.freeze([
  'LWA_CLIENT_SECRET',
  'LWA_CLIENT_SECRET_NEXT',
  'SPAPI_AUTH_ENCRYPTION_KEYS',
  'SPAPI_AUTH_WEBHOOK_SECRET',
  'SPAPI_AUTH_WEBHOOK_SECRET_PREVIOUS',
  'SPAPI_AUTH_ADMIN_PASSWORD',
  'SPAPI_AUTH_ADMIN_OIDC_CLIENT_SECRET',
  'SPAPI_AUTH_METRICS_TOKEN',
  'DATABASE_URL',
]);

// Shape only (kid:base64 of 32 bytes, standard or url alphabet); the storage layer decodes it.
const KEY_RING = /^[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/_-]{43}=?(?:,[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/_-]{43}=?)*$/;
const APPLICATION_ID = /^amzn1\.(?:sp\.solution|sellerapps\.app)\.[A-Za-z0-9-]{1,100}$/;
const PRINTABLE = /^[\x21-\x7e]+$/;

/**
 * Reads and validates the configuration from an environment object. Each group of settings has
 * its own reader below (application, listening address, public URL, Amazon, storage, flows,
 * webhooks, operators, limits); this function only composes them, so that a new setting goes
 * into the group it belongs to.
 *
 * @example
 * const config = loadConfig(process.env, { mode: 'serve' });
 * console.log(config.redirectUri); // 'https://auth.example.com/oauth/callback'
 */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  options: LoadConfigOptions,
): Config {
  const { mode } = options;
  const dev = mode === 'dev';
  if (env.NODE_TLS_REJECT_UNAUTHORIZED === '0' && !dev) {
    throw new ConfigError(
      'NODE_TLS_REJECT_UNAUTHORIZED',
      'TLS certificate checks are disabled; refusing to start outside dev',
    );
  }
  const devApp = dev ? options.devDefaults : undefined;
  if (dev && !devApp) throw new TypeError('loadConfig: devDefaults is required in dev mode');

  const r = envReader(env, options.readFile ?? ((p: string) => readFileSync(p, 'utf8')), dev);
  if (!dev) {
    // Name every missing variable at once: one run, one fix, not one variable per attempt.
    const missing = REQUIRED_IN_SERVE.filter((name) => r.raw(name) === undefined);
    if (missing.length > 1) {
      throw new ConfigError(missing.join(', '), 'are required (serve)', missing);
    }
  }

  const warnings: string[] = [];
  const application = readApplication(r, devApp);
  const listen = readListen(r);
  const publicUrl = readPublicUrl(r, listen.port, warnings);
  const config: Config = {
    mode,
    ...application,
    ...publicUrl,
    ...readAmazon(r, warnings),
    ...readStorage(r),
    ...readFlows(r),
    ...readWebhooks(r),
    ...readOperators(r),
    ...readAdminOidc(r, publicUrl.publicUrl),
    ...readLimits(r),
    ...listen,
    warnings: Object.freeze(warnings),
    ...faultPointOf(env),
  };
  return freezeRedacted(config);
}

/**
 * The typed accessors every group reader uses. A secret may come from `NAME_FILE` (an
 * orchestrator-mounted file), which is preferred over `NAME`; blank values count as unset.
 */
interface EnvReader {
  readonly dev: boolean;
  raw(name: string): string | undefined;
  bool(name: string, fallback: boolean): boolean;
  required(name: string, fallback: string | undefined): string;
  /** An absolute http(s) URL without credentials, query or fragment. */
  origin(name: string, value: string): URL;
  integer(name: string, fallback: number, min: number, max: number): number;
}

function envReader(
  env: Readonly<Record<string, string | undefined>>,
  readFile: (path: string) => string,
  dev: boolean,
): EnvReader {
  const raw = (name: string): string | undefined => {
    const file = env[`${name}_FILE`];
    if (file !== undefined && file !== '') {
      let text: string;
      try {
        text = readFile(file);
      } catch {
        throw new ConfigError(`${name}_FILE`, 'cannot read the file it names');
      }
      return text.trim();
    }
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  return {
    dev,
    raw,
    bool(name, fallback) {
      const v = raw(name);
      if (v === undefined) return fallback;
      if (/^(true|1|yes)$/i.test(v)) return true;
      if (/^(false|0|no)$/i.test(v)) return false;
      throw new ConfigError(name, 'must be true or false');
    },
    required(name, fallback) {
      const v = raw(name) ?? fallback;
      if (v === undefined) throw new ConfigError(name, `is required${dev ? '' : ' (serve)'}`);
      return v;
    },
    origin(name, value) {
      let u: URL;
      try {
        u = new URL(value);
      } catch {
        throw new ConfigError(name, 'must be an absolute URL');
      }
      if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new ConfigError(name, 'must be http(s)');
      if (u.username || u.password) throw new ConfigError(name, 'must not contain credentials');
      if (u.search || u.hash) throw new ConfigError(name, 'must not contain a query or fragment');
      return u;
    },
    integer(name, fallback, min, max) {
      return integer(raw(name), name, fallback, min, max);
    },
  };
}

/** The app's identity at Amazon: LWA credentials (with the next secret during a rotation) and the SP-API application id. */
function readApplication(r: EnvReader, devApp: DevDefaults | undefined) {
  const printable = (name: string, value: string | undefined, max: number): void => {
    if (value !== undefined && (!PRINTABLE.test(value) || value.length > max)) {
      throw new ConfigError(name, 'must be printable ASCII without spaces');
    }
  };
  const lwaClientId = r.required('LWA_CLIENT_ID', devApp?.clientId);
  printable('LWA_CLIENT_ID', lwaClientId, 256);
  const lwaClientSecret = r.required('LWA_CLIENT_SECRET', devApp?.clientSecret);
  printable('LWA_CLIENT_SECRET', lwaClientSecret, 512);
  const lwaClientSecretNext = r.raw('LWA_CLIENT_SECRET_NEXT');
  printable('LWA_CLIENT_SECRET_NEXT', lwaClientSecretNext, 512);
  const applicationId = r.required('SPAPI_APPLICATION_ID', devApp?.applicationId);
  if (!APPLICATION_ID.test(applicationId)) {
    throw new ConfigError(
      'SPAPI_APPLICATION_ID',
      'must be an SP-API application id (amzn1.sp.solution.… or amzn1.sellerapps.app.…), not the LWA client id',
    );
  }
  return { lwaClientId, lwaClientSecret, lwaClientSecretNext, applicationId };
}

/**
 * Where this process listens (`PORT`, `HOST`), which proxies in front of it are believed, and how
 * it treats its client connections: the header, request and keep-alive timeouts and the cap.
 */
function readListen(r: EnvReader) {
  const port = r.integer('PORT', 3000, 0, 65535);
  const host = r.raw('HOST') ?? '127.0.0.1';
  if (!/^[A-Za-z0-9.:[\]-]{1,255}$/.test(host))
    throw new ConfigError('HOST', 'must be a host name or address');
  const trustedProxies = (r.raw('SPAPI_AUTH_TRUSTED_PROXIES') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  try {
    parseTrustedProxies(trustedProxies);
  } catch {
    throw new ConfigError(
      'SPAPI_AUTH_TRUSTED_PROXIES',
      'must list IP addresses or CIDR networks (e.g. 127.0.0.1,10.0.0.0/8,::1)',
    );
  }
  const headersTimeoutS = r.integer('SPAPI_AUTH_HEADERS_TIMEOUT', 10, 1, 3600);
  const requestTimeoutS = r.integer('SPAPI_AUTH_REQUEST_TIMEOUT', 30, 1, 3600);
  if (headersTimeoutS > requestTimeoutS) {
    throw new ConfigError('SPAPI_AUTH_HEADERS_TIMEOUT', 'must not be longer than SPAPI_AUTH_REQUEST_TIMEOUT');
  }
  const keepAliveTimeoutS = r.integer('SPAPI_AUTH_KEEP_ALIVE_TIMEOUT', 5, 1, 3600);
  const maxConnections =
    r.raw('SPAPI_AUTH_MAX_CONNECTIONS') === undefined
      ? undefined
      : r.integer('SPAPI_AUTH_MAX_CONNECTIONS', 0, 1, 1_000_000);
  return {
    port,
    host,
    trustedProxies: Object.freeze(trustedProxies),
    headersTimeoutS,
    requestTimeoutS,
    keepAliveTimeoutS,
    maxConnections,
  };
}

/** The public URL and the URLs Amazon sends browsers back to, derived from it once. */
function readPublicUrl(r: EnvReader, port: number, warnings: string[]) {
  const publicUrlRaw =
    r.raw('SPAPI_AUTH_PUBLIC_URL') ?? (r.dev ? `http://localhost:${port === 0 ? 3000 : port}` : undefined);
  if (publicUrlRaw === undefined) throw new ConfigError('SPAPI_AUTH_PUBLIC_URL', 'is required (serve)');
  const pub = r.origin('SPAPI_AUTH_PUBLIC_URL', publicUrlRaw);
  // A path prefix (`https://example.com/auth`) when a proxy mounts the service below the root and
  // strips the prefix: every URL the service sends starts with it; the routes do not.
  const prefix = pub.pathname.replace(/\/+$/, '');
  if (prefix !== '' && !/^(\/[A-Za-z0-9._~-]+)+$/.test(prefix))
    throw new ConfigError('SPAPI_AUTH_PUBLIC_URL', 'must be an origin, optionally with a plain path prefix');
  const local = pub.hostname === 'localhost' || pub.hostname === '127.0.0.1';
  if (pub.protocol === 'http:') {
    if (!local)
      throw new ConfigError('SPAPI_AUTH_PUBLIC_URL', 'must be https (http only for localhost and 127.0.0.1)');
    if (!r.dev)
      warnings.push(
        'SPAPI_AUTH_PUBLIC_URL is plain http: for local testing only (the binding cookie is not Secure)',
      );
  }
  const publicUrl = pub.origin + prefix;
  return {
    publicUrl,
    redirectUri: `${publicUrl}/oauth/callback`,
    loginUri: `${publicUrl}/oauth/login`,
    secureCookies: pub.protocol === 'https:',
  };
}

/** `SPAPI_AUTH_AMAZON_URL`: one origin (an emulator) standing in for every Amazon host, and the sandbox switch. */
function readAmazon(r: EnvReader, warnings: string[]) {
  const amazonRaw = r.raw('SPAPI_AUTH_AMAZON_URL');
  let amazonUrl: string | undefined;
  if (amazonRaw !== undefined) {
    const a = r.origin('SPAPI_AUTH_AMAZON_URL', amazonRaw);
    if (a.pathname !== '/')
      throw new ConfigError('SPAPI_AUTH_AMAZON_URL', 'must be an origin without a path');
    if (a.protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(a.hostname)) {
      // The core accepts a plain-http emulator only on loopback (a redirect target for browsers).
      throw new ConfigError(
        'SPAPI_AUTH_AMAZON_URL',
        'must be https, or http on localhost / 127.0.0.1 / [::1]',
      );
    }
    amazonUrl = a.origin;
    warnings.push(
      'SPAPI_AUTH_AMAZON_URL is set: every Amazon call goes to that origin (an emulator), not to Amazon',
    );
  }
  return { amazonUrl, sandbox: r.bool('SPAPI_AUTH_SANDBOX', false) };
}

/** The database and the key ring that encrypts what it holds. */
function readStorage(r: EnvReader) {
  const databaseUrl = checkDatabaseUrl(r.raw('DATABASE_URL') ?? DEFAULT_DATABASE_URL);
  const encryptionKeys = r.raw('SPAPI_AUTH_ENCRYPTION_KEYS');
  if (encryptionKeys === undefined) {
    if (!r.dev) throw new ConfigError('SPAPI_AUTH_ENCRYPTION_KEYS', 'is required (serve)');
  } else if (!KEY_RING.test(encryptionKeys.replace(/\s+/g, ''))) {
    throw new ConfigError('SPAPI_AUTH_ENCRYPTION_KEYS', 'must be kid1:<base64 of 32 bytes>[,kid2:…]');
  }
  return { databaseUrl, encryptionKeys: encryptionKeys?.replace(/\s+/g, '') };
}

/** How the consent flows behave: where browsers may return to, the Appstore sign-in hop, PKCE, draft apps. */
function readFlows(r: EnvReader) {
  const returnOrigins = (r.raw('SPAPI_AUTH_RETURN_ORIGINS') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      const u = r.origin('SPAPI_AUTH_RETURN_ORIGINS', s);
      if (u.pathname !== '/')
        throw new ConfigError('SPAPI_AUTH_RETURN_ORIGINS', 'must list origins without paths');
      return u.origin;
    });
  const signinRaw = r.raw('SPAPI_AUTH_SIGNIN_URL');
  return {
    returnOrigins: Object.freeze(returnOrigins),
    signinUrl: signinRaw === undefined ? undefined : r.origin('SPAPI_AUTH_SIGNIN_URL', signinRaw).href,
    draftApp: r.bool('SPAPI_AUTH_DRAFT_APP', false),
    pkce: r.bool('SPAPI_AUTH_PKCE', false),
    allowRelink: r.bool('SPAPI_AUTH_ALLOW_RELINK', false),
  };
}

/** Where seller events are delivered, and the secret that signs them. */
function readWebhooks(r: EnvReader) {
  const webhookRaw = r.raw('SPAPI_AUTH_WEBHOOK_URL');
  const webhookUrl =
    webhookRaw === undefined ? undefined : r.origin('SPAPI_AUTH_WEBHOOK_URL', webhookRaw).href;
  const webhookSecret = r.raw('SPAPI_AUTH_WEBHOOK_SECRET');
  if (webhookUrl !== undefined && webhookSecret === undefined) {
    throw new ConfigError('SPAPI_AUTH_WEBHOOK_SECRET', 'is required when SPAPI_AUTH_WEBHOOK_URL is set');
  }
  // The secret being rotated out: signed with as well until the operator removes it.
  const webhookSecretPrevious = r.raw('SPAPI_AUTH_WEBHOOK_SECRET_PREVIOUS');
  if (webhookSecretPrevious !== undefined && webhookSecret === undefined) {
    throw new ConfigError(
      'SPAPI_AUTH_WEBHOOK_SECRET_PREVIOUS',
      'needs SPAPI_AUTH_WEBHOOK_SECRET (the new secret) beside it',
    );
  }
  if (webhookSecretPrevious !== undefined && webhookSecretPrevious === webhookSecret) {
    throw new ConfigError('SPAPI_AUTH_WEBHOOK_SECRET_PREVIOUS', 'is the same as SPAPI_AUTH_WEBHOOK_SECRET');
  }
  return { webhookUrl, webhookSecret, webhookSecretPrevious };
}

/** What operators sign in and scrape with: the admin password and the `/metrics` settings. */
function readOperators(r: EnvReader) {
  const adminPassword = r.raw('SPAPI_AUTH_ADMIN_PASSWORD');
  if (adminPassword !== undefined && adminPassword.length < 12) {
    throw new ConfigError('SPAPI_AUTH_ADMIN_PASSWORD', 'must be at least 12 characters');
  }
  const metricsToken = r.raw('SPAPI_AUTH_METRICS_TOKEN');
  if (metricsToken !== undefined && !/^[\x21-\x7e]{16,256}$/.test(metricsToken)) {
    throw new ConfigError('SPAPI_AUTH_METRICS_TOKEN', 'must be 16 to 256 printable characters');
  }
  return { adminPassword, metricsToken, metricsRuntime: r.bool('SPAPI_AUTH_METRICS_RUNTIME', true) };
}

const OIDC_VARIABLES = [
  'SPAPI_AUTH_ADMIN_OIDC_ISSUER',
  'SPAPI_AUTH_ADMIN_OIDC_CLIENT_ID',
  'SPAPI_AUTH_ADMIN_OIDC_CLIENT_SECRET',
  'SPAPI_AUTH_ADMIN_OIDC_ALLOWED',
] as const;

/**
 * Admin sign-in with an OpenID provider: all four variables or none. The issuer must be https
 * (plain http only on localhost / 127.0.0.1 / [::1], for tests against a local provider).
 */
function readAdminOidc(r: EnvReader, publicUrl: string) {
  const redirectUri = `${publicUrl}/admin/oidc/callback`;
  const set = OIDC_VARIABLES.filter((name) => r.raw(name) !== undefined);
  if (set.length === 0) {
    return {
      adminOidcIssuer: undefined,
      adminOidcClientId: undefined,
      adminOidcClientSecret: undefined,
      adminOidcAllowed: parseOidcAllowList(''),
      adminOidcRedirectUri: redirectUri,
    };
  }
  const missing = OIDC_VARIABLES.filter((name) => r.raw(name) === undefined);
  if (missing.length > 0) {
    throw new ConfigError(
      missing.join(', '),
      `${missing.length > 1 ? 'are' : 'is'} required when ${set[0]} is set`,
      missing,
    );
  }
  const issuerRaw = r.raw('SPAPI_AUTH_ADMIN_OIDC_ISSUER')!;
  const issuer = r.origin('SPAPI_AUTH_ADMIN_OIDC_ISSUER', issuerRaw);
  if (issuer.protocol === 'http:' && !isLoopbackHost(issuer.hostname)) {
    throw new ConfigError(
      'SPAPI_AUTH_ADMIN_OIDC_ISSUER',
      'must be https (plain http only on localhost / 127.0.0.1 / [::1], for a local test provider)',
    );
  }
  const clientId = r.raw('SPAPI_AUTH_ADMIN_OIDC_CLIENT_ID')!;
  if (!PRINTABLE.test(clientId) || clientId.length > 256) {
    throw new ConfigError('SPAPI_AUTH_ADMIN_OIDC_CLIENT_ID', 'must be printable ASCII without spaces');
  }
  const clientSecret = r.raw('SPAPI_AUTH_ADMIN_OIDC_CLIENT_SECRET')!;
  if (!PRINTABLE.test(clientSecret) || clientSecret.length > 512) {
    throw new ConfigError('SPAPI_AUTH_ADMIN_OIDC_CLIENT_SECRET', 'must be printable ASCII without spaces');
  }
  return {
    // As written (trimmed): the provider's `issuer` must match it.
    adminOidcIssuer: issuerRaw,
    adminOidcClientId: clientId,
    adminOidcClientSecret: clientSecret,
    adminOidcAllowed: parseOidcAllowList(r.raw('SPAPI_AUTH_ADMIN_OIDC_ALLOWED')!),
    adminOidcRedirectUri: redirectUri,
  };
}

function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '127.0.0.1' || hostname === '[::1]';
}

/**
 * Parses `SPAPI_AUTH_ADMIN_OIDC_ALLOWED`: entries separated by commas or spaces, each an e-mail
 * (`alice@example.com`), a domain (`@example.com`) or a group (`group:admins`). An empty list is
 * only accepted when OIDC is off (`''` gives empty lists); a malformed entry throws.
 *
 * @example
 * parseOidcAllowList('alice@example.com, @corp.example, group:admins');
 * // { emails: ['alice@example.com'], domains: ['corp.example'], groups: ['admins'] }
 */
export function parseOidcAllowList(value: string): AdminOidcAllowList {
  const name = 'SPAPI_AUTH_ADMIN_OIDC_ALLOWED';
  const emails: string[] = [];
  const domains: string[] = [];
  const groups: string[] = [];
  const entries = value.split(/[\s,]+/).filter((e) => e !== '');
  const DOMAIN =
    /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;
  for (const entry of entries) {
    if (entry.startsWith('group:')) {
      const group = entry.slice('group:'.length);
      if (!/^[\x21-\x7e]{1,256}$/.test(group))
        throw new ConfigError(name, 'has an empty or malformed group: entry');
      groups.push(group);
      continue;
    }
    const lower = entry.toLowerCase();
    if (lower.startsWith('@')) {
      if (!DOMAIN.test(lower.slice(1))) throw new ConfigError(name, 'has a malformed @domain entry');
      domains.push(lower.slice(1));
      continue;
    }
    const at = lower.lastIndexOf('@');
    if (at < 1 || lower.length > 254 || !/^[\x21-\x7e]+$/.test(lower) || !DOMAIN.test(lower.slice(at + 1))) {
      throw new ConfigError(
        name,
        'entries must be e-mail addresses, @domains or group:<name>, separated by commas',
      );
    }
    emails.push(lower);
  }
  if (value.trim() !== '' && entries.length === 0) throw new ConfigError(name, 'lists nobody');
  return Object.freeze({
    emails: Object.freeze(emails),
    domains: Object.freeze(domains),
    groups: Object.freeze(groups),
  });
}

/** Rates: per API key, and of the proactive refresher (with its idle window, the hot set). */
/** Rates: per API key, per client address on the browser flows, the pending-flow cap, and the proactive refresher (with its idle window, the hot set). */
function readLimits(r: EnvReader) {
  return {
    keyRateLimit: r.integer('SPAPI_AUTH_KEY_RATE_LIMIT', 100, 0, 1_000_000),
    oauthRateLimit: r.integer('SPAPI_AUTH_OAUTH_RATE_LIMIT', DEFAULT_OAUTH_RATE_LIMIT, 0, 1_000_000),
    maxPendingFlows: r.integer('SPAPI_AUTH_MAX_PENDING_FLOWS', DEFAULT_MAX_PENDING_FLOWS, 100, 100_000_000),
    refreshRateLimit: r.integer('SPAPI_AUTH_REFRESH_RATE_LIMIT', DEFAULT_REFRESH_RATE_LIMIT, 0, 100_000),
    refreshIdleAfterS: r.integer(
      'SPAPI_AUTH_REFRESH_IDLE_AFTER',
      DEFAULT_REFRESH_IDLE_AFTER_S,
      0,
      31_536_000,
    ),
  };
}

/** What the store-only commands (`migrate`, `keys`) need: where the database is and, optionally, the key ring. */
export interface StoreConfig {
  readonly databaseUrl: string;
  readonly encryptionKeys: string | undefined;
}

/**
 * Reads only `DATABASE_URL` and `SPAPI_AUTH_ENCRYPTION_KEYS` (neither required), for commands that
 * touch the store but not Amazon.
 *
 * @example
 * const { databaseUrl } = loadStoreConfig(process.env);
 */
export function loadStoreConfig(env: Readonly<Record<string, string | undefined>>): StoreConfig {
  const databaseUrl = checkDatabaseUrl(env.DATABASE_URL?.trim() || DEFAULT_DATABASE_URL);
  const keys = env.SPAPI_AUTH_ENCRYPTION_KEYS?.replace(/\s+/g, '') || undefined;
  if (keys !== undefined && !KEY_RING.test(keys)) {
    throw new ConfigError('SPAPI_AUTH_ENCRYPTION_KEYS', 'must be kid1:<base64 of 32 bytes>[,kid2:…]');
  }
  return Object.freeze({ databaseUrl, encryptionKeys: keys });
}

/**
 * A copy of the config with every secret replaced by `[redacted]` (or `undefined` kept as is).
 *
 * @example
 * JSON.stringify(redactConfig(config)); // no secret in it
 */
export function redactConfig(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) {
    out[k] = SECRET_FIELDS.has(k as keyof Config) && v !== undefined ? '[redacted]' : v;
  }
  return out;
}

/**
 * Deletes the secret variables from an environment object after start-up, so that child processes
 * and error reporters do not inherit them. (`/proc/<pid>/environ` still shows the initial values.)
 *
 * @example
 * const config = loadConfig(process.env, { mode: 'serve' });
 * scrubSecretsFromEnv(process.env);
 */
export function scrubSecretsFromEnv(env: Record<string, string | undefined>): void {
  for (const name of SECRET_VARIABLES) {
    delete env[name];
    delete env[`${name}_FILE`];
  }
}

function integer(v: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  if (!/^\d{1,9}$/.test(v)) throw new ConfigError(name, `must be a whole number from ${min} to ${max}`);
  const n = Number(v);
  if (n < min || n > max) throw new ConfigError(name, `must be a whole number from ${min} to ${max}`);
  return n;
}

function freezeRedacted(config: Config): Config {
  Object.defineProperty(config, 'toJSON', { value: () => redactConfig(config), enumerable: false });
  Object.defineProperty(config, inspect.custom, {
    value: () => `Config ${inspect(redactConfig(config))}`,
    enumerable: false,
  });
  return Object.freeze(config);
}

/** The crash points the test-only fault hook knows (docs/security.md T-E3…T-E5). */
export const FAULT_POINTS: readonly string[] = Object.freeze([
  'after_lwa_code_response',
  'after_lease',
  'after_lwa_refresh_response',
  'before_cas',
  'after_cas',
]);

function faultPointOf(env: Readonly<Record<string, string | undefined>>): { faultPoint?: string } {
  const point = env.SPAPI_AUTH_FAULT_POINT;
  if (point === undefined || point === '') return {};
  if (env.NODE_ENV === 'production') {
    throw new ConfigError('SPAPI_AUTH_FAULT_POINT', 'is a test hook and is refused when NODE_ENV=production');
  }
  if (!FAULT_POINTS.includes(point)) {
    throw new ConfigError('SPAPI_AUTH_FAULT_POINT', `must be one of ${FAULT_POINTS.join(', ')}`);
  }
  return { faultPoint: point };
}
