// The package's public API: every entry point exports exactly the names pinned here, values and
// types, so that an internal helper cannot leak out by an `export *` and a removal is a decision.
// Adding or removing an export: change the list below in the same commit, and say why in it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('../', import.meta.url));

const ENTRY_FILES = {
  'spapi-auth': 'src/core/index.ts',
  'spapi-auth/server': 'src/server/index.ts',
  'spapi-auth/storage': 'src/storage/index.ts',
  'spapi-auth/emulator': 'src/emulator/index.ts',
  'spapi-auth/client': 'src/client/index.ts',
  'spapi-auth/adapters/amazon-sp-api': 'src/adapters/amazon-sp-api.ts',
  'spapi-auth/adapters/sp-api-sdk': 'src/adapters/sp-api-sdk.ts',
  'spapi-auth/adapters/official-sdk': 'src/adapters/official-sdk.ts',
} as const;

const PINNED: Record<keyof typeof ENTRY_FILES, { values: string[]; types: string[] }> = {
  'spapi-auth': {
    values: [
      'AMAZON_CONSENT_HOSTS',
      'AuthorizationError',
      'CallbackError',
      'ERROR_CODES',
      'GRANTLESS_SCOPES',
      'LWA_TOKEN_URL',
      'LoginRequestError',
      'LwaError',
      'MARKETPLACES',
      'REGIONS',
      'SELLING_PARTNER_ID_RE',
      'SPAPI_ENDPOINTS',
      'SPAPI_SANDBOX_ENDPOINTS',
      'SpApiError',
      'SpapiAuthError',
      'StateError',
      'buildAppstoreContinueUrl',
      'buildAuthorizationCodeRequest',
      'buildConsentUrl',
      'buildGrantlessRequest',
      'buildRefreshTokenRequest',
      'buildRestrictedDataTokenRequest',
      'buildUserAgent',
      'createLwaThrottle',
      'createMemoryTokenVault',
      'createPkce',
      'createSpApiFetch',
      'createState',
      'createTokenManager',
      'exchangeAuthorizationCode',
      'findMarketplace',
      'getGrantlessToken',
      'getMarketplace',
      'hashState',
      'isRegion',
      'isSpapiAuthError',
      'parseCallback',
      'parseLoginRequest',
      'processAuthorizationCodeResponse',
      'processGrantlessResponse',
      'processRefreshTokenResponse',
      'processRestrictedDataTokenResponse',
      'refreshAccessToken',
      'spapiBaseUrl',
      'spapiEndpoint',
      'validateAmazonCallbackUri',
      'verifyState',
    ],
    types: [
      'AccessToken',
      'AppstoreContinueOptions',
      'AuthorizationCodeParams',
      'BreakerOptions',
      'BreakerState',
      'CallbackFailure',
      'CallbackResult',
      'CallbackSuccess',
      'CallbackUriPolicy',
      'ConsentUrlOptions',
      'ErrorCode',
      'ErrorDetails',
      'FetchLike',
      'GrantlessParams',
      'GrantlessScope',
      'LoginRequest',
      'LwaAuthorizationCodeResult',
      'LwaCallOptions',
      'LwaCredentials',
      'LwaEndpointOptions',
      'LwaThrottle',
      'LwaThrottleOptions',
      'LwaTokenResponse',
      'LwaTokenResult',
      'Marketplace',
      'MemoryTokenVault',
      'PartnerKind',
      'Pkce',
      'ProcessOptions',
      'RefreshFailure',
      'RefreshLease',
      'RefreshTokenParams',
      'Region',
      'RestrictedDataToken',
      'RestrictedDataTokenRequest',
      'RestrictedDataTokenResponse',
      'RestrictedResource',
      'RetryOptions',
      'SellerTokenKey',
      'SellerTokenState',
      'SellerTokenStatus',
      'SleepFn',
      'SpApiEndpointOptions',
      'SpApiFetch',
      'SpApiFetchOptions',
      'SpApiRequest',
      'TokenCallOptions',
      'TokenEvent',
      'TokenEventType',
      'TokenManager',
      'TokenManagerOptions',
      'TokenRefreshOptions',
      'TokenVault',
      'TransportOptions',
      'UserAgentOptions',
    ],
  },
  'spapi-auth/server': {
    values: [
      'ConfigError',
      'IMPORT_CODES',
      'SIGNATURE_HEADER',
      'WEBHOOK_EVENT_TYPES',
      'createService',
      'exportSellers',
      'importSellers',
      'loadConfig',
      'openServiceStore',
      'readTransferLines',
      'redactConfig',
      'signWebhook',
      'spApiCaller',
      'startService',
      'transferCipher',
      'transferFormatOf',
      'verifyWebhookSignature',
    ],
    types: [
      'Config',
      'ExportProtection',
      'ExportSummary',
      'ImportCode',
      'ImportCounts',
      'ImportFailure',
      'ImportNote',
      'ImportOptions',
      'ImportSummary',
      'Mode',
      'RunningService',
      'Service',
      'ServiceOptions',
      'StartServiceOptions',
      'TransferCipher',
      'TransferFormat',
      'TransferLine',
      'WebhookEventType',
    ],
  },
  'spapi-auth/storage': {
    values: [
      'KeyRingError',
      'PAGE_CURSOR_MAX_LENGTH',
      'PAGE_CURSOR_SHAPE',
      'STORAGE_DRIVERS',
      'RefreshTokenInUseError',
      'STORAGE_ERROR_CODES',
      'SellerExistsError',
      'SellerOwnershipError',
      'StorageDriverMissingError',
      'StorageError',
      'StorageIntegrityError',
      'StorageUnavailableError',
      'createKeyRing',
      'createPostgresStore',
      'createSqliteStore',
      'createStoreTokenVault',
      'generateKey',
      'isPageCursorShape',
      'loadMigrations',
      'openStore',
      'openValue',
      'parseKeyRing',
      'rewrap',
      'sealValue',
      'sealedKeyId',
    ],
    types: [
      'ApiKeyInput',
      'ApiKeyRecord',
      'ApiKeyStore',
      'AppSecretInput',
      'AppSecretRecord',
      'AppSecretStore',
      'AuditInput',
      'AuditRecord',
      'AuditStore',
      'AuthorizationInput',
      'CarriedPurpose',
      'ChangeEffects',
      'ClusterLease',
      'ConsumeFailure',
      'ConsumeResult',
      'EncryptedTable',
      'EncryptedValuePage',
      'EncryptedValueRef',
      'FingerprintProgress',
      'FlowStore',
      'KeyRing',
      'LeaseStore',
      'LifecycleStore',
      'ListSellersQuery',
      'Migration',
      'MigrationProgress',
      'NotificationAsideInput',
      'NotificationAsideRecord',
      'OAuthFlow',
      'OAuthTransaction',
      'OAuthTransactionInput',
      'OutboxDepth',
      'OutboxEvent',
      'OutboxRecord',
      'OutboxState',
      'OutboxStore',
      'PgClientLike',
      'PgPoolLike',
      'PgQueryResult',
      'PostgresStoreOptions',
      'RefreshClaimQuery',
      'RefreshDueEntry',
      'RefreshDueQuery',
      'RefreshStore',
      'ReplacePolicy',
      'RevocationKind',
      'RevocationRecord',
      'RevocationStore',
      'RewrapProgress',
      'RewrapStore',
      'RotationStore',
      'SaveAuthorizationResult',
      'SecretRotationChange',
      'SecretRotationRecord',
      'SecretRotationState',
      'SealContext',
      'SellerError',
      'SellerKey',
      'SellerMarketplace',
      'SellerPage',
      'SellerProfile',
      'SellerRecord',
      'SellerStatus',
      'SellerStore',
      'SessionInput',
      'SessionRecord',
      'SessionType',
      'SqliteStoreOptions',
      'StorageDriver',
      'StorageErrorCode',
      'Store',
      'StoreOptions',
      'StoreTokenVaultOptions',
      'WebhookEventInput',
    ],
  },
  'spapi-auth/emulator': {
    values: [
      'CONTROL_PREFIX',
      'DEFAULT_NOTIFICATION_QUEUE',
      'DEFAULT_RATES',
      'DEV_APPLICATION',
      'DEV_CLIENT_SECRET',
      'EmulatorControlError',
      'GRANTLESS_SCOPES',
      'SQS_ACCOUNT_ID',
      'TEST_SELLERS',
      'createControlClient',
      'createEmulator',
      'createPersistentEmulator',
      'devApplication',
      'emulatorListener',
      'parseApplication',
      'queueUrl',
      'startEmulator',
      'tokenKey',
    ],
    types: [
      'BucketRate',
      'ConsentMode',
      'Emulator',
      'EmulatorApplication',
      'EmulatorControl',
      'EmulatorNotification',
      'EmulatorOptions',
      'EmulatorQueueInfo',
      'EmulatorSeller',
      'EmulatorSnapshot',
      'EmulatorStats',
      'EmulatorTokenStatus',
      'FaultSpec',
      'FaultTarget',
      'FetchLike',
      'Outcome',
      'PersistentEmulator',
      'RunningEmulator',
      'SpapiOperation',
      'StateFileStart',
    ],
  },
  'spapi-auth/client': {
    values: ['TOKEN_API_ERROR_CODES', 'TokenApiError', 'createTokenClient', 'isReauthorizationRequired'],
    types: [
      'AccessToken',
      'AccessTokenBody',
      'Authorization',
      'AuthorizationDetail',
      'FetchLike',
      'GrantlessScope',
      'GrantlessTokenBody',
      'ListSellersQuery',
      'Region',
      'RestrictedDataToken',
      'RestrictedDataTokenBody',
      'RestrictedDataTokenRequest',
      'RetryOptions',
      'Seller',
      'SellerLastError',
      'SellerMarketplace',
      'SellerPage',
      'SellerStatus',
      'SellerTokenKey',
      'ServiceAccessToken',
      'SleepFn',
      'TokenApiErrorCode',
      'TokenClient',
      'TokenClientCallOptions',
      'TokenClientOptions',
    ],
  },
  'spapi-auth/adapters/amazon-sp-api': {
    values: ['createSellingPartner'],
    types: ['SellingPartnerAdapterOptions', 'SellingPartnerConfig', 'SellingPartnerLike', 'TokenProvider'],
  },
  'spapi-auth/adapters/sp-api-sdk': {
    values: ['createSpApiSdkAuth'],
    types: [
      'SellingPartnerApiAuthLike',
      'SellingPartnerApiAuthParameters',
      'SpApiSdkAuthOptions',
      'TokenProvider',
      'TokenTarget',
    ],
  },
  'spapi-auth/adapters/official-sdk': {
    values: ['useSpapiAuth'],
    types: ['OfficialApiClientLike', 'OfficialSdkAdapterOptions', 'TokenProvider', 'TokenTarget'],
  },
};

