-- Hyperparameter sweeps (issue 15): a sweep is a definition expanded into one job per
-- (setting, seed, walk-forward fold). The queue that hands jobs to workers is pg-boss's
-- (schema pgboss, on a server); these tables hold what the project needs to know about
-- each job: its spec, how often a worker started it, its outcome and its result.
CREATE TABLE IF NOT EXISTS tt_sweeps (
  id              bigserial PRIMARY KEY,
  name            text NOT NULL,
  -- The validated sweep definition as submitted (grid, seeds, folds, base options).
  definition      jsonb NOT NULL,
  -- Distinct settings (hyperparameter configurations) tried: the N of the deflated Sharpe ratio.
  configurations  integer NOT NULL CHECK (configurations >= 1),
  mode            text NOT NULL CHECK (mode IN ('queue', 'in-process')),
  created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS tt_sweep_jobs (
  id               bigserial PRIMARY KEY,
  sweep_id         bigint NOT NULL REFERENCES tt_sweeps(id) ON DELETE CASCADE,
  -- The idempotency key: `<sweep>/<setting>/s<seed>/f<fold>`; a completed key never runs again.
  job_key          text NOT NULL UNIQUE,
  setting_index    integer NOT NULL,
  setting_key      text NOT NULL,
  seed             integer NOT NULL,
  fold             integer NOT NULL,
  spec             jsonb NOT NULL,
  state            text NOT NULL DEFAULT 'created'
                   CHECK (state IN ('created', 'active', 'retry', 'completed', 'failed')),
  -- pg-boss's job id (null in-process).
  queue_job_id     text,
  -- How many times a worker started this job (a kill -9 or a failure makes it more than 1).
  runs             integer NOT NULL DEFAULT 0,
  worker           text,
  error            text,
  model_id         bigint REFERENCES tt_models(id) ON DELETE SET NULL,
  result           jsonb,
  created_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  finished_at      timestamptz
);
CREATE INDEX IF NOT EXISTS tt_sweep_jobs_sweep_idx ON tt_sweep_jobs (sweep_id, setting_index, seed, fold);
