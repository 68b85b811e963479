/**
 * A small router over raw (not percent-decoded) paths. Literal segments match exactly; `:name`
 * segments match one segment and are checked by the route's validator before any handler runs, so
 * a traversal or injection attempt in an id gets a 400 from the router, never another route's handler.
 */
import { HttpError, type ServerRequest, type ServerResponse } from './http.js';

/** A parameter validator: the regular expression a segment must match and the error to give when it does not. */
export interface ParamRule {
  readonly pattern: RegExp;
  readonly code: string;
  readonly message: string;
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
  readonly segments: readonly string[];
  readonly handler: RouteHandler;
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
  private readonly routes: Route[] = [];
  private readonly byLength = new Map<number, Route[]>();

  constructor(private readonly rules: Readonly<Record<string, ParamRule>> = {}) {}

  add(method: string, pattern: string, handler: RouteHandler): this {
    const segments = pattern.split('/').slice(1);
    for (const s of segments) {
      if (s.startsWith(':') && !this.rules[s.slice(1)])
        throw new TypeError(`router: no rule for parameter ${s}`);
    }
    const route: Route = { method, pattern, segments, handler };
    this.routes.push(route);
    const list = this.byLength.get(segments.length) ?? [];
    list.push(route);
    this.byLength.set(segments.length, list);
    return this;
  }

  match(method: string, path: string): Match {
    const parts = path.split('/').slice(1);
    const candidates = this.byLength.get(parts.length);
    if (!candidates) return { kind: 'not_found' };
    let allowed: string[] | undefined;
    let invalid: { error: HttpError; route: string } | undefined;
    for (const route of candidates) {
      let params: Record<string, string> | undefined;
      let ok = true;
      let badParam: ParamRule | undefined;
      for (let i = 0; i < parts.length; i++) {
        const seg = route.segments[i]!;
        const part = parts[i]!;
        if (seg.charCodeAt(0) === 58 /* : */) {
          const name = seg.slice(1);
          if (!this.rules[name]!.pattern.test(part)) badParam ??= this.rules[name];
          (params ??= {})[name] = part;
        } else if (seg !== part) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      if (route.method !== method && !(method === 'HEAD' && route.method === 'GET')) {
        (allowed ??= []).push(route.method);
        continue;
      }
      if (badParam) {
        invalid ??= { error: new HttpError(400, badParam.code, badParam.message), route: route.pattern };
        continue;
      }
      return { kind: 'found', handler: route.handler, ctx: { params: params ?? {}, route: route.pattern } };
    }
    if (invalid) return { kind: 'invalid', ...invalid };
    if (allowed) return { kind: 'method_not_allowed', allow: [...new Set(allowed)].join(', '), route: path };
    return { kind: 'not_found' };
  }
}
