-- Champion/challenger pairs: two trading runs on the same bars, the challenger's book
-- paper-filled beside the champion's (a shadow, or a capital split in paper mode).
CREATE TABLE IF NOT EXISTS tt_ab_pairs (
  id                 bigserial PRIMARY KEY,
  champion_run_id    bigint NOT NULL REFERENCES tt_trading_runs(id) ON DELETE CASCADE,
  challenger_run_id  bigint NOT NULL REFERENCES tt_trading_runs(id) ON DELETE CASCADE,
  champion_model_id  bigint REFERENCES tt_models(id) ON DELETE SET NULL,
  challenger_model_id bigint REFERENCES tt_models(id) ON DELETE SET NULL,
  mode               text NOT NULL CHECK (mode IN ('shadow', 'split')),
  split              double precision,
  created_at         timestamptz NOT NULL DEFAULT now(),
  UNIQUE (champion_run_id, challenger_run_id)
);
CREATE INDEX IF NOT EXISTS tt_ab_pairs_models ON tt_ab_pairs (champion_model_id, challenger_model_id, id);

-- Retraining jobs a trigger enqueued: the rule that fired, the job spec, and the
-- challenger it registered.
CREATE TABLE IF NOT EXISTS tt_retrain_jobs (
  id               bigserial PRIMARY KEY,
  model_id         bigint REFERENCES tt_models(id) ON DELETE SET NULL,
  model_name       text NOT NULL,
  status           text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'ok', 'failed')),
  reasons_json     jsonb NOT NULL DEFAULT '[]'::jsonb,
  spec_json        jsonb NOT NULL DEFAULT '{}'::jsonb,
  result_json      jsonb,
  result_model_id  bigint REFERENCES tt_models(id) ON DELETE SET NULL,
  error            text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz
);
CREATE INDEX IF NOT EXISTS tt_retrain_jobs_name ON tt_retrain_jobs (model_name, id);
