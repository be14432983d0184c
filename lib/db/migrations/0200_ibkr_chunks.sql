-- IBKR ingest: which historical-data requests completed, written in the same
-- transaction as their bars, so a rerun skips ranges already fetched (resume).
CREATE TABLE IF NOT EXISTS tt_ibkr_chunks (
  symbol        text NOT NULL,
  bar_size      text NOT NULL,
  what_to_show  text NOT NULL,
  use_rth       boolean NOT NULL,
  chunk_start   timestamptz NOT NULL,
  chunk_end     timestamptz NOT NULL,
  rows          integer NOT NULL,
  fetched_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (symbol, bar_size, what_to_show, use_rth, chunk_start, chunk_end)
);
