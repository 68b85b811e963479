/**
 * A small router over raw (not percent-decoded) paths. Literal segments match exactly; `:name`
 * segments match one segment and are checked by the route's validator before any handler runs, so
 * a traversal or injection attempt in an id gets a 400 from the router, never another route's handler.
 */
import type { HttpErrorCode } from './errors.js';
import { HttpError, httpError, type ServerRequest, type ServerResponse } from './request.js';
import type { Route as Declared } from './route.js';

/** Found matches {@link Router.match} keeps (see there) before it starts again. */
const FOUND_CACHE_SIZE = 4096;

/** A parameter validator: the regular expression a segment must match and the error to give when it does not. */
export interface ParamRule {
  readonly pattern: RegExp;
  readonly code: HttpErrorCode;
  /** What the parameter is, for the API description. */
  readonly description?: string;
}

/** What a route handler receives besides the request. */
export interface RouteContext {
  readonly params: Readonly<Record<string, string>>;
  /** The route's pattern, e.g. `/v1/sellers/:id` — what logs show instead of the raw path. */
  readonly route: string;
}

export type RouteHandler = (
  req: ServerRequest,
  ctx: RouteContext,
) => Promise<ServerResponse> | ServerResponse;

interface Route {
  readonly method: string;
  readonly pattern: string;
  readonly handler: RouteHandler;
  /** Literal segments as (index, text), compared before any parameter is looked at. */
  readonly fixed: readonly (readonly [number, string])[];
  /** Parameters as (index, name, rule), checked only on a route whose literals and method match. */
  readonly params: readonly (readonly [number, string, ParamRule])[];
  /** Whether HEAD runs this GET route's handler (see {@link RouteOptions.head}). */
  readonly head: boolean;
}

/** How a route is registered. */
export interface RouteOptions {
  /**
   * Whether a HEAD request runs this GET route (and gets its headers without the body). On by
   * default; off for routes whose handler has an effect a HEAD must not have — the access-token
   * route mints or releases a token and audits the release, so HEAD there is 405, not a silent
   * release with the body thrown away.
   */
  readonly head?: boolean;
}

/** The result of {@link Router.match}. */
export type Match =
  | { readonly kind: 'found'; readonly handler: RouteHandler; readonly ctx: RouteContext }
  | { readonly kind: 'method_not_allowed'; readonly allow: string; readonly route: string }
  | { readonly kind: 'not_found' }
  | { readonly kind: 'invalid'; readonly error: HttpError; readonly route: string };

/**
 * Routes requests by method and path pattern.
 *
 * @example
 * const router = new Router({ id: SELLER_ID_RULE });
 * router.add('GET', '/v1/sellers/:id', (req, { params }) => json(200, { id: params.id }));
 */
export class Router {
  // Routes by segment count, then by first segment; '' holds the routes starting with a parameter
  // (every literal-first list also contains them, in registration order, so one list is scanned).
  private readonly index = new Map<number, Map<string, Route[]>>();
  // Scratch for match(), which is synchronous: segment start offsets of the path being matched.
  private readonly starts: number[] = [];

  // Found matches by method then raw path, frozen and reused: a client calling the same route for
  // the same seller (the access-token route, thousands of times a second) skips the scan. Bounded:
  // emptied when full, so paths nobody repeats cost one insert each and no memory that stays.
  private readonly found = new Map<string, Map<string, Match>>();
  private foundCount = 0;

  private readonly registered: { readonly method: string; readonly pattern: string }[] = [];
  private readonly declared: Declared[] = [];

  constructor(private readonly rules: Readonly<Record<string, ParamRule>> = {}) {}

