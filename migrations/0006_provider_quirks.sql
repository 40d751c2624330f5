-- Per-provider quirks of an upstream's API, as JSON (see `provider::Quirks`). OpenAI's own API
-- and Azure OpenAI take the output limit as `max_completion_tokens` (their reasoning models refuse
-- `max_tokens`); providers created from those presets before this column existed get that too.
ALTER TABLE providers ADD COLUMN quirks TEXT NOT NULL DEFAULT '{}';
UPDATE providers SET quirks = '{"max_tokens_field":"max_completion_tokens"}'
    WHERE protocol = 'openai_chat'
      AND (base_url LIKE 'https://api.openai.com/%' OR base_url LIKE 'https://%.openai.azure.com/%');
