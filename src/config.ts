/**
 * The only module that reads the environment. It maps the documented variables (docs/deployment.md,
 * "2. Configuration") to one frozen, validated {@link Config}. Every group of settings declares its
 * variables beside its reader (a reader can read only what its group declares), and every problem
 * of every group is collected and thrown as one {@link ConfigError}: one run names every mistake,
 * each with the variable, the value's shape and the rule, never the value. The config object
 * redacts its secrets when inspected or serialised, so a crash report or a debug dump cannot leak
 * them.
 *
 * Adding a setting: a line in its group's `…_VARIABLES` table (`{ secret: true }` for a secret),
 * its read in that group's reader, and its field in {@link Config}.
 */
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { parseTrustedProxies } from './common/ip-networks.js';
import { LOOPBACK_HOSTS, isLoopbackHost } from './core/loopback.js';
import {
  closestName,
  effectiveOf,
  envReader,
  shapeOf,
  type ConfigProblem,
  type EffectiveSetting,
  type EnvReader,
  type Variables,
} from './common/env-reader.js';
import { isVisibleAscii } from './core/printable.js';
import { CLIENT_SECRET_MAX_LENGTH, isClientSecretShape } from './core/lwa.js';

export type { ConfigProblem, EffectiveSetting } from './common/env-reader.js';

/** `dev` runs with the embedded emulator and generated defaults; `serve` is production. */
export type Mode = 'dev' | 'serve';

/** Where a person reads what each variable means: every configuration message points here. */
export const CONFIGURATION_DOCS = 'docs/deployment.md, "2. Configuration"';

/**
 * A configuration problem, or several found in one read. `variable` names the variable at fault
 * (several joined by `, `), `problems` lists each with the value's shape and the rule.
 *
 * @example
 * try { loadConfig(process.env, { mode: 'serve' }); } catch (e) { if (e instanceof ConfigError) console.error(e.message); }
 */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly code = 'invalid_config';
  /** Every variable at fault, each once. */
  readonly variables: readonly string[];
  /** Every problem found, in the order the groups were read. */
  readonly problems: readonly ConfigProblem[];
  /** What was read, secrets redacted (for `doctor`); empty when the error was made directly. */
  readonly effective: readonly EffectiveSetting[];
  constructor(
    readonly variable: string,
    problem: string,
    variables: readonly string[] = [variable],
    found?: { readonly problems: readonly ConfigProblem[]; readonly effective: readonly EffectiveSetting[] },
  ) {
    const problems = found?.problems ?? [{ variable, shape: undefined, rule: problem }];
    super(messageOf(problems));
    this.variables = Object.freeze([...variables]);
    this.problems = Object.freeze([...problems]);
    this.effective = found?.effective ?? Object.freeze([]);
  }

  /**
   * One error for every problem of a read: `VAR (shape): rule`, one per line when several.
   *
   * @example
   * throw ConfigError.of([{ variable: 'PORT', shape: '3 characters: lower-case letters', rule: 'must be a whole number from 0 to 65535' }]);
   */
  static of(problems: readonly ConfigProblem[], effective: readonly EffectiveSetting[] = []): ConfigError {
    const variables = [...new Set(problems.flatMap((p) => p.variable.split(', ')))];
    return new ConfigError(variables.join(', '), '', variables, { problems, effective });
  }
}

function messageOf(problems: readonly ConfigProblem[]): string {
  const line = (p: ConfigProblem): string =>
    `${p.variable}${p.shape === undefined ? '' : ` (${p.shape})`}: ${p.rule}`;
  if (problems.length === 1) return line(problems[0]!);
  return `${problems.length} configuration problems:\n${problems.map((p) => `  - ${line(p)}`).join('\n')}`;
}

const SECRET = { secret: true } as const satisfies Variables[string];
const PLAIN = {} as const satisfies Variables[string];

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
  /**
   * What shows that a grant for a stored seller is the same Amazon account
   * (`SPAPI_AUTH_REAUTHORIZE_EVIDENCE`): `profile` (store name and participating marketplaces), or
   * `store_name` only. See `src/server/domain/ownership.ts`.
   */
  readonly reauthorizeEvidence: ReauthorizeEvidence;
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
  /**
   * The SQS queue Amazon delivers the app's notifications to (`SPAPI_AUTH_NOTIFICATIONS_QUEUE_URL`):
   * when set, the service consumes it itself and rotates the client secret unattended. Undefined:
   * notifications arrive only through `POST /v1/notifications` or `secret accept`.
   */
  readonly notificationsQueueUrl: string | undefined;
  /** Days before the client secret's deadline the unattended rotation starts (`SPAPI_AUTH_ROTATE_BEFORE_DAYS`). */
  readonly rotateBeforeDays: number;
  /** Minutes to wait for the new secret's notification after a rotation request (`SPAPI_AUTH_ROTATION_WAIT_MINUTES`). */
  readonly rotationWaitMinutes: number;
  /** Non-fatal remarks to print at start-up (never containing a value). */
  readonly warnings: readonly string[];
  /** Every variable read and its value, secrets redacted (what `doctor` lists). */
  readonly effective: readonly EffectiveSetting[];
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

