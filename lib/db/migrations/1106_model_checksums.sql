-- SHA-256 of every file of a saved model directory (model.json included), by file
-- name: how a directory is recognised as this registry row (issue 11, item 6). Null
-- for models registered before checksums were recorded.
ALTER TABLE tt_models ADD COLUMN IF NOT EXISTS checksums jsonb;
CREATE INDEX IF NOT EXISTS tt_models_path_idx ON tt_models (path);