interface Export {
  readonly name: string;
  readonly isValue: boolean;
  readonly hasDoc: boolean;
  readonly hasExample: boolean;
}

function readExports(): Record<string, Export[]> {
  const config = ts.getParsedCommandLineOfConfigFile(
    `${root}tsconfig.json`,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => assert.fail(String(d.messageText)),
    },
  )!;
  const program = ts.createProgram(
    Object.values(ENTRY_FILES).map((f) => `${root}${f}`),
    config.options,
  );
  const checker = program.getTypeChecker();
  const out: Record<string, Export[]> = {};
  for (const [entry, file] of Object.entries(ENTRY_FILES)) {
    const source = program.getSourceFile(`${root}${file}`);
    assert.ok(source, file);
    const moduleSymbol = checker.getSymbolAtLocation(source)!;
    out[entry] = checker.getExportsOfModule(moduleSymbol).map((e) => {
      const target = e.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(e) : e;
      return {
        name: e.name,
        isValue: (target.flags & ts.SymbolFlags.Value) !== 0,
        hasDoc: target.getDocumentationComment(checker).length > 0,
        hasExample: target.getJsDocTags(checker).some((t) => t.name === 'example'),
      };
    });
  }
  return out;
}

const exported = readExports();

test('every entry point exports exactly its pinned values and types', () => {
  for (const [entry, pinned] of Object.entries(PINNED)) {
    const list = exported[entry]!;
    assert.deepEqual(
      list
        .filter((e) => e.isValue)
        .map((e) => e.name)
        .sort(),
      [...pinned.values].sort(),
      `${entry}: values`,
    );
    assert.deepEqual(
      list
        .filter((e) => !e.isValue)
        .map((e) => e.name)
        .sort(),
      [...pinned.types].sort(),
      `${entry}: types`,
    );
  }
});

test("the core's runtime exports are the pinned values (what `import … from 'spapi-auth'` gets)", async () => {
  const core = await import('../src/core/index.js');
  assert.deepEqual(Object.keys(core).sort(), [...PINNED['spapi-auth'].values].sort());
});

test("the core's internals stay inside", () => {
  const names = new Set(exported['spapi-auth']!.map((e) => e.name));
  for (const internal of [
    'base64url',
    'timingSafeEqual',
    'backoffDelay',
    'readCappedText',
    'randomToken',
    'withRetries',
  ]) {
    assert.ok(!names.has(internal), `${internal} is not public`);
  }
});

test('every export of the core has TSDoc, and every value export an example', () => {
  for (const e of exported['spapi-auth']!) {
    assert.ok(e.hasDoc, `${e.name} has no TSDoc`);
    if (e.isValue) assert.ok(e.hasExample, `${e.name} has no @example`);
  }
});
