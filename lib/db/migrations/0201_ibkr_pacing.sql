-- IBKR ingest: paced requests sent to each gateway, so a new process (a rerun after a
-- crash, a second ingest) keeps IB's pacing rules with the requests made before it.
CREATE TABLE IF NOT EXISTS tt_ibkr_requests (
  gateway   text NOT NULL,
  at_ms     double precision NOT NULL,
  request   text NOT NULL,
  contract  text NOT NULL
);
CREATE INDEX IF NOT EXISTS tt_ibkr_requests_gateway_at ON tt_ibkr_requests (gateway, at_ms);
