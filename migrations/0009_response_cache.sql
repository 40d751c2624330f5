-- The response cache: settings on keys and virtual models (JSON, NULL when off), the answers kept
-- in the database when it is the cache's store, and per request whether the cache answered
-- (`hit`), was asked and missed (`miss`), was told to refetch (`refresh`) or was skipped
-- (`bypass`), which request's answer a hit replayed, and what the hit saved; the hourly stats
-- count lookups, hits and savings.
ALTER TABLE virtual_keys ADD COLUMN cache TEXT;
ALTER TABLE virtual_models ADD COLUMN cache TEXT;
CREATE TABLE response_cache (
    key TEXT PRIMARY KEY,
    entry TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX response_cache_expiry ON response_cache (expires_at);
ALTER TABLE request_logs ADD COLUMN response_cache TEXT;
ALTER TABLE request_logs ADD COLUMN cached_from TEXT;
ALTER TABLE request_logs ADD COLUMN response_cache_saved_usd REAL;
ALTER TABLE request_stats ADD COLUMN response_cache_lookups INTEGER NOT NULL DEFAULT 0;
ALTER TABLE request_stats ADD COLUMN response_cache_hits INTEGER NOT NULL DEFAULT 0;
ALTER TABLE request_stats ADD COLUMN response_cache_saved_usd REAL NOT NULL DEFAULT 0;
