-- The model catalog (LiteLLM's and models.dev's public model lists), one row per source and model;
-- `entry` is the parsed attributes as JSON. Replaced whole on every refresh.
CREATE TABLE catalog_models (
    source TEXT NOT NULL,
    name   TEXT NOT NULL,
    entry  TEXT NOT NULL,
    PRIMARY KEY (source, name)
);
