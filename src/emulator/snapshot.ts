// The emulator's whole mutable state as one versioned JSON document, and back. Generic: every field
// of EmulatorState except its configuration is kept, whatever it is called, so state added later is
// kept without extra work — as long as it is plain data (objects, arrays, Maps, Sets, Dates,
// numbers, strings, booleans, null, undefined). Objects referenced from two places (an access
// token's record and its app's client secret) stay one object after a restore, so a rotation that
// shortens the secret in place still ends the tokens issued with it. No `node:` imports: browser-free.
import type { EmulatorApplication, EmulatorSeller, ConsentMode, AppstoreCallbackHost } from './types.js';

/** The `format` of every snapshot. */
export const SNAPSHOT_FORMAT = 'spapi-auth-emulator-state';

/**
 * Bumped when a field's meaning or shape changes so that an older snapshot cannot be read as the
 * new one. A field added needs no bump: an older snapshot leaves it at its fresh value.
 */
export const SNAPSHOT_VERSION = 1;

/** A JSON value as the codec writes it. */
export type EncodedValue =
  null | boolean | number | string | EncodedValue[] | { [key: string]: EncodedValue };

/**
 * The emulator's state at one moment (from `emulator.snapshot()`, restored by `createEmulator({ state })`),
 * JSON-safe: `JSON.stringify` it as it is. It holds the tokens the emulator issued: keep it private.
 *
 * @example
 * ```ts
 * const before = createEmulator();
 * const after = createEmulator({ state: JSON.parse(JSON.stringify(before.snapshot())) });
 * ```
 */
export interface EmulatorSnapshot {
  readonly format: typeof SNAPSHOT_FORMAT;
  readonly version: number;
  /** When it was taken (ISO 8601, wall clock). */
  readonly saved_at: string;
  /** The options the state was seeded from: a restore with other options applies what changed. */
  readonly seed: EncodedValue;
  /** Field name → encoded value. */
  readonly state: { readonly [field: string]: EncodedValue };
}

/** What `reset()` starts from: the options a snapshot's state was seeded with. */
export interface EmulatorSeed {
  readonly applications: readonly EmulatorApplication[];
  readonly sellers: readonly EmulatorSeller[];
  readonly consentMode: ConsentMode;
  readonly appstoreCallbackHost: AppstoreCallbackHost;
}

/** A snapshot that cannot be restored: not one, another version, or a field of another shape. */
export class SnapshotError extends Error {
  override readonly name = 'SnapshotError';
}

// Tags are objects with one key starting with a single `$`; a plain object's own keys that start
// with `$` are written with one more `$`, so no plain object is ever read as a tag.
const escapeKey = (key: string): string => (key.startsWith('$') ? `$${key}` : key);
const unescapeKey = (key: string): string => (key.startsWith('$$') ? key.slice(1) : key);
const isTag = (key: string): boolean => key.startsWith('$') && !key.startsWith('$$');

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Objects reachable from `root` more than once (shared or cyclic): they get an id. */
function sharedObjects(root: unknown): Set<object> {
  const seen = new Set<object>();
  const shared = new Set<object>();
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (value === null || typeof value !== 'object') continue;
    if (seen.has(value)) {
      shared.add(value);
      continue;
    }
    seen.add(value);
    if (value instanceof Map) for (const [k, v] of value) stack.push(k, v);
    else if (value instanceof Set) stack.push(...value);
    else if (Array.isArray(value)) stack.push(...(value as unknown[]));
    else if (isPlainObject(value)) stack.push(...Object.values(value));
  }
  return shared;
}

class Encoder {
  private readonly ids = new Map<object, number>();
  constructor(private readonly shared: Set<object>) {}

  value(value: unknown, path: string): EncodedValue {
    switch (typeof value) {
      case 'string':
      case 'boolean':
        return value;
      case 'number':
        if (Object.is(value, -0)) return { $number: '-0' }; // String(-0) is '0'
        return Number.isFinite(value) ? value : { $number: String(value) };
      case 'undefined':
        return { $undefined: true };
      case 'bigint':
        return { $bigint: value.toString() };
      case 'object':
        if (value === null) return null;
        return this.object(value, path);
      default:
        throw new SnapshotError(`${path} is a ${typeof value}: only plain data can be kept`);
    }
  }

  private object(value: object, path: string): EncodedValue {
    if (!this.shared.has(value)) return this.inner(value, path);
    const known = this.ids.get(value);
    if (known !== undefined) return { $ref: known };
    const id = this.ids.size + 1;
    this.ids.set(value, id);
    return { $id: id, $value: this.inner(value, path) };
  }

