-- Point-in-time alternative data (earnings, sentiment, insider, options flow, generic):
-- each value carries the time it describes (event_time) and the time it could first have
-- been seen (known_at). A revision is a new row with a later known_at; rows are never
-- overwritten, so any past moment's view can be rebuilt.
CREATE TABLE IF NOT EXISTS tt_alt_data (
  source         text NOT NULL,
  instrument     text NOT NULL,
  field          text NOT NULL,
  event_time     timestamptz NOT NULL,
  known_at       timestamptz NOT NULL,
  value          double precision,
  meta_json      jsonb NOT NULL DEFAULT '{}'::jsonb,
  ingest_run_id  bigint REFERENCES tt_ingest_runs(id) ON DELETE SET NULL,
  PRIMARY KEY (source, instrument, field, event_time, known_at)
);
CREATE INDEX IF NOT EXISTS tt_alt_data_known_idx ON tt_alt_data (instrument, field, known_at);
