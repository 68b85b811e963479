/**
 * Structured JSON logs, redacted by construction: a log line can only carry the whitelisted fields
 * below (ids, routes, statuses, codes, counts), never a free-form object, a header, a query string or
 * a body. Values are truncated and JSON-encoded, so a hostile value cannot forge a second line.
 */

/** The only fields a log line may carry. */
export interface LogFields {
  readonly request_id?: string;
  readonly method?: string;
  /** The route pattern (`/v1/sellers/:id`), never the raw path. */
  readonly route?: string;
  readonly status?: number;
  readonly duration_ms?: number;
  readonly seller_id?: string;
  readonly region?: string;
  readonly key_id?: string;
  readonly code?: string;
  readonly kind?: string;
  readonly flow?: string;
  readonly count?: number;
  readonly url?: string;
  readonly variable?: string;
  readonly error_name?: string;
}

const ALLOWED = new Set<string>([
  'request_id',
  'method',
  'route',
  'status',
  'duration_ms',
  'seller_id',
  'region',
  'key_id',
  'code',
  'kind',
  'flow',
  'count',
  'url',
  'variable',
  'error_name',
]);

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A logger; `msg` must be a constant string written in the code, never data. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** Whether `debug` lines are written (lets hot paths skip building fields). */
  readonly debugEnabled: boolean;
}

/**
 * A JSON-lines logger writing to `sink`.
 *
 * @example
 * const log = createLogger({ sink: (line) => process.stdout.write(line), level: 'info' });
 * log.info('seller authorized', { seller_id: 'A1B2C3', region: 'na' });
 */
export function createLogger(opts: {
  sink: (line: string) => void;
  level?: LogLevel;
  now?: () => number;
}): Logger {
  const min = RANK[opts.level ?? 'info'];
  const now = opts.now ?? Date.now;
  const write = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (RANK[level] < min) return;
    const rec: Record<string, unknown> = { time: new Date(now()).toISOString(), level, msg: clip(msg) };
    if (fields) {
      for (const k in fields) {
        if (!ALLOWED.has(k)) continue;
        const v = (fields as Record<string, unknown>)[k];
        if (typeof v === 'number') rec[k] = v;
        else if (typeof v === 'string') rec[k] = clip(v);
      }
    }
    opts.sink(JSON.stringify(rec) + '\n');
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    debugEnabled: min <= RANK.debug,
  };
}

/**
 * A logger that drops everything.
 *
 * @example
 * createApp({ config, store, amazon, log: silentLogger });
 */
export const silentLogger: Logger = createLogger({ sink: () => {}, level: 'error' });

function clip(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}
