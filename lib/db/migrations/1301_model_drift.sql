-- Drift measurements of a model: one row per computation (feature or performance drift)
-- with its window and verdict, and the per-feature, per-instrument figures.
CREATE TABLE IF NOT EXISTS tt_drift_runs (
  id            bigserial PRIMARY KEY,
  model_id      bigint REFERENCES tt_models(id) ON DELETE SET NULL,
  kind          text NOT NULL CHECK (kind IN ('feature', 'performance')),
  computed_at   timestamptz NOT NULL DEFAULT now(),
  window_start  timestamptz,
  window_end    timestamptz,
  drifted       boolean NOT NULL,
  summary_json  jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX IF NOT EXISTS tt_drift_runs_model_idx ON tt_drift_runs (model_id, kind, id);

CREATE TABLE IF NOT EXISTS tt_feature_drift (
  run_id      bigint NOT NULL REFERENCES tt_drift_runs(id) ON DELETE CASCADE,
  instrument  text NOT NULL,
  feature     text NOT NULL,
  psi         double precision,
  psi_p       double precision,
  ks_d        double precision,
  ks_p        double precision,
  n_train     integer NOT NULL,
  n_recent    integer NOT NULL,
  drifted     boolean NOT NULL,
  PRIMARY KEY (run_id, instrument, feature)
);
