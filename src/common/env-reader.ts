/**
 * The machinery under the configuration (`src/config.ts`): a typed reader of environment variables
 * that collects every problem instead of stopping at the first, describes a value by its shape
 * (never the value itself), lists what it read for `doctor` (secrets redacted), and finds the
 * closest known name for a misspelt variable.
 */
import { editDistance } from './edit-distance.js';

/** How a variable is shown and handled: a secret is never shown and is scrubbed after start-up. */
export interface VariableSpec {
  readonly secret?: boolean;
  /** How `doctor` shows a set value (default: as it is, or `[redacted]` for a secret). */
  readonly show?: (value: string) => string;
}

/** The declared variables of a group of settings, by name. */
export type Variables = Readonly<Record<string, VariableSpec>>;

/** One malformed or missing value: the variable, the value's shape when it is set, and the rule. */
export interface ConfigProblem {
  readonly variable: string;
  /** E.g. `12 characters: lower-case letters, '-'`; undefined when unset. Never the value. */
  readonly shape: string | undefined;
  readonly rule: string;
}

/** One line of the effective configuration (`doctor`): where the value came from, secrets redacted. */
export interface EffectiveSetting {
  readonly variable: string;
  readonly value: string;
  readonly source: 'environment' | 'file' | 'default';
}

/**
 * The typed accessors every group reader uses. `N` is the names the group declared: reading any
 * other name does not compile. A secret may come from `NAME_FILE` (an orchestrator-mounted file),
 * preferred over `NAME`; blank values count as unset. A malformed value is recorded with
 * {@link EnvReader.problem} and the accessor returns its fallback, so that every group is read
 * and every problem reported in one run.
 */
export interface EnvReader<N extends string = string> {
  readonly dev: boolean;
  raw(name: N): string | undefined;
  /** The value, or `fallback` (shown by `doctor` as the default). */
  text(name: N, fallback: string): string;
  bool(name: N, fallback: boolean): boolean;
  /** The value or the fallback; a problem (and `''`) when both are missing. */
  required(name: N, fallback: string | undefined): string;
  /** An absolute http(s) URL without credentials, query or fragment; undefined (and a problem) otherwise. */
  origin(name: N, value: string): URL | undefined;
  integer(name: N, fallback: number, min: number, max: number): number;
  /** Records a problem with `variable` (a declared name, or several joined by `, `). */
  problem(variable: string, rule: string): void;
}

/** What a whole read gathered: the problems, and the effective values for `doctor`. */
export interface ReadLog {
  readonly problems: ConfigProblem[];
  readonly effective: Map<string, EffectiveSetting>;
}

/**
 * A reader over `env` for the declared `variables`.
 *
 * @example
 * const { reader, log } = envReader(process.env, VARIABLES, readFileSync8, false);
 * const port = reader.integer('PORT', 3000, 0, 65535);
 * if (log.problems.length > 0) throw ConfigError.of(log.problems, effectiveOf(log));
 */
