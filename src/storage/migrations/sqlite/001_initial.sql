-- spapi-auth schema, SQLite. Secrets live only in the *_enc columns, sealed by src/storage/crypto.ts.
-- Timestamps are epoch milliseconds.

CREATE TABLE sellers (
  selling_partner_id TEXT NOT NULL,
  region TEXT NOT NULL,
  kind TEXT NOT NULL,
  user_ref TEXT,
  status TEXT NOT NULL,
  marketplace TEXT,
  refresh_token_enc TEXT NOT NULL,
  access_token_enc TEXT,
  access_token_expires_at INTEGER,
  version INTEGER NOT NULL,
  lease_owner TEXT,
  lease_expires_at INTEGER,
  authorized_at INTEGER NOT NULL,
  last_refresh_at INTEGER,
  last_error_code TEXT,
  last_error_message TEXT,
  last_error_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (selling_partner_id, region)
);
CREATE INDEX sellers_status ON sellers (status, selling_partner_id, region);
CREATE INDEX sellers_user_ref ON sellers (user_ref, selling_partner_id, region);

CREATE TABLE oauth_transactions (
  state_hash TEXT PRIMARY KEY,
  binding_hash TEXT NOT NULL,
  flow TEXT NOT NULL,
  kind TEXT NOT NULL,
  marketplace TEXT NOT NULL,
  region TEXT NOT NULL,
  user_ref TEXT,
  return_to TEXT,
  expected_selling_partner_id TEXT,
  pkce_verifier_enc TEXT,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  consumed_at INTEGER
);
CREATE INDEX oauth_transactions_expires ON oauth_transactions (expires_at);

CREATE TABLE connect_sessions (
  token_hash TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  payload_enc TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  consumed_at INTEGER
);
CREATE INDEX connect_sessions_expires ON connect_sessions (expires_at);

CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  name TEXT,
  hash TEXT NOT NULL UNIQUE,
  scopes TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at INTEGER
);

CREATE TABLE app_secrets (
  id TEXT PRIMARY KEY,
  client_id TEXT NOT NULL,
  secret_enc TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER
);
CREATE INDEX app_secrets_client ON app_secrets (client_id, created_at);

CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  action TEXT NOT NULL,
  actor TEXT,
  selling_partner_id TEXT,
  region TEXT,
  outcome TEXT,
  details TEXT NOT NULL
);
CREATE INDEX audit_log_seller ON audit_log (selling_partner_id, region, id);

CREATE TABLE webhook_outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  data TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  lease_owner TEXT,
  lease_expires_at INTEGER,
  delivered_at INTEGER,
  dead_at INTEGER,
  last_error TEXT
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at, seq) WHERE delivered_at IS NULL AND dead_at IS NULL;
