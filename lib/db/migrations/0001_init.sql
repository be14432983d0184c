-- Core schema: prices and lineage, features and signals, episodes and models.
CREATE TABLE IF NOT EXISTS tt_instruments (
  symbol            text PRIMARY KEY,
  sec_type          text NOT NULL DEFAULT 'STK',
  exchange          text,
  primary_exchange  text,
  currency          text,
  con_id            bigint,
  first_bar         timestamptz,
  updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS tt_ingest_runs (
  id            bigserial PRIMARY KEY,
  source        text NOT NULL,
  parameters    jsonb NOT NULL DEFAULT '{}'::jsonb,
  started_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz,
  rows_written  bigint NOT NULL DEFAULT 0,
  status        text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'ok', 'failed')),
  message       text
);

CREATE TABLE IF NOT EXISTS tt_prices (
  instrument  text NOT NULL,
  bar_size    text NOT NULL,
  timestamp   timestamptz NOT NULL,
  open        double precision NOT NULL,
  high        double precision NOT NULL,
  low         double precision NOT NULL,
  close       double precision NOT NULL,
  volume      double precision NOT NULL,
  PRIMARY KEY (instrument, bar_size, timestamp)
);

CREATE TABLE IF NOT EXISTS tt_data_quality (
  instrument  text NOT NULL,
  bar_size    text NOT NULL,
  day         date NOT NULL,
  class       text NOT NULL CHECK (class IN ('present', 'missing', 'not_listed', 'suspicious')),
  detail      text,
  PRIMARY KEY (instrument, bar_size, day)
);

CREATE TABLE IF NOT EXISTS tt_features (
  instrument  text NOT NULL,
  bar_size    text NOT NULL DEFAULT '1 day',
  timestamp   timestamptz NOT NULL,
  feature     text NOT NULL,
  value       double precision NOT NULL,
  PRIMARY KEY (instrument, bar_size, timestamp, feature)
);

CREATE TABLE IF NOT EXISTS tt_signal_scores (
  instrument   text NOT NULL,
  bar_size     text NOT NULL DEFAULT '1 day',
  timestamp    timestamptz NOT NULL,
  signal_name  text NOT NULL,
  score        double precision NOT NULL,
  meta_json    jsonb NOT NULL DEFAULT '{}'::jsonb,
  PRIMARY KEY (instrument, bar_size, timestamp, signal_name)
);

CREATE TABLE IF NOT EXISTS tt_models (
  id           bigserial PRIMARY KEY,
  name         text NOT NULL,
  version      integer NOT NULL,
  path         text NOT NULL,
  config_json  jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (name, version)
);

CREATE TABLE IF NOT EXISTS tt_train_runs (
  id           bigserial PRIMARY KEY,
  started_at   timestamptz NOT NULL DEFAULT now(),
  finished_at  timestamptz,
  model_id     bigint REFERENCES tt_models(id),
  config_json  jsonb NOT NULL DEFAULT '{}'::jsonb
);

CREATE TABLE IF NOT EXISTS tt_train_metrics (
  run_id               bigint NOT NULL REFERENCES tt_train_runs(id) ON DELETE CASCADE,
  update_index         integer NOT NULL,
  timesteps            bigint NOT NULL,
  policy_loss          double precision,
  value_loss           double precision,
  entropy              double precision,
  approx_kl            double precision,
  clip_fraction        double precision,
  explained_variance   double precision,
  mean_episode_return  double precision,
  steps_per_second     double precision,
  PRIMARY KEY (run_id, update_index)
);

CREATE TABLE IF NOT EXISTS tt_episode (
  id            bigserial PRIMARY KEY,
  kind          text NOT NULL DEFAULT 'train' CHECK (kind IN ('train', 'eval', 'benchmark', 'paper', 'live')),
  model_id      bigint REFERENCES tt_models(id),
  run_id        bigint REFERENCES tt_train_runs(id),
  start_time    timestamptz,
  end_time      timestamptz,
  stop_reason   text,
  max_drawdown  double precision,
  sharpe_ratio  double precision,
  turnover      double precision,
  config_json   jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS tt_action (
  episode_id    bigint NOT NULL REFERENCES tt_episode(id) ON DELETE CASCADE,
  timestamp     timestamptz NOT NULL,
  instrument    text NOT NULL,
  action_value  double precision NOT NULL,
  PRIMARY KEY (episode_id, timestamp, instrument)
);

CREATE TABLE IF NOT EXISTS tt_reward (
  episode_id    bigint NOT NULL REFERENCES tt_episode(id) ON DELETE CASCADE,
  timestamp     timestamptz NOT NULL,
  reward_value  double precision NOT NULL,
  PRIMARY KEY (episode_id, timestamp)
);

CREATE TABLE IF NOT EXISTS tt_equity_curve (
  episode_id  bigint NOT NULL REFERENCES tt_episode(id) ON DELETE CASCADE,
  timestamp   timestamptz NOT NULL,
  net_worth   double precision NOT NULL,
  PRIMARY KEY (episode_id, timestamp)
);

CREATE TABLE IF NOT EXISTS tt_target_weights (
  episode_id     bigint NOT NULL REFERENCES tt_episode(id) ON DELETE CASCADE,
  timestamp      timestamptz NOT NULL,
  instrument     text NOT NULL,
  target_weight  double precision NOT NULL,
  strategy       text NOT NULL,
  rationale      text,
  PRIMARY KEY (episode_id, timestamp, instrument)
);
