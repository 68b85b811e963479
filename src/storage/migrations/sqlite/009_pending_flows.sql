-- The pending-flow cap (SPAPI_AUTH_MAX_PENDING_FLOWS): unconsumed OAuth transactions and pending
-- Appstore sessions beyond the newest N are deleted, oldest first; these indexes list them newest
-- first without reading consumed rows.
CREATE INDEX oauth_transactions_pending ON oauth_transactions (created_at, state_hash) WHERE consumed_at IS NULL;
CREATE INDEX connect_sessions_pending ON connect_sessions (type, created_at, token_hash) WHERE consumed_at IS NULL;
