-- 0001_init: the foundation tables. Forward-only: never edit a migration that has shipped;
-- add a new NNNN_name.sql instead. Times are Unix milliseconds. One statement per `;` line end.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL DEFAULT 'admin',
    token_version INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE providers (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    protocol        TEXT NOT NULL,
    base_url        TEXT NOT NULL,
    auth_scheme     TEXT NOT NULL,
    credentials_enc TEXT,
    extra_headers   TEXT NOT NULL DEFAULT '{}',
    enabled         INTEGER NOT NULL DEFAULT 1,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE models (
    id                         TEXT PRIMARY KEY,
    name                       TEXT NOT NULL UNIQUE,
    provider_id                TEXT NOT NULL REFERENCES providers(id),
    upstream_model             TEXT NOT NULL,
    display_name               TEXT,
    enabled                    INTEGER NOT NULL DEFAULT 1,
    context_window             INTEGER,
    max_output_tokens          INTEGER,
    input_cost_per_token       REAL,
    output_cost_per_token      REAL,
    cached_input_cost_per_token REAL,
    capabilities               TEXT NOT NULL DEFAULT '{}',
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL
);

CREATE INDEX models_provider ON models(provider_id);

CREATE TABLE virtual_keys (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    key_hash       TEXT NOT NULL UNIQUE,
    key_prefix     TEXT NOT NULL,
    enabled        INTEGER NOT NULL DEFAULT 1,
    expires_at     INTEGER,
    allowed_models TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

CREATE TABLE request_logs (
    id               TEXT PRIMARY KEY,
    created_at       INTEGER NOT NULL,
    request_id       TEXT NOT NULL,
    key_id           TEXT,
    endpoint         TEXT NOT NULL,
    model_requested  TEXT,
    model_served     TEXT,
    provider_id      TEXT,
    protocol_in      TEXT,
    protocol_out     TEXT,
    stream           INTEGER NOT NULL DEFAULT 0,
    status           INTEGER NOT NULL,
    error_kind       TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    latency_ms       INTEGER NOT NULL,
    ttft_ms          INTEGER,
    input_tokens     INTEGER,
    output_tokens    INTEGER,
    cached_tokens    INTEGER,
    reasoning_tokens INTEGER,
    cost_usd         REAL,
    client_ip        TEXT,
    user_agent       TEXT
);

CREATE INDEX request_logs_created ON request_logs(created_at);
CREATE INDEX request_logs_key ON request_logs(key_id, created_at);
