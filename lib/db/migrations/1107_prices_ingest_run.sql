-- The ingest run that last wrote each bar (issue 11, item 15): set when a bar is inserted
-- and when an upsert really changes it (a rerun of identical rows keeps the old run id).
-- Null for bars written before this column existed or without a run. The quality report
-- reads it to say which run wrote which date range and to find spliced series.
ALTER TABLE tt_prices
  ADD COLUMN IF NOT EXISTS ingest_run_id bigint REFERENCES tt_ingest_runs (id) ON DELETE SET NULL;
