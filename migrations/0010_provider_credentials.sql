-- Several credentials per provider: a JSON array of {id, label, sealed, weight, disabled} (the
-- sealed key as `credentials_enc` was; `disabled` is {reason, at} once the upstream refused it
-- with 401/403). `credentials_enc` keeps the first one for binaries that predate this column.
ALTER TABLE providers ADD COLUMN credentials TEXT;
