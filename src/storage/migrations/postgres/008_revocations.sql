-- Revocations every instance must honour at once: a logged-out admin session, a revoked API key, a
-- deleted seller (whose access token other instances hold in memory). Each instance reads the rows
-- newer than the last it saw a few times a second; a row is kept only as long as it can matter
-- (the session's expiry; a short window for keys and sellers, whose store rows say the rest).
CREATE TABLE revocations (
  kind TEXT NOT NULL,
  subject TEXT NOT NULL,
  revoked_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (kind, subject)
);
CREATE INDEX revocations_revoked_at ON revocations (revoked_at);
