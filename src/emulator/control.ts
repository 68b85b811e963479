// The control API under /__emulator/ (not Amazon's): counters, reset, faults, clock, revocation,
// consent mode, notifications, application registration; and a typed client for it.
import { parseFault, type FaultSpec } from './faults.js';
import { BadRequest, json, parseJsonObject, readText } from './http.js';
import type { EmulatorNotification, EmulatorState, EmulatorStats } from './state.js';
import { queueUrl } from './sqs.js';
import { AMAZON_CONSENT_HOSTS } from '../core/marketplaces.js';
import type { AppstoreCallbackHost, ConsentMode, EmulatorApplication } from './types.js';

/**
 * The path prefix of the control API.
 *
 * @example
 * ```ts
 * await fetch(`${url}${CONTROL_PREFIX}stats`);
 * ```
 */
export const CONTROL_PREFIX = '/__emulator/';

/** SQS's rule for a standard queue's name. */
const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}$/;

const MAX_CONTROL_BODY = 16 * 1024 * 1024; // faults may carry large garbage or gzip bodies

function controlError(status: number, code: string, message: string): Response {
  return json(status, { error: { code, message } }, { 'cache-control': 'no-store' });
}

function str(obj: Record<string, unknown>, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = obj[n];
    if (v === undefined) continue;
    if (typeof v !== 'string') throw new BadRequest(400, 'invalid_application', `${n} must be a string`);
    return v;
  }
  return undefined;
}

function strings(obj: Record<string, unknown>, ...names: string[]): string[] | undefined {
  for (const n of names) {
    const v = obj[n];
    if (v === undefined) continue;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
      throw new BadRequest(400, 'invalid_application', `${n} must be an array of strings`);
    }
    return v as string[];
  }
  return undefined;
}

function absoluteUrl(value: string, name: string): string {
  try {
    const u = new URL(value);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
  } catch {
    throw new BadRequest(400, 'invalid_application', `${name} must be an absolute http(s) URL`);
  }
  return value;
}

/**
 * Validates an application given as JSON, in camelCase (`clientId`) or wire snake_case (`client_id`).
 * Used by `POST /__emulator/applications` and `spapi-auth emulator --config`.
 *
 * @example
 * ```ts
 * parseApplication({ id: 'amzn1.sp.solution.x', name: 'My app', client_id: 'amzn1.application-oa2-client.x',
 *   client_secret: 's', redirect_uris: ['https://app.example/cb'] });
 * ```
 */
export function parseApplication(obj: Record<string, unknown>): EmulatorApplication {
  const id = str(obj, 'id', 'application_id', 'applicationId');
  const clientId = str(obj, 'clientId', 'client_id');
  const clientSecret = str(obj, 'clientSecret', 'client_secret');
  const clientSecrets = strings(obj, 'clientSecrets', 'client_secrets');
  const redirectUris = strings(obj, 'redirectUris', 'redirect_uris') ?? [];
  const loginUri = str(obj, 'loginUri', 'login_uri');
  const name = str(obj, 'name') ?? id;
  const draft = obj.draft;
  const queue = 'notificationQueue' in obj ? obj.notificationQueue : obj.notification_queue;
  const secretExpiry = str(obj, 'clientSecretExpiresAt', 'client_secret_expires_at');
  if (secretExpiry !== undefined && Number.isNaN(Date.parse(secretExpiry)))
    throw new BadRequest(400, 'invalid_application', 'client_secret_expires_at must be an ISO 8601 date');
  if (id === undefined || id === '') throw new BadRequest(400, 'invalid_application', 'id is required');
  if (clientId === undefined || clientId === '')
    throw new BadRequest(400, 'invalid_application', 'client_id is required');
  if (clientSecret === undefined && (clientSecrets === undefined || clientSecrets.length === 0)) {
    throw new BadRequest(400, 'invalid_application', 'client_secret is required');
  }
  if (draft !== undefined && typeof draft !== 'boolean')
    throw new BadRequest(400, 'invalid_application', 'draft must be a boolean');
  if (queue !== undefined && queue !== null && (typeof queue !== 'string' || !QUEUE_NAME.test(queue)))
    throw new BadRequest(
      400,
      'invalid_application',
      'notification_queue must be an SQS queue name (1-80 letters, digits, - or _) or null (not enrolled)',
    );
  redirectUris.forEach((u) => absoluteUrl(u, 'redirect_uris'));
  if (loginUri !== undefined) absoluteUrl(loginUri, 'login_uri');
  return {
    id,
    name: name ?? id,
    clientId,
    ...(clientSecret === undefined ? {} : { clientSecret }),
    ...(clientSecrets === undefined ? {} : { clientSecrets }),
    redirectUris,
    ...(loginUri === undefined ? {} : { loginUri }),
    draft: draft ?? false,
    ...(queue === undefined ? {} : { notificationQueue: queue as string | null }),
    ...(secretExpiry === undefined ? {} : { clientSecretExpiresAt: new Date(secretExpiry).toISOString() }),
  };
}