const DEFAULT_DATABASE_URL = 'sqlite:./data/spapi-auth.db';

// Shape only (kid:base64 of 32 bytes, standard or url alphabet); the storage layer decodes it.
const KEY_RING = /^[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/_-]{43}=?(?:,[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/_-]{43}=?)*$/;
const APPLICATION_ID = /^amzn1\.(?:sp\.solution|sellerapps\.app)\.[A-Za-z0-9-]{1,100}$/;
/** Amazon's LWA client ids: `amzn1.application-oa2-client.<hex>` (at most 100 bytes). */
const LWA_CLIENT_ID = /^amzn1\.application-oa2-client\.[A-Za-z0-9]{1,71}$/;
/** Amazon's LWA client secrets: `amzn1.oa2-cs.v1.<hex>`, or 64 hex digits for older apps. */
const LWA_CLIENT_SECRET = /^(?:amzn1\.oa2-cs\.v1\.[A-Za-z0-9]{1,200}|[0-9a-f]{64})$/;

/**
 * Reads and validates the configuration from an environment object. Each group of settings has
 * its own reader below (application, listening address, public URL, Amazon, storage, flows,
 * webhooks, operators, admin OIDC, limits, test hooks), with its variables declared beside it;
 * this function only composes them. Every problem of every group is thrown at once.
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
  const devApp = dev ? options.devDefaults : undefined;
  if (dev && !devApp) throw new TypeError('loadConfig: devDefaults is required in dev mode');
  const { reader: r, log } = envReader(env, VARIABLES, options.readFile ?? readUtf8, dev);
  if (env.NODE_TLS_REJECT_UNAUTHORIZED === '0' && !dev) {
    r.problem(
      'NODE_TLS_REJECT_UNAUTHORIZED',
      'TLS certificate checks are disabled; refusing to start outside dev',
    );
  }
  const warnings: string[] = [];
  // Against Amazon itself a value that cannot be Amazon's is refused; against an emulator, remarked.
  const towardsAmazon = !dev && r.raw('SPAPI_AUTH_AMAZON_URL') === undefined;
  const application = readApplication(r, devApp, towardsAmazon, warnings);
  const listen = readListen(r);
  const publicUrl = readPublicUrl(r, listen.port, warnings);
  const config: Config = {
    mode,
    ...application,
    ...publicUrl,
    ...readAmazon(r, warnings),
    ...readStorage(r, !dev),
    ...readFlows(r),
    ...readWebhooks(r),
    ...readOperators(r),
    ...readAdminOidc(r, publicUrl.publicUrl),
    ...readLimits(r),
    ...readRotation(r),
    ...listen,
    ...readTestHooks(r, env.NODE_ENV),
    warnings: Object.freeze([...warnings, ...unknownVariableWarnings(env)]),
    effective: effectiveOf(log),
  };
  if (log.problems.length > 0) throw ConfigError.of(mergeMissing(log.problems), effectiveOf(log));
  return freezeRedacted(config);
}

function readUtf8(path: string): string {
  return readFileSync(path, 'utf8');
}

/** Several required variables missing: one line naming them all (one run, one fix). */
function mergeMissing(problems: readonly ConfigProblem[]): readonly ConfigProblem[] {
  const missing = problems.filter((p) => p.rule === 'is required (serve)');
  if (missing.length < 2) return problems;
  const merged = {
    variable: missing.map((p) => p.variable).join(', '),
    shape: undefined,
    rule: 'are required (serve)',
  };
  const rest = problems.filter((p) => !missing.includes(p));
  return [merged, ...rest];
}

const APPLICATION_VARIABLES = {
  LWA_CLIENT_ID: PLAIN,
  LWA_CLIENT_SECRET: SECRET,
  LWA_CLIENT_SECRET_NEXT: SECRET,
  SPAPI_APPLICATION_ID: PLAIN,
} as const;

/**
 * The app's identity at Amazon: LWA credentials (with the next secret during a rotation) and the
 * SP-API application id. A client id or secret that cannot be Amazon's is refused when calls go
 * to Amazon (`towardsAmazon`), and remarked in dev and against an emulator, whose apps may use any.
 */
