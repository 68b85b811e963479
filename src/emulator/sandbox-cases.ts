// Amazon's static sandbox, as data: the request/response cases each API model declares under
// `x-amzn-api-sandbox.static` (earlier model versions: `x-amazon-spds-sandbox-behaviors`, the same
// cases under the extension's former name), copied from amzn/selling-partner-api-models:
//
// - getOrders: models/orders-api-model/ordersV0.json @ 037fc474ca991f0b1375502bd0d82bb33a98fddd
//   (responses 200 and 400 of GET /orders/v0/orders)
// - getMarketplaceParticipations: models/sellers-api-model/sellers.json
//   @ 6a74cd37f8c98f63f7365519c1dc6072f3d97574 (response 200)
// - createRestrictedDataToken: models/tokens-api-model/tokens_2021-03-01.json
//   @ f40449ddf795383aaadd529f496e3372fb19a2fb (responses 200 and 400)
// - rotateApplicationClientSecret: models/application-management-api-model/application_2023-11-30.json
//   @ 01112ce4cec86006e6a6ce66d67d1e4e04caae97 (its only case: the 400, with no request to match,
//   so the sandbox never rotates anything)
//
// Kept verbatim (values, field order, the model's own oddities such as getOrders' numeric
// `CreatedBefore`): a client tested against the emulator's sandbox sees what Amazon's sends.
import type { SpapiOperation } from './types.js';

/** One declared case: the parameters a request must carry (each `{ value }`), the status and body it gets. */
export interface SandboxCase {
  readonly status: number;
  /** Absent: the case matches every request (the Application Management model's 400). */
  readonly parameters?: Readonly<Record<string, { readonly value: unknown }>>;
  readonly response: unknown;
}

const SHIP_FROM = {
  Name: 'MFNIntegrationTestMerchant',
  AddressLine1: '2201 WESTLAKE AVE',
  City: 'SEATTLE',
  StateOrRegion: 'WA',
  PostalCode: '98121-2778',
  CountryCode: 'US',
  Phone: '+1 480-386-0930 ext. 73824',
  AddressType: 'Commercial',
};

/** The order the model's two NEXT_TOKEN cases both return. */
const PENDING_ORDER = {
  AmazonOrderId: '902-3159896-1390916',
  PurchaseDate: '2017-01-20T19:49:35Z',
  LastUpdateDate: '2017-01-20T19:49:35Z',
  OrderStatus: 'Pending',
  FulfillmentChannel: 'SellerFulfilled',
  NumberOfItemsShipped: 0,
  NumberOfItemsUnshipped: 0,
  PaymentMethod: 'Other',
  PaymentMethodDetails: ['CreditCard', 'GiftCerificate'],
  MarketplaceId: 'ATVPDKIKX0DER',
  ShipmentServiceLevelCategory: 'Standard',
  OrderType: 'StandardOrder',
  EasyShipShipmentStatus: 'PendingPickUp',
  ElectronicInvoiceStatus: 'NotRequired',
  EarliestShipDate: '2017-01-20T19:51:16Z',
  LatestShipDate: '2017-01-25T19:49:35Z',
  IsBusinessOrder: false,
  IsPrime: false,
  IsAccessPointOrder: false,
  IsGlobalExpressEnabled: false,
  IsPremiumOrder: false,
  IsSoldByAB: false,
  IsIBA: false,
};

const US = { MarketplaceIds: { value: ['ATVPDKIKX0DER'] } };