  add(method: string, pattern: string, handler: RouteHandler, options: RouteOptions = {}): this {
    const segments = pattern.split('/').slice(1);
    const fixed: (readonly [number, string])[] = [];
    const params: (readonly [number, string, ParamRule])[] = [];
    segments.forEach((seg, i) => {
      if (!seg.startsWith(':')) {
        fixed.push([i, seg]);
        return;
      }
      const rule = this.rules[seg.slice(1)];
      if (!rule) throw new TypeError(`router: no rule for parameter ${seg}`);
      params.push([i, seg.slice(1), rule]);
    });
    const route: Route = {
      method,
      pattern,
      handler,
      fixed,
      params,
      head: method === 'GET' && options.head !== false,
    };
    this.registered.push({ method, pattern });
    let byFirst = this.index.get(segments.length);
    if (byFirst === undefined) this.index.set(segments.length, (byFirst = new Map([['', []]])));
    const first = segments[0]!;
    if (first.startsWith(':')) {
      for (const list of byFirst.values()) list.push(route);
    } else {
      let list = byFirst.get(first);
      if (list === undefined) byFirst.set(first, (list = [...byFirst.get('')!]));
      list.push(route);
    }
    return this;
  }

  /**
   * Registers the handler of a declared route (see `route.ts`): its method, path and HEAD rule come
   * from the declaration, which {@link declarations} lists for the API description.
   *
   * @example
   * router.route(GET_SELLER, async (req, { params }) => json(200, await find(params.id!)));
   */
  route(route: Declared, handler: RouteHandler): this {
    this.declared.push(route);
    return this.add(route.method, route.path, handler, route.head === undefined ? {} : { head: route.head });
  }

  /** Every registered route as (method, pattern), in registration order (for the API description). */
  routes(): readonly { readonly method: string; readonly pattern: string }[] {
    return [...this.registered];
  }

  /** The declarations of the routes registered through {@link route}, in registration order. */
  declarations(): readonly Declared[] {
    return [...this.declared];
  }

  match(method: string, path: string): Match {
    const known = this.found.get(method)?.get(path);
    if (known !== undefined) return known;
    const match = this.scan(method, path);
    if (match.kind === 'found') {
      if (this.foundCount >= FOUND_CACHE_SIZE) {
        this.found.clear();
        this.foundCount = 0;
      }
      let byPath = this.found.get(method);
      if (byPath === undefined) this.found.set(method, (byPath = new Map()));
      byPath.set(path, match);
      this.foundCount++;
    }
    return match;
  }

  private scan(method: string, path: string): Match {
    // Segment k spans starts[k] .. starts[k + 1] - 1 (one past the slash that ends it), found
    // without splitting the path: no array and no substring per segment on the hot path.
    const starts = this.starts;
    let count = 0;
    for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) starts[count++] = i + 1;
    starts[count] = path.length + 1;
    const byFirst = this.index.get(count);
    if (byFirst === undefined) return { kind: 'not_found' };
    const candidates = byFirst.get(path.slice(starts[0]!, starts[1]! - 1)) ?? byFirst.get('')!;
    let allowed: string[] | undefined;
    let invalid: { error: HttpError; route: string } | undefined;
    for (const route of candidates) {
      const fixed = route.fixed;
      let ok = true;
      for (let f = 0; f < fixed.length; f++) {
        const [k, text] = fixed[f]!;
        const start = starts[k]!;
        if (starts[k + 1]! - 1 - start !== text.length || !path.startsWith(text, start)) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      if (route.method !== method && !(method === 'HEAD' && route.head)) {
        (allowed ??= []).push(route.method);
        continue;
      }
      const params: Record<string, string> = {};
      let bad: ParamRule | undefined;
      const specs = route.params;
      for (let p = 0; p < specs.length; p++) {
        const [k, name, rule] = specs[p]!;
        const part = path.slice(starts[k]!, starts[k + 1]! - 1);
        if (!rule.pattern.test(part)) {
          bad = rule;
          break;
        }
        params[name] = part;
      }
      if (bad !== undefined) {
        invalid ??= { error: httpError(bad.code), route: route.pattern };
        continue;
      }
      // Frozen: the same match may be returned for the next request of this path.
      return Object.freeze({
        kind: 'found',
        handler: route.handler,
        ctx: Object.freeze({ params: Object.freeze(params), route: route.pattern }),
      });
    }
    if (invalid) return { kind: 'invalid', ...invalid };
    if (allowed) return { kind: 'method_not_allowed', allow: [...new Set(allowed)].join(', '), route: path };
    return { kind: 'not_found' };
  }
}