const ROUTES = {
  'GET stats':
    'counters: token calls by grant type and outcome, SP-API calls by path and status, consent, per seller',
  'POST reset': 'forget everything (tokens, codes, faults, counters, clock, notifications) and reseed',
  'GET faults': 'the queued faults',
  'POST faults':
    '{ target, status?, body?, body_base64?, headers?, delay_ms?, hang?, reset?, trickle_ms?, endless?, count?, grant_type?, path? }',
  'DELETE faults': 'clear the queued faults',
  'GET clock': 'the emulator time and its offset',
  'POST clock': '{ offset_s } sets the offset from the real clock; { advance_s } adds to it',
  'POST revoke':
    '{ selling_partner_id, client_id? } revokes the partner’s refresh tokens (and their access tokens)',
  'GET consent': 'the consent mode',
  'POST consent': '{ mode: "auto" | "page", selling_partner_id? }',
  'GET appstore': 'the host the Appstore hop puts in amazon_callback_uri',
  'POST appstore':
    '{ callback_host: "<one of Amazon\'s consent hosts, e.g. amazon.com>" | "relative" | null } (null: the emulator\'s own origin)',
  'GET notifications': 'notifications queued for the app (APPLICATION_OAUTH_CLIENT_NEW_SECRET, …)',
  'DELETE notifications': 'clear them, and the messages in every notification queue',
  'GET queues': 'the SQS notification queues: URL, messages, in flight, the applications enrolled with each',
  'POST notifications/secret-expiry':
    '{ client_id?, expiry_time?, reason? } queues APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY',
  'GET applications': 'registered applications (no secrets)',
  'POST applications':
    '{ id, name?, client_id, client_secret, redirect_uris, login_uri?, draft?, notification_queue?, client_secret_expires_at? } registers or replaces one',
} as const;

async function body(request: Request): Promise<Record<string, unknown>> {
  const text = await readText(request, MAX_CONTROL_BODY);
  return text.trim() === '' ? {} : parseJsonObject(text);
}

