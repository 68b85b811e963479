-- What the seller's marketplaceParticipations answered after its authorization (or import): the
-- store name and the marketplaces (JSON array of {id, country, name, participating,
-- suspended_listings}). No row yet: the profile is still to be fetched (a failed or throttled call
-- is retried later). Deleted with the seller.
CREATE TABLE seller_profiles (
  selling_partner_id TEXT NOT NULL,
  region TEXT NOT NULL,
  store_name TEXT,
  marketplaces TEXT NOT NULL,
  fetched_at INTEGER NOT NULL,
  PRIMARY KEY (selling_partner_id, region)
);
