-- 1 when the upstream did not report the request's usage (a JSON answer without `usage`, a stream
-- without its usage event, or one that ended early): the tokens charged were estimated — the input
-- from the request's size, the output from the bytes of answer received (one token per four).
ALTER TABLE request_logs ADD COLUMN usage_estimated INTEGER NOT NULL DEFAULT 0;
-- What translating the request lost, as JSON: {"from", "to", "dropped": [the caller's fields the
-- upstream's protocol has no place for], "dropped_tools": [hosted tools of another provider],
-- "approximated": [settings mapped to the nearest the upstream has]}; NULL when not translated.
ALTER TABLE request_logs ADD COLUMN translation TEXT;
