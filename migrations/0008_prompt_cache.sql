-- Prompt caching priced and counted on its own: the price of writing a token to a provider's
-- prompt cache (reads have `cached_input_cost_per_token` already), the tokens written per request,
-- and what caching saved (reads at the input price minus their cost, less what writes cost above
-- the input price; negative when writes outweigh reads).
ALTER TABLE models ADD COLUMN cache_write_cost_per_token REAL;
ALTER TABLE request_logs ADD COLUMN cache_write_tokens INTEGER;
ALTER TABLE request_logs ADD COLUMN cache_savings_usd REAL;
ALTER TABLE request_stats ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE request_stats ADD COLUMN cache_savings_usd REAL NOT NULL DEFAULT 0;
