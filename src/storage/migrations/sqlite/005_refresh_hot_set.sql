-- The proactive refresher (src/server/tokens/refresher.ts): when each seller's token was last handed out (the hot set, written coalesced by src/server/tokens/usage.ts), and claims that share the due list between instances.
ALTER TABLE sellers ADD COLUMN last_used_at BIGINT;
ALTER TABLE sellers ADD COLUMN refresh_claim_until BIGINT;
-- Sellers stored before this migration count as used when their token expires: the hot set starts as the fleet renewed until now and shrinks to the sellers asked for within the window.
UPDATE sellers SET last_used_at = access_token_expires_at WHERE access_token_expires_at IS NOT NULL;
-- The listing reads the hot set's last use from the index.
DROP INDEX sellers_refresh_due;
CREATE INDEX sellers_refresh_due ON sellers (status, access_token_expires_at, selling_partner_id, region, last_used_at);
-- Cluster-wide deadlines, e.g. the LWA 429 pause seen by one instance and kept by all (src/server/tokens/cluster-throttle.ts).
CREATE TABLE cluster_state (
  name TEXT PRIMARY KEY,
  until_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
