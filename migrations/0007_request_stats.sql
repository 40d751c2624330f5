-- Hourly rollups of the request logs, what the dashboard's statistics are read from for closed
-- hours (see gateway-core/src/store/stats.rs). Keys, models and providers are '' where a log row
-- has none. `metric` 0 is latency, 1 is time to first token; `bucket` is the value rounded down to
-- three significant digits.
CREATE TABLE request_stats (
    hour          INTEGER NOT NULL,
    key_id        TEXT NOT NULL,
    model         TEXT NOT NULL,
    provider_id   TEXT NOT NULL,
    requests      INTEGER NOT NULL,
    successes     INTEGER NOT NULL,
    input_tokens  INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL,
    cost_usd      REAL NOT NULL,
    PRIMARY KEY (hour, key_id, model, provider_id)
);
CREATE TABLE request_stat_buckets (
    hour        INTEGER NOT NULL,
    key_id      TEXT NOT NULL,
    model       TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    metric      INTEGER NOT NULL,
    bucket      INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (hour, key_id, model, provider_id, metric, bucket)
);
CREATE TABLE request_stat_errors (
    hour        INTEGER NOT NULL,
    key_id      TEXT NOT NULL,
    model       TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    kind        TEXT NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (hour, key_id, model, provider_id, kind)
);