export function envReader<V extends Variables>(
  env: Readonly<Record<string, string | undefined>>,
  variables: V,
  readFile: (path: string) => string,
  dev: boolean,
): { reader: EnvReader<Extract<keyof V, string>>; log: ReadLog } {
  const log: ReadLog = { problems: [], effective: new Map() };
  const shown = (name: string, value: string): string => {
    const spec = variables[name];
    if (spec?.show !== undefined) return spec.show(value);
    return spec?.secret === true ? '[redacted]' : value;
  };
  const cache = new Map<string, string | undefined>();
  const raw = (name: string): string | undefined => {
    if (cache.has(name)) return cache.get(name);
    let value: string | undefined;
    const file = env[`${name}_FILE`];
    if (file !== undefined && file !== '') {
      try {
        value = readFile(file).trim();
        log.effective.set(name, { variable: `${name}_FILE`, value: shown(name, value), source: 'file' });
      } catch {
        log.problems.push({
          variable: `${name}_FILE`,
          shape: undefined,
          rule: 'cannot read the file it names',
        });
      }
    } else {
      const v = env[name];
      value = v === undefined || v.trim() === '' ? undefined : v.trim();
      if (value !== undefined) {
        log.effective.set(name, { variable: name, value: shown(name, value), source: 'environment' });
      }
    }
    cache.set(name, value);
    return value;
  };
  const withDefault = (name: string, fallback: string): void => {
    if (!log.effective.has(name)) {
      log.effective.set(name, { variable: name, value: shown(name, fallback), source: 'default' });
    }
  };
  const problem = (variable: string, rule: string): void => {
    // A `NAME_FILE` that cannot be read is the one problem of NAME (not also "is required").
    if (log.problems.some((p) => p.variable === `${variable}_FILE`)) return;
    const value = variable in variables ? cache.get(variable) : undefined;
    log.problems.push({ variable, shape: value === undefined ? undefined : shapeOf(value), rule });
  };
  const reader: EnvReader = {
    dev,
    raw,
    problem,
    text(name, fallback) {
      const v = raw(name);
      if (v !== undefined) return v;
      withDefault(name, fallback);
      return fallback;
    },
    bool(name, fallback) {
      const v = raw(name);
      if (v === undefined) {
        withDefault(name, String(fallback));
        return fallback;
      }
      if (/^(true|1|yes)$/i.test(v)) return true;
      if (/^(false|0|no)$/i.test(v)) return false;
      problem(name, 'must be true or false');
      return fallback;
    },
    required(name, fallback) {
      const v = raw(name);
      if (v !== undefined) return v;
      if (fallback !== undefined) {
        withDefault(name, fallback);
        return fallback;
      }
      problem(name, `is required${dev ? '' : ' (serve)'}`);
      return '';
    },
    origin(name, value) {
      let u: URL;
      try {
        u = new URL(value);
      } catch {
        problem(name, 'must be an absolute URL');
        return undefined;
      }
      const rule =
        u.protocol !== 'https:' && u.protocol !== 'http:'
          ? 'must be http(s)'
          : u.username || u.password
            ? 'must not contain credentials'
            : u.search || u.hash
              ? 'must not contain a query or fragment'
              : undefined;
      if (rule === undefined) return u;
      problem(name, rule);
      return undefined;
    },
    integer(name, fallback, min, max) {
      const v = raw(name);
      if (v === undefined) {
        withDefault(name, String(fallback));
        return fallback;
      }
      const n = /^\d{1,9}$/.test(v) ? Number(v) : NaN;
      if (n >= min && n <= max) return n;
      problem(name, `must be a whole number from ${min} to ${max}`);
      return fallback;
    },
  };
  return { reader, log };
}

/** The effective settings a read gathered, in variable order. */
export function effectiveOf(log: ReadLog): readonly EffectiveSetting[] {
  return Object.freeze(
    [...log.effective.values()]
      .sort((a, b) => a.variable.localeCompare(b.variable))
      .map((s) => Object.freeze(s)),
  );
}

/**
 * A value described without showing it: its length and the kinds of characters in it.
 *
 * @example
 * shapeOf('my-client-id'); // "12 characters: lower-case letters, '-'"
 */
export function shapeOf(value: string): string {
  const kinds: string[] = [];
  if (/[a-z]/.test(value)) kinds.push('lower-case letters');
  if (/[A-Z]/.test(value)) kinds.push('capitals');
  if (/[0-9]/.test(value)) kinds.push('digits');
  if (/\s/.test(value)) kinds.push('spaces');
  if (/[^\x00-\x7f]/.test(value)) kinds.push('non-ASCII characters');
  const punctuation = [...new Set(value.replace(/[A-Za-z0-9\s]|[^\x00-\x7f]/g, ''))].sort();
  kinds.push(...punctuation.slice(0, 8).map((c) => `'${c}'`));
  if (punctuation.length > 8) kinds.push('…');
  const n = [...value].length;
  return `${n} character${n === 1 ? '' : 's'}: ${kinds.join(', ')}`;
}

/**
 * The known name closest to `name` (Levenshtein distance with adjacent swaps), or undefined when
 * none is within a third of its length.
 *
 * @example
 * closestName('SPAPI_AUTH_WEBHOOK_ULR', ['SPAPI_AUTH_WEBHOOK_URL', 'PORT']); // 'SPAPI_AUTH_WEBHOOK_URL'
 */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const candidate of known) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}
