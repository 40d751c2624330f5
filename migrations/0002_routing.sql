-- 0002_routing: virtual models (routing configs with targets and prompt rules) and per-provider
-- relay isolation. Targets, rules and config are JSON documents validated by the admin API.

CREATE TABLE virtual_models (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT,
    strategy    TEXT NOT NULL DEFAULT 'priority',
    targets     TEXT NOT NULL DEFAULT '[]',
    rules       TEXT NOT NULL DEFAULT '[]',
    config      TEXT NOT NULL DEFAULT '{}',
    enabled     INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

ALTER TABLE providers ADD COLUMN isolation TEXT NOT NULL DEFAULT '{}';
