-- A keyed fingerprint of each seller's refresh token (`<kid>.<HMAC-SHA256>` under a key derived from
-- the encryption key `kid`, see fingerprintValue in src/storage/crypto.ts), so that an import can
-- refuse a refresh token already stored for another selling partner without opening every row.
-- Rows stored before this migration, or fingerprinted under a key since rotated away, get theirs
-- from Store.fingerprintRefreshTokens (the import runs it first).
ALTER TABLE sellers ADD COLUMN refresh_token_fingerprint TEXT;
CREATE INDEX sellers_refresh_token_fingerprint ON sellers (refresh_token_fingerprint);
