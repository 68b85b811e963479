/**
 * Every declared route that is documented (the API and the browser's entry points), in the order
 * of the OpenAPI document and the README's route table, and the declarations of the routes the
 * app itself registers: the health checks and the API description.
 */
import { Type } from '@sinclair/typebox';
import { FLOW_ROUTES } from './flows/routes.js';
import { defineRoute, type Route } from './http/route.js';
import { object } from './http/schemas.js';
import { POST_NOTIFICATION } from './ops/notification-routes.js';
import { TOKEN_ROUTES } from './tokens/routes.js';

/** `GET /healthz`. */
export const HEALTHZ = defineRoute({
  method: 'GET',
  path: '/healthz',
  scope: null,
  audience: 'api',
  summary: 'Liveness',
  description: 'The process is up.',
  responses: { 200: { description: 'Up.', schema: object({ status: Type.Literal('ok') }) } },
  errors: [],
});

/** `GET /readyz`. */
export const READYZ = defineRoute({
  method: 'GET',
  path: '/readyz',
  scope: null,
  audience: 'api',
  summary: 'Readiness',
  description: 'The store is reachable and migrated: send traffic.',
  responses: { 200: { description: 'Ready.', schema: object({ status: Type.Literal('ready') }) } },
  errors: ['migrations_pending', 'store_unavailable'],
});

/** `GET /openapi.json`. */
export const OPENAPI_JSON = defineRoute({
  method: 'GET',
  path: '/openapi.json',
  scope: null,
  audience: 'browser',
  summary: 'The API description',
  description:
    'The OpenAPI 3.1 description of every API route above (also `docs/openapi.json` in the package).',
  responses: { 200: { description: 'The OpenAPI document.' } },
  errors: [],
});

/**
 * The documented routes.
 *
 * @example
 * openApiDocument(DOCUMENTED_ROUTES);
 */
export const DOCUMENTED_ROUTES: readonly Route[] = [
  ...FLOW_ROUTES,
  ...TOKEN_ROUTES,
  POST_NOTIFICATION,
  HEALTHZ,
  READYZ,
  OPENAPI_JSON,
].filter((r) => r.audience !== 'internal');
