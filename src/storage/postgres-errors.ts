/**
 * What went wrong reaching PostgreSQL, in words a person can act on: the server (host:port, never
 * the password) and the cause — refused, unknown host, timeout, authentication, a missing
 * database, or a user that may not create tables in the schema (with the GRANT to run).
 */
import { StorageUnavailableError } from './errors.js';

/** Where the store connects, as named in messages: no password, ever. */
export interface PostgresTarget {
  readonly host: string;
  readonly port: string;
  readonly user: string | undefined;
  readonly database: string | undefined;
  readonly schema: string;
}

/** Where a person reads what to do about each of these causes. */
export const POSTGRES_ERRORS_DOCS = 'docs/storage.md, "When the store cannot be opened"';

/**
 * The target of a `postgres://` URL (defaults as libpq's: localhost, 5432); undefined for a pool
 * handed in by the caller.
 *
 * @example
 * postgresTarget('postgres://app:pw@db.internal/spapi', undefined); // { host: 'db.internal', port: '5432', user: 'app', … }
 */
export function postgresTarget(
  url: string | undefined,
  schema: string | undefined,
): PostgresTarget | undefined {
  if (url === undefined) return undefined;
  try {
    const u = new URL(url);
    return {
      host: u.hostname === '' ? 'localhost' : u.hostname,
      port: u.port === '' ? '5432' : u.port,
      user: u.username === '' ? undefined : decodeURIComponent(u.username),
      database: u.pathname.length > 1 ? decodeURIComponent(u.pathname.slice(1)) : undefined,
      // The schema: the store's own, else a search_path set in the URL's `options`, else public.
      schema:
        schema ?? /search_path=([a-z_][a-z0-9_]*)/.exec(u.searchParams.get('options') ?? '')?.[1] ?? 'public',
    };
  } catch {
    return undefined;
  }
}

const CONNECTION_CODES = new Set([
  'ECONNRESET',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
]);

/**
 * The cause of `err` as a sentence naming the server, or undefined when it is not a connection,
 * authentication or permission problem (a constraint, a bug).
 *
 * @example
 * explainPostgresError({ code: 'ECONNREFUSED' }, target); // 'PostgreSQL at db.internal:5432 refused the connection: …'
 */
export function explainPostgresError(err: unknown, target: PostgresTarget | undefined): string | undefined {
  const code = (err as { code?: unknown })?.code;
  const message = err instanceof Error ? err.message : '';
  const at = target === undefined ? 'PostgreSQL' : `PostgreSQL at ${target.host}:${target.port}`;
  const user = target?.user === undefined ? 'the user of DATABASE_URL' : `user "${target.user}"`;
  const role = target?.user ?? '<user>';
  const schema = target?.schema ?? 'public';
  switch (code) {
    case 'ECONNREFUSED':
      return `${at} refused the connection: is the server running and listening there? (check the host and port of DATABASE_URL)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `${at}: the host ${target?.host ?? ''} is unknown (no DNS name or hosts entry): check the host of DATABASE_URL`;
    case 'ETIMEDOUT':
      return `${at} did not answer in time: a firewall in the way, or the wrong host`;
    case '28P01':
    case '28000':
      return `${at} refused ${user}: authentication failed (check the user and password of DATABASE_URL, and the server's pg_hba.conf)`;
    case '3D000':
      return `${at} has no database "${target?.database ?? '?'}": as a superuser run CREATE DATABASE ${target?.database ?? '<database>'} OWNER ${role};`;
    case '42501':
      return `${at}: ${user} may not create or use tables in schema "${schema}" (permission denied). As a superuser run: GRANT USAGE, CREATE ON SCHEMA ${schema} TO ${role}; — or make the user its owner: ALTER SCHEMA ${schema} OWNER TO ${role};`;
  }
  // pg: "timeout exceeded when trying to connect" (a pool), "Connection terminated due to connection timeout".
  if (/timeout exceeded|due to connection timeout/i.test(message))
    return `${at} did not answer in time: a firewall in the way, or the wrong host`;
  if (
    (typeof code === 'string' && CONNECTION_CODES.has(code)) ||
    // pg's own words for a lost connection: ended mid-query, or a client that lost it between queries.
    /Connection terminated|encountered a connection error|not queryable/i.test(message)
  ) {
    return `${at} is unreachable (the connection was lost or refused${typeof code === 'string' ? `: ${code}` : ''})`;
  }
  return undefined;
}

/**
 * `err` as a {@link StorageUnavailableError} naming the server and the cause, or `err` unchanged.
 *
 * @example
 * catch (err) { throw translatePostgresError(err, target); }
 */
export function translatePostgresError(err: unknown, target: PostgresTarget | undefined): unknown {
  if (err instanceof StorageUnavailableError) return err;
  const cause = explainPostgresError(err, target);
  if (cause === undefined) return err;
  const code = (err as { code?: unknown })?.code;
  const refused = typeof code === 'string' && ['28P01', '28000', '3D000', '42501'].includes(code);
  const what = refused ? 'refuses this service' : 'is unreachable';
  return new StorageUnavailableError(
    `The PostgreSQL database ${what}: ${cause} (see ${POSTGRES_ERRORS_DOCS})`,
    {
      cause: err,
    },
  );
}