function readApplication(
  r: EnvReader<keyof typeof APPLICATION_VARIABLES>,
  devApp: DevDefaults | undefined,
  towardsAmazon: boolean,
  warnings: string[],
) {
  const printable = (name: keyof typeof APPLICATION_VARIABLES, value: string | undefined, max: number) => {
    const ok = value === undefined || value === '' || isVisibleAscii(value, max);
    if (!ok) r.problem(name, 'must be printable ASCII without spaces');
    return ok;
  };
  const lwaClientId = r.required('LWA_CLIENT_ID', devApp?.clientId);
  if (
    printable('LWA_CLIENT_ID', lwaClientId, 256) &&
    lwaClientId !== '' &&
    !LWA_CLIENT_ID.test(lwaClientId)
  ) {
    const rule = APPLICATION_ID.test(lwaClientId)
      ? 'is an SP-API application id, not the LWA client id (amzn1.application-oa2-client.…): are LWA_CLIENT_ID and SPAPI_APPLICATION_ID swapped?'
      : "is not an LWA client id: Amazon's have the form amzn1.application-oa2-client.<letters and digits> (the app's LWA credentials in Developer Central)";
    if (towardsAmazon) r.problem('LWA_CLIENT_ID', rule);
    else warnings.push(`LWA_CLIENT_ID (${shapeOf(lwaClientId)}) ${rule}`);
  }
  const lwaClientSecret = r.required('LWA_CLIENT_SECRET', devApp?.clientSecret);
  if (printable('LWA_CLIENT_SECRET', lwaClientSecret, CLIENT_SECRET_MAX_LENGTH) && lwaClientSecret !== '') {
    if (lwaClientSecret.startsWith('amzn1.application-oa2-client.')) {
      r.problem(
        'LWA_CLIENT_SECRET',
        'is an LWA client id (amzn1.application-oa2-client.…), not the client secret',
      );
    } else if (towardsAmazon && !LWA_CLIENT_SECRET.test(lwaClientSecret)) {
      warnings.push(
        `LWA_CLIENT_SECRET (${shapeOf(lwaClientSecret)}) does not have the form of an LWA client secret (amzn1.oa2-cs.v1.…): if Login with Amazon answers invalid_client, copy the app's current secret again`,
      );
    }
  }
  const lwaClientSecretNext = r.raw('LWA_CLIENT_SECRET_NEXT');
  printable('LWA_CLIENT_SECRET_NEXT', lwaClientSecretNext, CLIENT_SECRET_MAX_LENGTH);
  const applicationId = r.required('SPAPI_APPLICATION_ID', devApp?.applicationId);
  if (applicationId !== '' && !APPLICATION_ID.test(applicationId)) {
    r.problem(
      'SPAPI_APPLICATION_ID',
      LWA_CLIENT_ID.test(applicationId)
        ? 'is an LWA client id, not the SP-API application id (amzn1.sp.solution.… or amzn1.sellerapps.app.…): are LWA_CLIENT_ID and SPAPI_APPLICATION_ID swapped?'
        : 'must be an SP-API application id (amzn1.sp.solution.… or amzn1.sellerapps.app.…, shown under the app in Developer Central), not the LWA client id',
    );
  }
  return { lwaClientId, lwaClientSecret, lwaClientSecretNext, applicationId };
}

const LISTEN_VARIABLES = {
  PORT: PLAIN,
  HOST: PLAIN,
  SPAPI_AUTH_TRUSTED_PROXIES: PLAIN,
  SPAPI_AUTH_HEADERS_TIMEOUT: PLAIN,
  SPAPI_AUTH_REQUEST_TIMEOUT: PLAIN,
  SPAPI_AUTH_KEEP_ALIVE_TIMEOUT: PLAIN,
  SPAPI_AUTH_MAX_CONNECTIONS: PLAIN,
} as const;

/**
 * Where this process listens (`PORT`, `HOST`), which proxies in front of it are believed, and how
 * it treats its client connections: the header, request and keep-alive timeouts and the cap.
 */
