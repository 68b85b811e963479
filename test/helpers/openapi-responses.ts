// Every response a test sees from an in-process service is checked against the OpenAPI document
// generated from the route declarations: a documented route must answer a status its declaration
// lists, and a JSON body must match that status's schema (an error body: one of the codes listed).
// `checkedApp(app)` wraps `fetch` and `handle`; the shared harnesses (makeService, makeOpsService)
// hand tests the wrapped app, so a mismatch fails whichever test met it.
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { App } from '../../src/server/app.js';
import { toFetchHandler, type ServerResponse } from '../../src/server/http/request.js';
import { Router } from '../../src/server/http/router.js';
import { PARAM_RULES } from '../../src/server/http/validate.js';
import { openApiDocument } from '../../src/server/openapi.js';
import { DOCUMENTED_ROUTES } from '../../src/server/routes.js';

type Doc = {
  paths: Record<string, Record<string, { responses: Record<string, { content?: unknown }> }>>;
};

let checker: ResponseChecker | undefined;

/** Checks a response of (route pattern, method, status) against the document; throws on a mismatch. */
export type ResponseChecker = (pattern: string, method: string, status: number, body: unknown) => void;

/**
 * A checker over `doc` (the generated document by default): the status must be listed; a body
 * (anything but `undefined`) must match the schema of that status.
 */
export function responseChecker(document: object = openApiDocument(DOCUMENTED_ROUTES)): ResponseChecker {
  const doc = document as Doc;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema(doc, 'openapi.json');
  const cache = new Map<string, ValidateFunction>();
  return (pattern, method, status, body) => {
    const path = pattern.replace(/:([a-z]+)/g, '{$1}');
    const op = doc.paths[path]?.[method.toLowerCase()];
    if (op === undefined) throw new Error(`${method} ${pattern} is not described`);
    const response = op.responses[String(status)];
    if (response === undefined) throw new Error(`${method} ${pattern} does not list status ${status}`);
    if (body === undefined) return;
    if (response.content === undefined)
      throw new Error(`${method} ${pattern} ${status}: declared without a body`);
    const pointer = [
      'paths',
      path,
      method.toLowerCase(),
      'responses',
      String(status),
      'content',
      'application/json',
      'schema',
    ]
      .map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1'))
      .join('/');
    const key = `openapi.json#/${pointer}`;
    let validate = cache.get(key);
    if (validate === undefined) cache.set(key, (validate = ajv.compile({ $ref: key })));
    if (!validate(body)) {
      throw new Error(
        `${method} ${pattern} ${status}: the body does not match the declaration: ${ajv.errorsText(validate.errors)}`,
      );
    }
  };
}

// The documented API routes, to find which one a request reached (a parameter the router refuses
// still names its route).
const apiRouter = new Router(PARAM_RULES);
for (const route of DOCUMENTED_ROUTES) if (route.audience === 'api') apiRouter.route(route, () => null!);

function documentedRoute(method: string, path: string): string | undefined {
  const m = apiRouter.match(method, path);
  return m.kind === 'found' ? m.ctx.route : m.kind === 'invalid' ? m.route : undefined;
}

/** Checks one response (its body text, when JSON) of a documented route `pattern`. */
function check(pattern: string, method: string, status: number, contentType: string, text: string): void {
  checker ??= responseChecker();
  const body =
    /^application\/json/i.test(contentType) && text !== '' ? (JSON.parse(text) as unknown) : undefined;
  checker(pattern, method, status, body);
}

/** The documented route a request reached, or undefined (HEAD has no body to check). */
function routeOf(method: string, path: string): string | undefined {
  return method === 'HEAD' ? undefined : documentedRoute(method, path);
}

/**
 * `app` whose `fetch` and `handle` check every response of a documented route against the
 * document (see the file comment).
 *
 * @example
 * const app = checkedApp(service.app);
 */
export function checkedApp<A extends App>(app: A): A {
  const handle: App['handle'] = (req) => {
    const out = app.handle(req);
    const pattern = routeOf(req.method, req.path);
    if (pattern === undefined) return out;
    const done = (res: ServerResponse): ServerResponse => {
      const text =
        res.body === null ? '' : typeof res.body === 'string' ? res.body : new TextDecoder().decode(res.body);
      const type = res.headers['content-type'];
      check(pattern, req.method, res.status, typeof type === 'string' ? type : '', text);
      return res;
    };
    return out instanceof Promise ? out.then(done) : done(out);
  };
  // The app's fetch is its handle behind toFetchHandler: the same here, so both are checked once.
  return { ...app, handle, fetch: toFetchHandler(handle) };
}
