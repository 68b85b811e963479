/**
 * JSON Schema building blocks of the route declarations (TypeBox): strings with a description,
 * instants, nullable values, closed objects, enumerations, the error body, and the values several
 * routes share (region, seller status, seller id, user_ref, connect token). A schema with an `$id`
 * becomes a named component of the OpenAPI document.
 */
import { Type, type TObject, type TProperties, type TSchema, type TString } from '@sinclair/typebox';
import { SELLING_PARTNER_ID_RE } from '../../core/consent.js';
import { REGIONS } from '../../core/marketplaces.js';
import { SELLER_TOKEN_STATUSES } from '../../core/token-vault.js';
import { USER_REF } from './validate.js';

/**
 * A string with a description (and more keywords).
 *
 * @example
 * str('The selling partner id.', { pattern: '^A' });
 */
export const str = (description: string, extra: Record<string, unknown> = {}): TString =>
  Type.String({ description, ...extra });

/**
 * An ISO 8601 instant.
 *
 * @example
 * instant('When the token expires.');
 */
export const instant = (description: string): TString => str(description, { format: 'date-time' });

/**
 * The schema, or null.
 *
 * @example
 * nullable(str('The last error.'));
 */
export const nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/**
 * A closed object: every property not marked `Type.Optional` is required, no other is allowed.
 *
 * @example
 * object({ url: str('The link.') }, { $id: 'Link' });
 */
export const object = <P extends TProperties>(
  properties: P,
  extra: Record<string, unknown> = {},
): TObject<P> => Type.Object(properties, { additionalProperties: false, ...extra });

/**
 * One of a list of strings (`anyOf` of constants, which TypeBox's compiler checks).
 *
 * @example
 * oneOf(['seller', 'vendor'], { default: 'seller' });
 */
export const oneOf = <const V extends readonly string[]>(values: V, extra: Record<string, unknown> = {}) =>
  Type.Union(
    values.map((v) => Type.Literal(v as V[number])),
    extra,
  );

/**
 * A copy of a schema with another description and no `$id` (so it stays inline, not the named component).
 *
 * @example
 * described(REGION, 'Only this region.');
 */
export const described = <T extends TSchema>(schema: T, description: string): T => {
  const { $id: _id, ...rest } = schema;
  return { ...rest, description } as T;
};

/** A regular expression as a JSON Schema pattern (ECMA-262 syntax, which both use). */
const pattern = (re: RegExp): string => re.source;

/** The SP-API region. */
export const REGION = oneOf(REGIONS, { $id: 'Region', description: 'The SP-API region.' });
/** Where an authorization stands. */
export const SELLER_STATUS = oneOf(SELLER_TOKEN_STATUSES, {
  $id: 'SellerStatus',
  description: 'Where the authorization stands.',
});
/** Seller Central or Vendor Central. */
export const PARTNER_KIND = oneOf(['seller', 'vendor']);
/** A selling partner id. */
export const SELLER_ID = (description: string): TString =>
  str(description, { pattern: pattern(SELLING_PARTNER_ID_RE) });
/** The app's own id of a user. */
export const USER_REF_SCHEMA = (description: string): TString =>
  str(description, { pattern: pattern(USER_REF) });

/**
 * The error body every refusal has.
 *
 * @example
 * ERROR_BODY.$id; // 'Error'
 */
export const ERROR_BODY = object(
  {
    error: object({
      code: str('A stable, machine-readable code (see the responses of each operation).'),
      message: str('A sentence for people; never holds a token or a secret.'),
    }),
  },
  { $id: 'Error' },
);