/** Answers one control API request (`path` is what follows `/__emulator/`). */
export async function handleControl(request: Request, path: string, state: EmulatorState): Promise<Response> {
  const key = `${request.method} ${path}`;
  try {
    switch (key) {
      case 'GET ':
        return json(200, { routes: ROUTES });
      case 'GET stats':
        return json(200, state.stats, { 'cache-control': 'no-store' });
      case 'POST reset':
        state.reset();
        return json(200, { ok: true });
      case 'GET faults':
        return json(200, {
          faults: state.faults.map((f) => ({
            ...f,
            remaining: Number.isFinite(f.remaining) ? f.remaining : 0,
          })),
        });
      case 'POST faults': {
        const input = await body(request);
        const fault = state.addFault((id) => parseFault(input, id));
        return json(201, { id: fault.id });
      }
      case 'DELETE faults':
        state.faults = [];
        return json(200, { ok: true });
      case 'GET clock':
        return json(200, { now: new Date(state.now()).toISOString(), offset_s: state.offsetMs / 1000 });
      case 'POST clock': {
        const input = await body(request);
        const { offset_s: offset, advance_s: advance } = input;
        if (offset !== undefined && typeof offset === 'number' && Number.isFinite(offset))
          state.setOffset(offset * 1000);
        else if (advance !== undefined && typeof advance === 'number' && Number.isFinite(advance))
          state.setOffset(state.offsetMs + advance * 1000);
        else
          return controlError(
            400,
            'invalid_clock',
            'give offset_s or advance_s as a finite number of seconds',
          );
        return json(200, { now: new Date(state.now()).toISOString(), offset_s: state.offsetMs / 1000 });
      }
      case 'POST revoke': {
        const input = await body(request);
        const spid = input.selling_partner_id;
        const clientId = input.client_id;
        if (typeof spid !== 'string' || spid === '')
          return controlError(400, 'invalid_revoke', 'selling_partner_id is required');
        if (clientId !== undefined && typeof clientId !== 'string')
          return controlError(400, 'invalid_revoke', 'client_id must be a string');
        return json(200, { revoked: state.revoke(spid, clientId) });
      }
      case 'GET consent':
        return json(200, { mode: state.consentMode, selling_partner_id: state.consentSeller ?? null });
      case 'POST consent': {
        const input = await body(request);
        const { mode, selling_partner_id: spid } = input;
        if (mode !== 'auto' && mode !== 'page')
          return controlError(400, 'invalid_consent', 'mode must be auto or page');
        if (spid !== undefined && spid !== null && (typeof spid !== 'string' || !state.sellers.has(spid))) {
          return controlError(400, 'invalid_consent', 'selling_partner_id is not a test seller');
        }
        state.consentMode = mode;
        state.consentSeller = typeof spid === 'string' ? spid : undefined;
        return json(200, { mode: state.consentMode, selling_partner_id: state.consentSeller ?? null });
      }
      case 'GET appstore':
        return json(200, { callback_host: state.appstoreCallbackHost ?? null });
      case 'POST appstore': {
        const host = (await body(request)).callback_host;
        if (
          host !== null &&
          host !== 'relative' &&
          !(typeof host === 'string' && AMAZON_CONSENT_HOSTS.has(host))
        ) {
          return controlError(
            400,
            'invalid_appstore',
            'callback_host must be one of Amazon\'s consent hosts, "relative" or null',
          );
        }
        state.appstoreCallbackHost = host ?? undefined;
        return json(200, { callback_host: state.appstoreCallbackHost ?? null });
      }
      case 'GET notifications':
        return json(200, { notifications: state.notifications }, { 'cache-control': 'no-store' });
      case 'DELETE notifications':
        state.notifications = [];
        for (const name of Object.keys(state.queues)) state.queues[name] = [];
        return json(200, { ok: true });
      case 'GET queues': {
        const now = state.now();
        const origin = new URL(request.url).origin;
        return json(
          200,
          {
            queues: Object.fromEntries(
              Object.entries(state.queues).map(([name, messages]) => [
                name,
                {
                  url: queueUrl(origin, name),
                  messages: messages.length,
                  in_flight: messages.filter((m) => m.visibleAt > now).length,
                  applications: [...state.apps.values()]
                    .filter((a) => a.notificationQueue === name)
                    .map((a) => a.id),
                },
              ]),
            ),
          },
          { 'cache-control': 'no-store' },
        );
      }
      case 'POST notifications/secret-expiry': {
        const input = await body(request);
        const clientId = input.client_id;
        const app =
          typeof clientId === 'string' ? state.appByClientId(clientId) : state.apps.values().next().value;
        if (!app)
          return controlError(400, 'invalid_notification', 'client_id is not a registered application');
        const expiry = input.expiry_time ?? new Date(state.now() + 7 * 86_400_000).toISOString();
        const reason = input.reason ?? 'PERIODIC_ROTATION';
        if (typeof expiry !== 'string' || Number.isNaN(Date.parse(expiry)) || typeof reason !== 'string') {
          return controlError(
            400,
            'invalid_notification',
            'expiry_time must be an ISO date and reason a string',
          );
        }
        const n = state.queueExpiryNotice(app, Date.parse(expiry), reason);
        return json(201, n);
      }
      case 'GET applications':
        return json(200, {
          applications: [...state.apps.values()].map((a) => ({
            id: a.id,
            name: a.name,
            client_id: a.clientId,
            redirect_uris: a.redirectUris,
            login_uri: a.loginUri ?? null,
            draft: a.draft,
            notification_queue: a.notificationQueue,
            secrets: a.secrets.length,
          })),
        });
      case 'POST applications': {
        const app = state.upsertApp(parseApplication(await body(request)));
        return json(201, { id: app.id });
      }
    }
    const known = Object.keys(ROUTES).filter((r) => r.endsWith(` ${path}`));
    if (known.length > 0) {
      return controlError(405, 'method_not_allowed', `use ${known.map((r) => r.split(' ')[0]).join(' or ')}`);
    }
    return controlError(404, 'not_found', 'no such control route; GET /__emulator/ lists them');
  } catch (err) {
    if (err instanceof BadRequest) return controlError(err.status, err.code, err.message);
    throw err;
  }
}

