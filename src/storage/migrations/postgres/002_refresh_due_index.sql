-- The proactive refresher (src/server/tokens/refresher.ts) reads active sellers by access token expiry, soonest first.
CREATE INDEX sellers_refresh_due ON sellers (status, access_token_expires_at, selling_partner_id, region);