function readListen(r: EnvReader<keyof typeof LISTEN_VARIABLES>) {
  const port = r.integer('PORT', 3000, 0, 65535);
  const host = r.text('HOST', '127.0.0.1');
  if (!/^[A-Za-z0-9.:[\]-]{1,255}$/.test(host)) r.problem('HOST', 'must be a host name or address');
  const trustedProxies = (r.raw('SPAPI_AUTH_TRUSTED_PROXIES') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  try {
    parseTrustedProxies(trustedProxies);
  } catch {
    r.problem(
      'SPAPI_AUTH_TRUSTED_PROXIES',
      'must list IP addresses or CIDR networks (e.g. 127.0.0.1,10.0.0.0/8,::1)',
    );
  }
  const headersTimeoutS = r.integer('SPAPI_AUTH_HEADERS_TIMEOUT', 10, 1, 3600);
  const requestTimeoutS = r.integer('SPAPI_AUTH_REQUEST_TIMEOUT', 30, 1, 3600);
  if (headersTimeoutS > requestTimeoutS) {
    r.problem('SPAPI_AUTH_HEADERS_TIMEOUT', 'must not be longer than SPAPI_AUTH_REQUEST_TIMEOUT');
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

const PUBLIC_URL_VARIABLES = { SPAPI_AUTH_PUBLIC_URL: PLAIN } as const;

/** The public URL and the URLs Amazon sends browsers back to, derived from it once. */
function readPublicUrl(r: EnvReader<keyof typeof PUBLIC_URL_VARIABLES>, port: number, warnings: string[]) {
  const name = 'SPAPI_AUTH_PUBLIC_URL';
  const publicUrlRaw = r.raw(name) ?? (r.dev ? `http://localhost:${port === 0 ? 3000 : port}` : undefined);
  const pub = publicUrlRaw === undefined ? undefined : r.origin(name, publicUrlRaw);
  if (publicUrlRaw === undefined) r.problem(name, 'is required (serve)');
  if (pub === undefined) return publicUrlsOf('http://localhost', false); // a problem is recorded
  // A path prefix (`https://example.com/auth`) when a proxy mounts the service below the root and
  // strips the prefix: every URL the service sends starts with it; the routes do not.
  const prefix = pub.pathname.replace(/\/+$/, '');
  if (prefix !== '' && !/^(\/[A-Za-z0-9._~-]+)+$/.test(prefix))
    r.problem(name, 'must be an origin, optionally with a plain path prefix');
  if (pub.protocol === 'http:' && !isLoopbackHost(pub.hostname)) {
    r.problem(name, `must be https (http only on ${LOOPBACK_HOSTS})`);
  } else if (pub.protocol === 'http:' && !r.dev) {
    warnings.push(
      'SPAPI_AUTH_PUBLIC_URL is plain http: for local testing only (the binding cookie is not Secure)',
    );
  }
  return publicUrlsOf(pub.origin + prefix, pub.protocol === 'https:');
}

function publicUrlsOf(publicUrl: string, secureCookies: boolean) {
  return {
    publicUrl,
    redirectUri: `${publicUrl}/oauth/callback`,
    loginUri: `${publicUrl}/oauth/login`,
    secureCookies,
  };
}

const AMAZON_VARIABLES = { SPAPI_AUTH_AMAZON_URL: PLAIN, SPAPI_AUTH_SANDBOX: PLAIN } as const;

/** `SPAPI_AUTH_AMAZON_URL`: one origin (an emulator) standing in for every Amazon host, and the sandbox switch. */
function readAmazon(r: EnvReader<keyof typeof AMAZON_VARIABLES>, warnings: string[]) {
  const name = 'SPAPI_AUTH_AMAZON_URL';
  const amazonRaw = r.raw(name);
  const a = amazonRaw === undefined ? undefined : r.origin(name, amazonRaw);
  let amazonUrl: string | undefined;
  if (a !== undefined && a.pathname !== '/') {
    r.problem(name, 'must be an origin without a path');
  } else if (a !== undefined && a.protocol === 'http:' && !isLoopbackHost(a.hostname)) {
    // The core accepts a plain-http emulator only on loopback (a redirect target for browsers).
    r.problem(name, `must be https, or http on ${LOOPBACK_HOSTS}`);
  } else if (a !== undefined) {
    amazonUrl = a.origin;
    warnings.push(
      'SPAPI_AUTH_AMAZON_URL is set: every Amazon call goes to that origin (an emulator), not to Amazon',
    );
  }
  return { amazonUrl, sandbox: r.bool('SPAPI_AUTH_SANDBOX', false) };
}

const STORAGE_VARIABLES = {
  DATABASE_URL: { secret: true, show: databaseUrlShown },
  SPAPI_AUTH_ENCRYPTION_KEYS: { secret: true, show: keyRingShown },
} as const;

/** The database and the key ring that encrypts what it holds (`keysRequired`: serve). */
function readStorage(r: EnvReader<keyof typeof STORAGE_VARIABLES>, keysRequired: boolean) {
  const databaseUrl = r.text('DATABASE_URL', DEFAULT_DATABASE_URL);
  const urlRule = databaseUrlRule(databaseUrl);
  if (urlRule !== undefined) r.problem('DATABASE_URL', urlRule);
  const encryptionKeys = r.raw('SPAPI_AUTH_ENCRYPTION_KEYS')?.replace(/\s+/g, '');
  if (encryptionKeys === undefined) {
    if (keysRequired) r.problem('SPAPI_AUTH_ENCRYPTION_KEYS', 'is required (serve)');
  } else if (!KEY_RING.test(encryptionKeys)) {
    r.problem('SPAPI_AUTH_ENCRYPTION_KEYS', 'must be kid1:<base64 of 32 bytes>[,kid2:…]');
  }
  return { databaseUrl, encryptionKeys };
}

/**
 * Checks the shape of `DATABASE_URL`. `sqlite://./data/x.db` is refused: read as a URL its path is
 * `/data/x.db` at the filesystem root, never what the writer meant; `sqlite:<path>` is the form.
 */
function databaseUrlRule(url: string): string | undefined {
  if (url.startsWith('sqlite://')) {
    return 'sqlite:// is not accepted (it would put the file at the filesystem root): write sqlite:<path>, e.g. sqlite:./data/spapi-auth.db or sqlite:/var/lib/spapi-auth/db.sqlite';
  }
  if (!/^(sqlite:.+|postgres(ql)?:\/\/.+|memory:)$/.test(url)) return 'must be sqlite:<path> or postgres://…';
  return undefined;
}

/** `DATABASE_URL` as `doctor` shows it: a SQLite path as it is, a PostgreSQL URL without password or query. */
function databaseUrlShown(url: string): string {
  if (!/^postgres(ql)?:\/\//.test(url))
    return url.startsWith('sqlite:') || url === 'memory:' ? url : '[redacted]';
  try {
    const u = new URL(url);
    const user = u.username === '' ? '' : `${u.username}${u.password === '' ? '' : ':[redacted]'}@`;
    return `${u.protocol}//${user}${u.host}${u.pathname}${u.search === '' ? '' : '?[redacted]'}`;
  } catch {
    return '[redacted]';
  }
}

/** The key ring as `doctor` shows it: its key ids, never a key. */
function keyRingShown(value: string): string {
  const ring = value.replace(/\s+/g, '');
  if (!KEY_RING.test(ring)) return '[redacted]';
  return `key ids ${ring
    .split(',')
    .map((e) => e.split(':')[0])
    .join(', ')} (keys redacted)`;
}

const FLOW_VARIABLES = {
  SPAPI_AUTH_RETURN_ORIGINS: PLAIN,
  SPAPI_AUTH_SIGNIN_URL: PLAIN,
  SPAPI_AUTH_DRAFT_APP: PLAIN,
  SPAPI_AUTH_PKCE: PLAIN,
  SPAPI_AUTH_ALLOW_RELINK: PLAIN,
  SPAPI_AUTH_REAUTHORIZE_EVIDENCE: PLAIN,
} as const;

/** The values of `SPAPI_AUTH_REAUTHORIZE_EVIDENCE` (see `src/server/domain/ownership.ts`). */
export const REAUTHORIZE_EVIDENCE = Object.freeze(['profile', 'store_name'] as const);
export type ReauthorizeEvidence = (typeof REAUTHORIZE_EVIDENCE)[number];

/** How the consent flows behave: where browsers may return to, the Appstore sign-in hop, PKCE, draft apps. */
function readFlows(r: EnvReader<keyof typeof FLOW_VARIABLES>) {
  const returnOrigins: string[] = [];
  for (const entry of (r.raw('SPAPI_AUTH_RETURN_ORIGINS') ?? '').split(',')) {
    if (entry.trim() === '') continue;
    const u = r.origin('SPAPI_AUTH_RETURN_ORIGINS', entry.trim());
    if (u !== undefined && u.pathname !== '/') {
      r.problem('SPAPI_AUTH_RETURN_ORIGINS', 'must list origins without paths');
    } else if (u !== undefined) {
      returnOrigins.push(u.origin);
    }
  }
  const signinRaw = r.raw('SPAPI_AUTH_SIGNIN_URL');
  return {
    returnOrigins: Object.freeze(returnOrigins),
    signinUrl: signinRaw === undefined ? undefined : r.origin('SPAPI_AUTH_SIGNIN_URL', signinRaw)?.href,
    draftApp: r.bool('SPAPI_AUTH_DRAFT_APP', false),
    pkce: r.bool('SPAPI_AUTH_PKCE', false),
    allowRelink: r.bool('SPAPI_AUTH_ALLOW_RELINK', false),
    reauthorizeEvidence: reauthorizeEvidenceOf(r),
  };
}

function reauthorizeEvidenceOf(r: EnvReader<keyof typeof FLOW_VARIABLES>): ReauthorizeEvidence {
  const value = r.raw('SPAPI_AUTH_REAUTHORIZE_EVIDENCE') ?? 'profile';
  if ((REAUTHORIZE_EVIDENCE as readonly string[]).includes(value)) return value as ReauthorizeEvidence;
  r.problem('SPAPI_AUTH_REAUTHORIZE_EVIDENCE', `must be one of ${REAUTHORIZE_EVIDENCE.join(', ')}`);
  return 'profile';
}

const WEBHOOK_VARIABLES = {
  SPAPI_AUTH_WEBHOOK_URL: PLAIN,
  SPAPI_AUTH_WEBHOOK_SECRET: SECRET,
  SPAPI_AUTH_WEBHOOK_SECRET_PREVIOUS: SECRET,
} as const;

/** Where seller events are delivered, and the secret that signs them. */
function readWebhooks(r: EnvReader<keyof typeof WEBHOOK_VARIABLES>) {
  const webhookRaw = r.raw('SPAPI_AUTH_WEBHOOK_URL');
  const webhookUrl =
    webhookRaw === undefined ? undefined : r.origin('SPAPI_AUTH_WEBHOOK_URL', webhookRaw)?.href;
  const webhookSecret = r.raw('SPAPI_AUTH_WEBHOOK_SECRET');
  if (webhookRaw !== undefined && webhookSecret === undefined) {
    r.problem('SPAPI_AUTH_WEBHOOK_SECRET', 'is required when SPAPI_AUTH_WEBHOOK_URL is set');
  }
  // The secret being rotated out: signed with as well until the operator removes it.
  const webhookSecretPrevious = r.raw('SPAPI_AUTH_WEBHOOK_SECRET_PREVIOUS');
  if (webhookSecretPrevious !== undefined && webhookSecret === undefined) {
    r.problem(
      'SPAPI_AUTH_WEBHOOK_SECRET_PREVIOUS',
      'needs SPAPI_AUTH_WEBHOOK_SECRET (the new secret) beside it',
    );
  } else if (webhookSecretPrevious !== undefined && webhookSecretPrevious === webhookSecret) {
    r.problem('SPAPI_AUTH_WEBHOOK_SECRET_PREVIOUS', 'is the same as SPAPI_AUTH_WEBHOOK_SECRET');
  }
  return { webhookUrl, webhookSecret, webhookSecretPrevious };
}

const OPERATOR_VARIABLES = {
  SPAPI_AUTH_ADMIN_PASSWORD: SECRET,
  SPAPI_AUTH_METRICS_TOKEN: SECRET,
  SPAPI_AUTH_METRICS_RUNTIME: PLAIN,
} as const;

/** What operators sign in and scrape with: the admin password and the `/metrics` settings. */
function readOperators(r: EnvReader<keyof typeof OPERATOR_VARIABLES>) {
  const adminPassword = r.raw('SPAPI_AUTH_ADMIN_PASSWORD');
  if (adminPassword !== undefined && adminPassword.length < 12) {
    r.problem('SPAPI_AUTH_ADMIN_PASSWORD', 'must be at least 12 characters');
  }
  const metricsToken = r.raw('SPAPI_AUTH_METRICS_TOKEN');
  if (metricsToken !== undefined && !isVisibleAscii(metricsToken, 256, 16)) {
    r.problem('SPAPI_AUTH_METRICS_TOKEN', 'must be 16 to 256 printable characters');
  }
  return { adminPassword, metricsToken, metricsRuntime: r.bool('SPAPI_AUTH_METRICS_RUNTIME', true) };
}

const ADMIN_OIDC_VARIABLES = {
  SPAPI_AUTH_ADMIN_OIDC_ISSUER: PLAIN,
  SPAPI_AUTH_ADMIN_OIDC_CLIENT_ID: PLAIN,
  SPAPI_AUTH_ADMIN_OIDC_CLIENT_SECRET: SECRET,
  SPAPI_AUTH_ADMIN_OIDC_ALLOWED: PLAIN,
} as const;

/**
 * Admin sign-in with an OpenID provider: all four variables or none. The issuer must be https
 * (plain http only on a loopback host, `core/loopback.ts`, for tests against a local provider).
 */
function readAdminOidc(r: EnvReader<keyof typeof ADMIN_OIDC_VARIABLES>, publicUrl: string) {
  const names = Object.keys(ADMIN_OIDC_VARIABLES) as (keyof typeof ADMIN_OIDC_VARIABLES)[];
  const off = {
    adminOidcIssuer: undefined,
    adminOidcClientId: undefined,
    adminOidcClientSecret: undefined,
    adminOidcAllowed: parseOidcAllowList(''),
    adminOidcRedirectUri: `${publicUrl}/admin/oidc/callback`,
  };
  const set = names.filter((name) => r.raw(name) !== undefined);
  if (set.length === 0) return off;
  const missing = names.filter((name) => r.raw(name) === undefined);
  if (missing.length > 0) {
    r.problem(missing.join(', '), `${missing.length > 1 ? 'are' : 'is'} required when ${set[0]} is set`);
    return off;
  }
  const issuerRaw = r.raw('SPAPI_AUTH_ADMIN_OIDC_ISSUER')!;
  const issuer = r.origin('SPAPI_AUTH_ADMIN_OIDC_ISSUER', issuerRaw);
  if (issuer !== undefined && issuer.protocol === 'http:' && !isLoopbackHost(issuer.hostname)) {
    r.problem(
      'SPAPI_AUTH_ADMIN_OIDC_ISSUER',
      `must be https (plain http only on ${LOOPBACK_HOSTS}, for a local test provider)`,
    );
  }
  const clientId = r.raw('SPAPI_AUTH_ADMIN_OIDC_CLIENT_ID')!;
  if (!isVisibleAscii(clientId, 256)) {
    r.problem('SPAPI_AUTH_ADMIN_OIDC_CLIENT_ID', 'must be printable ASCII without spaces');
  }
  const clientSecret = r.raw('SPAPI_AUTH_ADMIN_OIDC_CLIENT_SECRET')!;
  if (!isClientSecretShape(clientSecret)) {
    r.problem('SPAPI_AUTH_ADMIN_OIDC_CLIENT_SECRET', 'must be printable ASCII without spaces');
  }
  let allowed = off.adminOidcAllowed;
  try {
    allowed = parseOidcAllowList(r.raw('SPAPI_AUTH_ADMIN_OIDC_ALLOWED')!);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const p of err.problems) r.problem(p.variable, p.rule);
  }
  return {
    ...off,
    // As written (trimmed): the provider's `issuer` must match it.
    adminOidcIssuer: issuerRaw,
    adminOidcClientId: clientId,
    adminOidcClientSecret: clientSecret,
    adminOidcAllowed: allowed,
  };
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
      if (!isVisibleAscii(group, 256)) throw new ConfigError(name, 'has an empty or malformed group: entry');
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
    if (at < 1 || !isVisibleAscii(lower, 254) || !DOMAIN.test(lower.slice(at + 1))) {
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

const LIMIT_VARIABLES = {
  SPAPI_AUTH_KEY_RATE_LIMIT: PLAIN,
  SPAPI_AUTH_OAUTH_RATE_LIMIT: PLAIN,
  SPAPI_AUTH_MAX_PENDING_FLOWS: PLAIN,
  SPAPI_AUTH_REFRESH_RATE_LIMIT: PLAIN,
  SPAPI_AUTH_REFRESH_IDLE_AFTER: PLAIN,
} as const;

/** Rates: per API key, per client address on the browser flows, the pending-flow cap, and the proactive refresher (with its idle window, the hot set). */
function readLimits(r: EnvReader<keyof typeof LIMIT_VARIABLES>) {
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

const ROTATION_VARIABLES = {
  SPAPI_AUTH_NOTIFICATIONS_QUEUE_URL: PLAIN,
  SPAPI_AUTH_ROTATE_BEFORE_DAYS: PLAIN,
  SPAPI_AUTH_ROTATION_WAIT_MINUTES: PLAIN,
} as const;

/**
 * Default of `SPAPI_AUTH_ROTATE_BEFORE_DAYS`: Amazon's own rotation sample starts a week before
 * the deadline, which leaves the seven days the old secret stays valid to spare.
 */
export const DEFAULT_ROTATE_BEFORE_DAYS = 7;

/** Unattended client-secret rotation: the notification queue, how early to rotate, how long to wait for the secret. */
function readRotation(r: EnvReader<keyof typeof ROTATION_VARIABLES>) {
  const name = 'SPAPI_AUTH_NOTIFICATIONS_QUEUE_URL';
  const raw = r.raw(name);
  let notificationsQueueUrl: string | undefined;
  const u = raw === undefined ? undefined : r.origin(name, raw);
  if (u !== undefined) {
    if (u.protocol !== 'https:' && !isLoopbackHost(u.hostname)) {
      r.problem(name, `must be https (http only on ${LOOPBACK_HOSTS})`);
    } else if (!/^\/[^/]+\/[^/]+$/.test(u.pathname)) {
      r.problem(name, 'must be an SQS queue URL: https://sqs.<region>.amazonaws.com/<account>/<queue>');
    } else {
      notificationsQueueUrl = u.href;
    }
  }
  return {
    notificationsQueueUrl,
    rotateBeforeDays: r.integer('SPAPI_AUTH_ROTATE_BEFORE_DAYS', DEFAULT_ROTATE_BEFORE_DAYS, 1, 90),
    rotationWaitMinutes: r.integer('SPAPI_AUTH_ROTATION_WAIT_MINUTES', 60, 1, 1440),
  };
}

const TEST_HOOK_VARIABLES = { SPAPI_AUTH_FAULT_POINT: PLAIN } as const;

/** The crash points the test-only fault hook knows (docs/security.md T-E3…T-E5). */
export const FAULT_POINTS: readonly string[] = Object.freeze([
  'after_lwa_code_response',
  'after_lease',
  'after_lwa_refresh_response',
  'before_cas',
  'after_cas',
  'after_new_secret_saved',
]);

/** The test-only fault hook (`SPAPI_AUTH_FAULT_POINT`), refused when `NODE_ENV=production`. */
function readTestHooks(
  r: EnvReader<keyof typeof TEST_HOOK_VARIABLES>,
  nodeEnv: string | undefined,
): { faultPoint?: string } {
  const point = r.raw('SPAPI_AUTH_FAULT_POINT');
  if (point === undefined) return {};
  if (nodeEnv === 'production') {
    r.problem('SPAPI_AUTH_FAULT_POINT', 'is a test hook and is refused when NODE_ENV=production');
  } else if (!FAULT_POINTS.includes(point)) {
    r.problem('SPAPI_AUTH_FAULT_POINT', `must be one of ${FAULT_POINTS.join(', ')}`);
  }
  return { faultPoint: point };
}

/** Variables other parts read themselves: known, so that setting them draws no warning. */
const READ_ELSEWHERE = {
  /** `sellers export` / `sellers import`: the passphrase of a transfer file. */
  SPAPI_AUTH_TRANSFER_PASSPHRASE: SECRET,
  /** The examples' client scripts: an API key of the token API. */
  SPAPI_AUTH_KEY: SECRET,
  /** The test suites: a PostgreSQL server to run against. */
  SPAPI_AUTH_TEST_PG_URL: SECRET,
} as const;

/** Every variable the configuration reads, group by group. */
const VARIABLES = {
  ...APPLICATION_VARIABLES,
  ...LISTEN_VARIABLES,
  ...PUBLIC_URL_VARIABLES,
  ...AMAZON_VARIABLES,
  ...STORAGE_VARIABLES,
  ...FLOW_VARIABLES,
  ...WEBHOOK_VARIABLES,
  ...OPERATOR_VARIABLES,
  ...ADMIN_OIDC_VARIABLES,
  ...LIMIT_VARIABLES,
  ...ROTATION_VARIABLES,
  ...TEST_HOOK_VARIABLES,
} as const satisfies Variables;

const KNOWN_VARIABLES: readonly string[] = Object.freeze(
  [...Object.keys(VARIABLES), ...Object.keys(READ_ELSEWHERE)].flatMap((name) => [name, `${name}_FILE`]),
);

/**
 * Variables that hold secrets; {@link scrubSecretsFromEnv} deletes them after start-up.
 *
 * @example
 * SECRET_VARIABLES.includes('LWA_CLIENT_SECRET'); // true
 */
export const SECRET_VARIABLES: readonly string[] = Object.freeze(
  Object.entries({ ...VARIABLES, ...READ_ELSEWHERE })
    .filter(([, spec]) => 'secret' in spec && spec.secret)
    .map(([name]) => name),
);

/** A `SPAPI_AUTH_*` variable nobody reads is likely misspelt: named, with the closest known name. */
function unknownVariableWarnings(env: Readonly<Record<string, string | undefined>>): string[] {
  const warnings: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('SPAPI_AUTH_') || KNOWN_VARIABLES.includes(name)) continue;
    const near = closestName(name, KNOWN_VARIABLES);
    warnings.push(
      `${name} is not a setting of spapi-auth and is ignored${near === undefined ? '' : `: did you mean ${near}?`} (${CONFIGURATION_DOCS})`,
    );
  }
  return warnings;
}

/** What the store-only commands (`migrate`, `keys`) need: where the database is and, optionally, the key ring. */
export interface StoreConfig {
  readonly databaseUrl: string;
  readonly encryptionKeys: string | undefined;
}

/**
 * Reads only `DATABASE_URL` and `SPAPI_AUTH_ENCRYPTION_KEYS` (neither required; both may come
 * from `NAME_FILE`), for commands that touch the store but not Amazon.
 *
 * @example
 * const { databaseUrl } = loadStoreConfig(process.env);
 */
export function loadStoreConfig(
  env: Readonly<Record<string, string | undefined>>,
  readFile: (path: string) => string = readUtf8,
): StoreConfig {
  const { reader, log } = envReader(env, STORAGE_VARIABLES, readFile, false);
  const storage = readStorage(reader, false);
  if (log.problems.length > 0) throw ConfigError.of(log.problems, effectiveOf(log));
  return Object.freeze(storage);
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

function freezeRedacted(config: Config): Config {
  Object.defineProperty(config, 'toJSON', { value: () => redactConfig(config), enumerable: false });
  Object.defineProperty(config, inspect.custom, {
    value: () => `Config ${inspect(redactConfig(config))}`,
    enumerable: false,
  });
  return Object.freeze(config);
}