/** A typed client for the control API, over HTTP or the in-process `fetch`. */
export interface EmulatorControl {
  /** Counters since start or the last reset. */
  stats(): Promise<EmulatorStats>;
  /** Forgets every token, code, fault, counter, notification and clock offset; reseeds. */
  reset(): Promise<void>;
  /** Queues a fault; resolves to its id. */
  fault(spec: FaultSpec): Promise<number>;
  /** Removes every queued fault. */
  clearFaults(): Promise<void>;
  /** Sets the clock offset (seconds from the real or injected clock). */
  clock(offsetS: number): Promise<{ now: string; offset_s: number }>;
  /** Adds to the clock offset. */
  advance(seconds: number): Promise<{ now: string; offset_s: number }>;
  /** Revokes a partner's refresh tokens (for one client id, or all); resolves to how many. */
  revoke(sellingPartnerId: string, clientId?: string): Promise<number>;
  /** `auto` answers consent with the redirect at once (as `sellingPartnerId`, or the host's default seller). */
  consentMode(mode: ConsentMode, sellingPartnerId?: string): Promise<void>;
  /** Sets the Appstore hop's `amazon_callback_uri` host (undefined: the emulator's own origin). */
  appstoreCallbackHost(host: AppstoreCallbackHost): Promise<void>;
  /** Notifications queued for the app, oldest first. */
  notifications(): Promise<EmulatorNotification[]>;
  /** The SQS notification queues by name: URL, message counts, the applications enrolled with each. */
  queues(): Promise<Record<string, EmulatorQueueInfo>>;
  /** Queues an `APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY` notification. */
  secretExpiry(options?: {
    clientId?: string;
    expiryTime?: string;
    reason?: string;
  }): Promise<EmulatorNotification>;
  /** Registers (or replaces, by id or client id) an application. */
  registerApplication(app: EmulatorApplication): Promise<void>;
}

/** One notification queue as `GET /__emulator/queues` shows it. */
export interface EmulatorQueueInfo {
  /** The queue URL to give `@aws-sdk/client-sqs` (on the origin the control call went to). */
  readonly url: string;
  /** Messages in the queue, in flight or not. */
  readonly messages: number;
  /** Messages received and neither deleted nor visible again yet. */
  readonly in_flight: number;
  /** Ids of the applications whose notifications go to it. */
  readonly applications: readonly string[];
}