const GET_ORDERS: readonly SandboxCase[] = [
  {
    status: 200,
    parameters: { CreatedAfter: { value: 'TEST_CASE_200' }, ...US },
    response: {
      payload: {
        CreatedBefore: '1.569521782042E9',
        Orders: [
          {
            AmazonOrderId: '902-1845936-5435065',
            PurchaseDate: '1970-01-19T03:58:30Z',
            LastUpdateDate: '1970-01-19T03:58:32Z',
            OrderStatus: 'Unshipped',
            FulfillmentChannel: 'MFN',
            SalesChannel: 'Amazon.com',
            ShipServiceLevel: 'Std US D2D Dom',
            OrderTotal: { CurrencyCode: 'USD', Amount: '11.01' },
            NumberOfItemsShipped: 0,
            NumberOfItemsUnshipped: 1,
            PaymentMethod: 'Other',
            PaymentMethodDetails: ['Standard'],
            IsReplacementOrder: false,
            MarketplaceId: 'ATVPDKIKX0DER',
            ShipmentServiceLevelCategory: 'Standard',
            OrderType: 'StandardOrder',
            EarliestShipDate: '1970-01-19T03:59:27Z',
            LatestShipDate: '1970-01-19T04:05:13Z',
            EarliestDeliveryDate: '1970-01-19T04:06:39Z',
            LatestDeliveryDate: '1970-01-19T04:15:17Z',
            IsBusinessOrder: false,
            IsPrime: false,
            IsGlobalExpressEnabled: false,
            IsPremiumOrder: false,
            IsSoldByAB: false,
            IsIBA: false,
            DefaultShipFromLocationAddress: SHIP_FROM,
            FulfillmentInstruction: { FulfillmentSupplySourceId: 'sampleSupplySourceId' },
            IsISPU: false,
            IsAccessPointOrder: false,
            AutomatedShippingSettings: { HasAutomatedShippingSettings: false },
            EasyShipShipmentStatus: 'PendingPickUp',
            ElectronicInvoiceStatus: 'NotRequired',
          },
          {
            AmazonOrderId: '902-8745147-1934268',
            PurchaseDate: '1970-01-19T03:58:30Z',
            LastUpdateDate: '1970-01-19T03:58:32Z',
            OrderStatus: 'Unshipped',
            FulfillmentChannel: 'MFN',
            SalesChannel: 'Amazon.com',
            ShipServiceLevel: 'Std US D2D Dom',
            OrderTotal: { CurrencyCode: 'USD', Amount: '11.01' },
            NumberOfItemsShipped: 0,
            NumberOfItemsUnshipped: 1,
            PaymentMethod: 'Other',
            PaymentMethodDetails: ['Standard'],
            IsReplacementOrder: false,
            MarketplaceId: 'ATVPDKIKX0DER',
            ShipmentServiceLevelCategory: 'Standard',
            OrderType: 'StandardOrder',
            EarliestShipDate: '1970-01-19T03:59:27Z',
            LatestShipDate: '1970-01-19T04:05:13Z',
            EarliestDeliveryDate: '1970-01-19T04:06:39Z',
            LatestDeliveryDate: '1970-01-19T04:15:17Z',
            IsBusinessOrder: false,
            IsPrime: false,
            IsAccessPointOrder: false,
            IsGlobalExpressEnabled: false,
            IsPremiumOrder: false,
            IsSoldByAB: false,
            IsIBA: false,
            EasyShipShipmentStatus: 'PendingPickUp',
            ElectronicInvoiceStatus: 'NotRequired',
          },
        ],
      },
    },
  },
  {
    status: 200,
    parameters: { CreatedAfter: { value: 'TEST_CASE_200_NEXT_TOKEN' }, ...US },
    response: { payload: { NextToken: '2YgYW55IGNhcm5hbCBwbGVhc3VyZS4', Orders: [PENDING_ORDER] } },
  },
  {
    status: 200,
    parameters: {
      CreatedAfter: { value: 'TEST_CASE_200_NEXT_TOKEN' },
      ...US,
      NextToken: { value: '2YgYW55IGNhcm5hbCBwbGVhc3VyZS4' },
    },
    response: { payload: { Orders: [PENDING_ORDER] } },
  },
  {
    status: 400,
    parameters: { CreatedAfter: { value: 'TEST_CASE_400' } },
    response: { errors: [{ code: 'InvalidInput', message: 'Invalid Input' }] },
  },
];

const GET_MARKETPLACE_PARTICIPATIONS: readonly SandboxCase[] = [
  {
    status: 200,
    parameters: {},
    response: {
      payload: [
        {
          marketplace: {
            id: 'ATVPDKIKX0DER',
            countryCode: 'US',
            name: 'Amazon.com',
            defaultCurrencyCode: 'USD',
            defaultLanguageCode: 'en_US',
            domainName: 'www.amazon.com',
          },
          participation: { isParticipating: true, hasSuspendedListings: false },
        },
      ],
    },
  },
];

const CREATE_RESTRICTED_DATA_TOKEN: readonly SandboxCase[] = [
  {
    status: 200,
    parameters: {
      body: {
        value: { restrictedResources: [{ method: 'GET', path: '/orders/v0/orders/{orderId}/address' }] },
      },
    },
    response: { restrictedDataToken: 'Atz.sprdt|IQEBLjAsAhRmHjNgHpi0U-Dme37rR6CuUpSR', expiresIn: 3600 },
  },
  {
    status: 200,
    parameters: {
      body: {
        value: { restrictedResources: [{ method: 'GET', path: '/orders/v0/orders/943-12-123434/address' }] },
      },
    },
    response: { restrictedDataToken: 'Atz.sprdt|AODFNESLjAsAhRmHjNgHpi0U-Dme37rR6CuUpSR', expiresIn: 3600 },
  },
  {
    status: 400,
    parameters: {
      body: {
        value: {
          restrictedResources: [{ method: '', path: '/orders/v1/orders/902-1845936-5435065/address' }],
        },
      },
    },
    response: {
      errors: [
        {
          code: 'InvalidRequest',
          message: 'Request is missing or has invalid parameters',
          details: 'Resource not provided.',
        },
      ],
    },
  },
];

const ROTATE_APPLICATION_CLIENT_SECRET: readonly SandboxCase[] = [
  {
    status: 400,
    response: {
      errors: [
        {
          code: 'InvalidInput',
          message:
            'Application is not enrolled for rotation notification. Please update application notification preference in Developer console.',
        },
      ],
    },
  },
];

/** Every operation's declared static-sandbox cases, in the models' order. */
export const SANDBOX_CASES: Readonly<Record<SpapiOperation, readonly SandboxCase[]>> = Object.freeze({
  getOrders: GET_ORDERS,
  getMarketplaceParticipations: GET_MARKETPLACE_PARTICIPATIONS,
  createRestrictedDataToken: CREATE_RESTRICTED_DATA_TOKEN,
  rotateApplicationClientSecret: ROTATE_APPLICATION_CLIENT_SECRET,
});
