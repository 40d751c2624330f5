-- 0003_policies: virtual-key policies with counters that are exact across instances, request
-- bodies (when a key asks for them), and daily rollups that outlive log retention.
-- Counters: `used` and `lim` are integers in the limit's unit (requests, tokens, nano-USD); the
-- CHECK makes any reservation that would pass its limit fail, rolling back its whole transaction.

ALTER TABLE virtual_keys ADD COLUMN rpm_limit INTEGER;
ALTER TABLE virtual_keys ADD COLUMN tpm_limit INTEGER;
ALTER TABLE virtual_keys ADD COLUMN max_concurrent INTEGER;
ALTER TABLE virtual_keys ADD COLUMN budget_usd REAL;
ALTER TABLE virtual_keys ADD COLUMN budget_period TEXT;
ALTER TABLE virtual_keys ADD COLUMN allowed_ips TEXT;
ALTER TABLE virtual_keys ADD COLUMN log_bodies INTEGER NOT NULL DEFAULT 0;
ALTER TABLE virtual_keys ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';

CREATE TABLE key_usage (
    key_id       TEXT NOT NULL,
    kind         TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    used         INTEGER NOT NULL,
    lim          INTEGER NOT NULL,
    PRIMARY KEY (key_id, kind, window_start),
    CHECK (used <= lim)
);

CREATE TABLE key_leases (
    request_id TEXT PRIMARY KEY,
    key_id     TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    ok         INTEGER NOT NULL
);

CREATE INDEX key_leases_key ON key_leases(key_id, expires_at);

ALTER TABLE request_logs ADD COLUMN request_body TEXT;
ALTER TABLE request_logs ADD COLUMN response_body TEXT;

CREATE INDEX request_logs_model ON request_logs(model_requested, created_at);

CREATE TABLE request_rollups (
    day            TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    model          TEXT NOT NULL,
    provider_id    TEXT NOT NULL,
    requests       INTEGER NOT NULL,
    errors         INTEGER NOT NULL,
    input_tokens   INTEGER NOT NULL,
    output_tokens  INTEGER NOT NULL,
    cached_tokens  INTEGER NOT NULL,
    cost_usd       REAL NOT NULL,
    latency_ms_sum INTEGER NOT NULL,
    PRIMARY KEY (day, key_id, model, provider_id)
);
