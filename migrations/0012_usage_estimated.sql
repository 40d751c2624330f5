-- 1 when the upstream did not report the request's usage (a JSON answer without `usage`, a stream
-- without its usage event, or one that ended early): the tokens charged were estimated — the input
-- from the request's size, the output from the bytes of answer received (one token per four).
ALTER TABLE request_logs ADD COLUMN usage_estimated INTEGER NOT NULL DEFAULT 0;
