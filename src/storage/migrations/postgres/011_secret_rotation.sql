-- Unattended client-secret rotation (src/server/ops/notification-queue.ts, secret-rotation.ts).
-- One holder at a time of a cluster-wide job (the consumer of the app's notification queue): a
-- lease with owner and expiry, renewed while held and taken over once it lapses.
CREATE TABLE cluster_leases (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  acquired_at BIGINT NOT NULL
);
-- Notifications that could not be applied, kept with the reason (the body sealed: it may hold a secret).
CREATE TABLE notifications_aside (
  id TEXT PRIMARY KEY,
  notification_id TEXT,
  notification_type TEXT,
  code TEXT NOT NULL,
  reason TEXT NOT NULL,
  body_enc TEXT NOT NULL,
  set_aside_at BIGINT NOT NULL
);
CREATE INDEX notifications_aside_time ON notifications_aside (set_aside_at);
-- One row per client-secret deadline: what the unattended rotation did about it. The state moves
-- by compare-and-set, so two instances or a restart never ask Amazon twice for one deadline.
CREATE TABLE secret_rotations (
  id TEXT PRIMARY KEY,
  client_id TEXT NOT NULL,
  deadline_at BIGINT NOT NULL,
  source TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  owner TEXT,
  requested_at BIGINT,
  installed_at BIGINT,
  old_expires_at BIGINT,
  new_expires_at BIGINT,
  last_error_code TEXT,
  retry_at BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX secret_rotations_client ON secret_rotations (client_id, deadline_at);