  private inner(value: object, path: string): EncodedValue {
    if (Array.isArray(value)) {
      // Array.from visits holes as undefined (map would skip them).
      return Array.from(value as unknown[], (v, i) => this.value(v, `${path}[${i}]`));
    }
    if (value instanceof Map) {
      return {
        $map: [...value].map(([k, v], i) => [
          this.value(k, `${path}<key ${i}>`),
          this.value(v, `${path}<${i}>`),
        ]),
      };
    }
    if (value instanceof Set) return { $set: [...value].map((v, i) => this.value(v, `${path}{${i}}`)) };
    if (value instanceof Date) return { $date: value.getTime() };
    if (!isPlainObject(value)) {
      const name = (value.constructor as { name?: string } | undefined)?.name ?? 'object';
      throw new SnapshotError(`${path} is a ${name}: only plain data can be kept`);
    }
    const out: Record<string, EncodedValue> = {};
    for (const [k, v] of Object.entries(value)) out[escapeKey(k)] = this.value(v, `${path}.${k}`);
    return out;
  }
}

class Decoder {
  private readonly ids = new Map<number, unknown>();

  value(encoded: unknown, path: string): unknown {
    if (encoded === null || typeof encoded !== 'object') return encoded;
    if (Array.isArray(encoded)) return this.fill([], encoded, path);
    const obj = encoded as Record<string, unknown>;
    const tag = Object.keys(obj).find(isTag);
    if (tag === undefined) return this.fill({}, obj, path);
    switch (tag) {
      case '$number':
        return Number(obj.$number);
      case '$undefined':
        return undefined;
      case '$bigint':
        return BigInt(String(obj.$bigint));
      case '$date':
        return new Date(Number(obj.$date));
      case '$ref':
        if (!this.ids.has(Number(obj.$ref)))
          throw new SnapshotError(`${path}: reference to an unknown object`);
        return this.ids.get(Number(obj.$ref));
      case '$id': {
        const inner = obj.$value;
        const container = this.container(inner, path);
        this.ids.set(Number(obj.$id), container);
        return this.fill(container, inner, path);
      }
      case '$map':
      case '$set':
        return this.fill(this.container(obj, path), obj, path);
      default:
        throw new SnapshotError(`${path}: unknown tag ${tag}`);
    }
  }

  /** The empty container `encoded` decodes into (created first, so a cycle can refer to it). */
  private container(encoded: unknown, path: string): object {
    if (Array.isArray(encoded)) return [];
    if (encoded === null || typeof encoded !== 'object') throw new SnapshotError(`${path}: not an object`);
    const keys = Object.keys(encoded);
    if (keys.includes('$map')) return new Map();
    if (keys.includes('$set')) return new Set();
    if (keys.some(isTag)) throw new SnapshotError(`${path}: a shared value must be an object`);
    return {};
  }

  private fill(into: object, encoded: unknown, path: string): unknown {
    if (into instanceof Map) {
      const entries = (encoded as { $map: unknown }).$map;
      if (!Array.isArray(entries)) throw new SnapshotError(`${path}: malformed map`);
      entries.forEach((e: unknown, i) => {
        if (!Array.isArray(e) || e.length !== 2) throw new SnapshotError(`${path}: malformed map entry`);
        into.set(this.value(e[0], `${path}<key ${i}>`), this.value(e[1], `${path}<${i}>`));
      });
    } else if (into instanceof Set) {
      const items = (encoded as { $set: unknown }).$set;
      if (!Array.isArray(items)) throw new SnapshotError(`${path}: malformed set`);
      items.forEach((v: unknown, i) => into.add(this.value(v, `${path}{${i}}`)));
    } else if (Array.isArray(into)) {
      if (!Array.isArray(encoded)) throw new SnapshotError(`${path}: not an array`);
      encoded.forEach((v: unknown, i) => (into[i] = this.value(v, `${path}[${i}]`)));
    } else {
      for (const [k, v] of Object.entries(encoded as object)) {
        (into as Record<string, unknown>)[unescapeKey(k)] = this.value(v, `${path}.${unescapeKey(k)}`);
      }
    }
    return into;
  }
}

/** The kind a field's value must keep across a restore. */
function kindOf(value: unknown): string {
  if (value === null || value === undefined) return 'empty';
  if (value instanceof Map) return 'Map';
  if (value instanceof Set) return 'Set';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** Canonical JSON (sorted keys) of a value's encoding: equal options compare equal. */
function canonical(value: EncodedValue): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k]!)}`).join(',')}}`;
}

