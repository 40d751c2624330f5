-- 0004_health: health targets (a model or virtual model checked on an interval) and their runs.

CREATE TABLE health_targets (
    id                     TEXT PRIMARY KEY,
    name                   TEXT NOT NULL,
    display_title          TEXT,
    type                   TEXT NOT NULL,
    target_id              TEXT NOT NULL,
    enabled                INTEGER NOT NULL DEFAULT 1,
    check_interval_seconds INTEGER NOT NULL DEFAULT 300,
    check_prompt           TEXT NOT NULL DEFAULT 'Say "OK"',
    check_config           TEXT NOT NULL DEFAULT '{}',
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL
);

CREATE TABLE health_runs (
    id            TEXT PRIMARY KEY,
    target_id     TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    status        TEXT NOT NULL,
    latency_ms    INTEGER,
    ttft_ms       INTEGER,
    error_type    TEXT,
    error_message TEXT,
    source        TEXT NOT NULL DEFAULT 'probe'
);

CREATE INDEX health_runs_target ON health_runs(target_id, created_at);
