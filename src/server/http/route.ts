/**
 * Route declarations: each route is one `defineRoute({ … })` — method, path, API-key scope, the
 * query and body it takes, the responses it gives (as JSON Schema, built with TypeBox), the error
 * codes it can answer. The router registers a handler for a declaration; the body check, the
 * OpenAPI document (`openapi.ts`) and the README's route table are derived from the declarations.
 *
 * A body is checked by a validator compiled once per route (TypeBox's compiler); a property that
 * does not match answers the error code its schema names (`x-error`), else the route's `bodyError`.
 * A query string is checked the same way by `readQuery`: each declared parameter against its schema
 * (a number parameter read as a number first), answering the parameter's `x-error` code or
 * `invalid_parameter`; parameters nobody declared are ignored, one given twice is refused. A handler
 * calls it only when it needs the query (the access-token route's hot path, with no query, parses
 * nothing).
 */
import { FormatRegistry, type Static, type TObject, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { HTTP_ERRORS, type DetailOf, type HttpErrorCode } from './errors.js';
import { HttpError, httpError, parseQuery, readJsonObject, type ServerRequest } from './request.js';

/** Where a route is documented: the API (OpenAPI and the README), a browser page (README), or nowhere. */
export type RouteAudience = 'api' | 'browser' | 'internal';

/** One response of a route: a JSON body matching `schema`, or no JSON (a redirect, a page). */
export interface RouteResponse {
  readonly description: string;
  readonly schema?: TSchema;
}

/** What {@link defineRoute} takes. */
export interface RouteSpec {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** The pattern as the router spells it: literal segments and `:name` parameters (see PARAM_RULES). */
  readonly path: string;
  /** The API-key scope the route needs, or null for a route without an API key. */
  readonly scope: string | null;
  readonly summary: string;
  /** For people (CommonMark): the OpenAPI description and the README's "what" column. */
  readonly description: string;
  readonly audience: RouteAudience;
  /** Query parameters, documented (each with a `description`), checked by `readQuery`. */
  readonly query?: Readonly<Record<string, TSchema>>;
  /** The JSON object body, checked before the handler reads it (see {@link RouteContext.body}). */
  readonly body?: TObject;
  /** The code of a body that does not match where the failing property names none (`x-error`). */
  readonly bodyError?: HttpErrorCode;
  /** By status. */
  readonly responses: Readonly<Record<number, RouteResponse>>;
  /** The codes of this route's own refusals (those of the API key, the body and the query are implied). */
  readonly errors: readonly HttpErrorCode[];
  /**
   * Whether a HEAD request runs this GET route (and gets its headers without the body). On by
   * default; off for routes whose handler has an effect a HEAD must not have — the access-token
   * route mints or releases a token and audits the release, so HEAD there is 405.
   */
  readonly head?: boolean;
}

/** A declared route: its spec and the body validator compiled from it. */
export type Route<S extends RouteSpec = RouteSpec> = S & {
  /** Reads the JSON body and checks it against `body`, or throws the declared error. */
  readonly readBody: (req: ServerRequest) => Promise<BodyOf<S>>;
  /** Reads the query string and checks each declared parameter (see the module comment), or throws. */
  readonly readQuery: (rawQuery: string) => QueryOf<S>;
};

/** The checked query of a spec: each declared parameter, absent when not given (and without a default). */
export type QueryOf<S extends RouteSpec> =
  S['query'] extends Readonly<Record<string, TSchema>>
    ? { readonly [K in keyof S['query']]?: Static<S['query'][K]> }
    : Readonly<Record<string, unknown>>;

/** The checked body type of a spec. */
export type BodyOf<S extends RouteSpec> = S['body'] extends TObject ? Static<S['body']> : unknown;

// The formats request bodies use; a validator without them refuses every formatted string.
if (!FormatRegistry.Has('uri')) FormatRegistry.Set('uri', (v) => URL.canParse(v));

/**
 * Declares a route. The declaration is a module constant: the OpenAPI document and the README's
 * table are built from declarations without building a service.
 *
 * @example
 * export const GET_SELLER = defineRoute({ method: 'GET', path: '/v1/sellers/:id', scope: 'sellers:read', … });
 * router.route(GET_SELLER, async (req, { params }) => json(200, …));
 */
export function defineRoute<const S extends RouteSpec>(spec: S): Route<S> {
  for (const code of spec.errors) {
    if (!Object.prototype.hasOwnProperty.call(HTTP_ERRORS, code)) throw new TypeError(`unknown code ${code}`);
  }
  const check: TypeCheck<TObject> | undefined =
    spec.body === undefined ? undefined : TypeCompiler.Compile(spec.body);
  const readBody = async (req: ServerRequest): Promise<BodyOf<S>> => {
    const value = await readJsonObject(req);
    if (check !== undefined && !check.Check(value)) throw bodyError(spec, check, value);
    return value as BodyOf<S>;
  };
  const readQuery = queryReader(spec);
  return Object.freeze({ ...spec, readBody, readQuery });
}

/** The query check of a spec: one compiled validator per declared parameter. */
function queryReader<S extends RouteSpec>(spec: S): (rawQuery: string) => QueryOf<S> {
  const params = Object.entries(spec.query ?? {}).map(([name, schema]) => ({
    name,
    schema: schema as TSchema & { 'x-error'?: HttpErrorCode; default?: unknown },
    numeric: schema.type === 'integer' || schema.type === 'number',
    check: TypeCompiler.Compile(schema),
  }));
  return (rawQuery) => {
    const q = parseQuery(rawQuery);
    if (q instanceof HttpError) throw q;
    const out: Record<string, unknown> = {};
    for (const { name, schema, numeric, check } of params) {
      const raw = q.get(name);
      if (raw === undefined) {
        if (schema.default !== undefined) out[name] = schema.default;
        continue;
      }
      const value = numeric && /^-?\d{1,15}$/.test(raw) ? Number(raw) : raw;
      if (!check.Check(value)) {
        const code = schema['x-error'] as 'invalid_parameter' | undefined;
        throw code === undefined
          ? httpError('invalid_parameter', `The query parameter ${name} is not valid.`)
          : httpError(code, MESSAGES.get(schema));
      }
      out[name] = value;
    }
    return out as QueryOf<S>;
  };
}

/** The error of a body that does not match: the code named by the failing property, or the route's. */
function bodyError(spec: RouteSpec, check: TypeCheck<TObject>, value: unknown): Error {
  const first = check.Errors(value).First();
  const property = first?.path.split('/')[1];
  const schema =
    property === undefined
      ? undefined
      : (spec.body!.properties[property.replace(/~1/g, '/').replace(/~0/g, '~')] as
          (TSchema & { 'x-error'?: HttpErrorCode }) | undefined);
  if (schema?.['x-error'] !== undefined) {
    return httpError(schema['x-error'] as 'invalid_json', MESSAGES.get(schema));
  }
  return httpError((spec.bodyError ?? 'invalid_json') as 'invalid_json');
}

// The precise messages of coded properties, kept out of the schema (and so out of the document).
const MESSAGES = new WeakMap<object, string>();

/**
 * A body property whose mismatch answers `code` (shown in the OpenAPI document as `x-error`).
 *
 * @example
 * Type.Object({ scope: coded('invalid_scope', Type.String()) });
 */
export function coded<T extends TSchema, C extends HttpErrorCode>(
  code: C,
  schema: T,
  ...message: DetailOf<C> extends string ? [message?: string] : []
): T {
  // Without its `$id`: a coded copy stays inline in the document, the named component unchanged.
  const { $id: _id, ...rest } = schema;
  const out = { ...rest, 'x-error': code } as unknown as T;
  if (message[0] !== undefined) MESSAGES.set(out, message[0]);
  return out;
}