function encode(value: unknown, path: string): EncodedValue {
  return new Encoder(sharedObjects(value)).value(value, path);
}

/**
 * The snapshot of `state`'s fields except `configuration` (and functions, which only
 * configuration holds). Throws {@link SnapshotError} naming a field that is not plain data.
 */
export function takeSnapshot(
  state: object,
  configuration: ReadonlySet<string>,
  seed: EmulatorSeed,
  wallClock: number,
): EmulatorSnapshot {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(state)) {
    if (!configuration.has(key) && typeof value !== 'function') fields[key] = value;
  }
  // One pass over all fields: an object shared between two of them stays shared.
  const encoded = encode(fields, 'state') as Record<string, EncodedValue>;
  return {
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    saved_at: new Date(wallClock).toISOString(),
    seed: encode(seed, 'seed'),
    state: encoded,
  };
}

/** Checks the envelope of something read as a snapshot; throws {@link SnapshotError} saying what is wrong. */
function checkEnvelope(snapshot: unknown): asserts snapshot is EmulatorSnapshot {
  const s = snapshot as Partial<EmulatorSnapshot> | null;
  if (s === null || typeof s !== 'object' || s.format !== SNAPSHOT_FORMAT) {
    throw new SnapshotError('not an emulator state snapshot');
  }
  if (s.version !== SNAPSHOT_VERSION) {
    throw new SnapshotError(
      `snapshot version ${String(s.version)} (this emulator reads version ${SNAPSHOT_VERSION})`,
    );
  }
  if (s.state === null || typeof s.state !== 'object' || Array.isArray(s.state)) {
    throw new SnapshotError('the snapshot has no state');
  }
}

/**
 * Restores `snapshot` into a freshly seeded `state`: every field the snapshot holds that the state
 * has (configuration excepted) is replaced, and must keep its kind (a Map stays a Map). Fields the
 * snapshot lacks keep their fresh value. Then the options that changed since the snapshot win:
 * applications and sellers whose options differ are registered afresh, ones no longer in the
 * options are dropped, and a changed consent mode or Appstore callback host applies.
 */
export function restoreSnapshot(
  state: {
    apps: Map<string, unknown>;
    sellers: Map<string, EmulatorSeller>;
    consentMode: ConsentMode;
    appstoreCallbackHost: AppstoreCallbackHost;
    upsertApp(app: EmulatorApplication): unknown;
  },
  snapshot: unknown,
  configuration: ReadonlySet<string>,
  seed: EmulatorSeed,
): void {
  checkEnvelope(snapshot);
  const fields = new Decoder().value(snapshot.state, 'state') as Record<string, unknown>;
  const target = state as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(fields)) {
    if (configuration.has(key) || !Object.hasOwn(target, key) || typeof target[key] === 'function') continue;
    const fresh = kindOf(target[key]);
    if (fresh !== 'empty' && kindOf(value) !== 'empty' && kindOf(value) !== fresh) {
      throw new SnapshotError(`field ${key} is a ${kindOf(value)} in the snapshot, a ${fresh} here`);
    }
    target[key] = value;
  }
  const before = new Decoder().value(snapshot.seed, 'seed') as Partial<EmulatorSeed> | null;
  applySeedChanges(state, before ?? {}, seed);
}

function applySeedChanges(
  state: Parameters<typeof restoreSnapshot>[0],
  before: Partial<EmulatorSeed>,
  now: EmulatorSeed,
): void {
  const same = (a: unknown, b: unknown): boolean =>
    canonical(encode(a, 'seed')) === canonical(encode(b, 'seed'));
  const oldApps = new Map((before.applications ?? []).map((a) => [a.id, a]));
  const newApps = new Map(now.applications.map((a) => [a.id, a]));
  for (const id of oldApps.keys()) if (!newApps.has(id)) state.apps.delete(id);
  for (const [id, app] of newApps) if (!same(oldApps.get(id), app)) state.upsertApp(app);
  const oldSellers = new Map((before.sellers ?? []).map((s) => [s.sellingPartnerId, s]));
  const newSellers = new Map(now.sellers.map((s) => [s.sellingPartnerId, s]));
  for (const id of oldSellers.keys()) if (!newSellers.has(id)) state.sellers.delete(id);
  for (const [id, seller] of newSellers) if (!same(oldSellers.get(id), seller)) state.sellers.set(id, seller);
  if (before.consentMode !== now.consentMode) state.consentMode = now.consentMode;
  if (!same(before.appstoreCallbackHost, now.appstoreCallbackHost))
    state.appstoreCallbackHost = now.appstoreCallbackHost;
}