/**
 * Thrown by the control client when the emulator refuses a control call; `code` is the control
 * API's snake_case error code.
 *
 * @example
 * ```ts
 * try { await control.consentMode('auto', 'A1NOBODY'); }
 * catch (err) { if (err instanceof EmulatorControlError && err.code === 'invalid_consent') … }
 * ```
 */
export class EmulatorControlError extends Error {
  override name = 'EmulatorControlError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A control client for an emulator at `baseUrl` (its origin), using `fetchImpl`.
 *
 * @example
 * ```ts
 * const control = createControlClient('http://127.0.0.1:4010');
 * await control.fault({ target: 'token', status: 503, count: 2 });
 * const stats = await control.stats();
 * ```
 */
export function createControlClient(
  baseUrl: string,
  fetchImpl: (input: string, init?: RequestInit) => Promise<Response> = globalThis.fetch,
): EmulatorControl {
  const base = baseUrl.replace(/\/+$/, '') + CONTROL_PREFIX;
  async function call<T>(method: string, path: string, payload?: unknown): Promise<T> {
    const response = await fetchImpl(base + path, {
      method,
      ...(payload === undefined
        ? {}
        : { body: JSON.stringify(payload), headers: { 'content-type': 'application/json' } }),
    });
    const data = (await response.json()) as T & { error?: { code: string; message: string } };
    if (!response.ok) {
      throw new EmulatorControlError(
        response.status,
        data.error?.code ?? 'control_error',
        data.error?.message ?? `HTTP ${response.status}`,
      );
    }
    return data;
  }
  return {
    stats: () => call<EmulatorStats>('GET', 'stats'),
    reset: async () => void (await call('POST', 'reset')),
    fault: async (spec) => (await call<{ id: number }>('POST', 'faults', spec)).id,
    clearFaults: async () => void (await call('DELETE', 'faults')),
    clock: (offsetS) => call('POST', 'clock', { offset_s: offsetS }),
    advance: (seconds) => call('POST', 'clock', { advance_s: seconds }),
    revoke: async (spid, clientId) =>
      (
        await call<{ revoked: number }>('POST', 'revoke', {
          selling_partner_id: spid,
          ...(clientId === undefined ? {} : { client_id: clientId }),
        })
      ).revoked,
    consentMode: async (mode, spid) =>
      void (await call('POST', 'consent', {
        mode,
        ...(spid === undefined ? {} : { selling_partner_id: spid }),
      })),
    appstoreCallbackHost: async (host) =>
      void (await call('POST', 'appstore', { callback_host: host ?? null })),
    notifications: async () =>
      (await call<{ notifications: EmulatorNotification[] }>('GET', 'notifications')).notifications,
    queues: async () => (await call<{ queues: Record<string, EmulatorQueueInfo> }>('GET', 'queues')).queues,
    secretExpiry: (o = {}) =>
      call('POST', 'notifications/secret-expiry', {
        ...(o.clientId === undefined ? {} : { client_id: o.clientId }),
        ...(o.expiryTime === undefined ? {} : { expiry_time: o.expiryTime }),
        ...(o.reason === undefined ? {} : { reason: o.reason }),
      }),
    registerApplication: async (app) =>
      void (await call('POST', 'applications', {
        id: app.id,
        name: app.name,
        client_id: app.clientId,
        ...(app.clientSecret === undefined ? {} : { client_secret: app.clientSecret }),
        ...(app.clientSecrets === undefined ? {} : { client_secrets: app.clientSecrets }),
        redirect_uris: app.redirectUris,
        ...(app.loginUri === undefined ? {} : { login_uri: app.loginUri }),
        draft: app.draft ?? false,
        ...(app.notificationQueue === undefined ? {} : { notification_queue: app.notificationQueue }),
        ...(app.clientSecretExpiresAt === undefined
          ? {}
          : { client_secret_expires_at: app.clientSecretExpiresAt }),
      })),
  };
}
