-- Prices of the OpenAI endpoints that are not billed by the token: a JSON object
-- {per_image, per_second, per_character, per_query} (images generated or edited, seconds of audio
-- transcribed, characters spoken, rerank queries); NULL or missing keys are no price.
ALTER TABLE models ADD COLUMN unit_prices TEXT;
