-- Execution (issue 12): trading runs of a model through a broker (historical replay,
-- live paper, IB), their orders with every state change, fills, positions and account
-- values per bar with P&L, risk-overlay decisions, the manual kill switch per model and
-- the paper broker's persisted state (one live paper cycle per process).

CREATE TABLE IF NOT EXISTS tt_trading_runs (
  id             bigserial PRIMARY KEY,
  model_id       bigint REFERENCES tt_models(id),
  broker_kind    text NOT NULL CHECK (broker_kind IN ('paper', 'ibkr')),
  account_id     text NOT NULL,
  mode           text NOT NULL CHECK (mode IN ('replay', 'paper', 'ibkr')),
  dry_run        boolean NOT NULL DEFAULT false,
  status         text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'ok', 'failed')),
  trading_state  text NOT NULL DEFAULT 'active' CHECK (trading_state IN ('active', 'reducing', 'halted')),
  state_reason   text,
  settings_json  jsonb NOT NULL DEFAULT '{}'::jsonb,
  cycle_json     jsonb NOT NULL DEFAULT '{}'::jsonb,
  error          text,
  last_bar       timestamptz,
  started_at     timestamptz NOT NULL DEFAULT now(),
  finished_at    timestamptz
);
CREATE INDEX IF NOT EXISTS tt_trading_runs_model ON tt_trading_runs (model_id, mode, account_id);

CREATE TABLE IF NOT EXISTS tt_trading_controls (
  model_id    bigint PRIMARY KEY REFERENCES tt_models(id),
  halted      boolean NOT NULL,
  reason      text,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS tt_exec_orders (
  ref              text PRIMARY KEY,
  run_id           bigint NOT NULL REFERENCES tt_trading_runs(id) ON DELETE CASCADE,
  decision_bar     timestamptz NOT NULL,
  symbol           text NOT NULL,
  side             text NOT NULL CHECK (side IN ('BUY', 'SELL')),
  quantity         double precision NOT NULL,
  order_type       text NOT NULL CHECK (order_type IN ('MKT', 'LMT', 'MOO', 'MOC')),
  limit_price      double precision,
  status           text NOT NULL CHECK (status IN ('planned', 'blocked', 'dry-run', 'submitted',
                     'partially-filled', 'filled', 'cancelled', 'rejected')),
  filled           double precision NOT NULL DEFAULT 0,
  avg_price        double precision,
  broker_order_id  bigint,
  reason           text,
  blocked_rule     text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS tt_exec_orders_run ON tt_exec_orders (run_id, decision_bar);

CREATE TABLE IF NOT EXISTS tt_exec_order_events (
  id         bigserial PRIMARY KEY,
  ref        text NOT NULL REFERENCES tt_exec_orders(ref) ON DELETE CASCADE,
  time       timestamptz NOT NULL,
  status     text NOT NULL,
  filled     double precision NOT NULL,
  remaining  double precision NOT NULL,
  avg_price  double precision,
  message    text
);
CREATE INDEX IF NOT EXISTS tt_exec_order_events_ref ON tt_exec_order_events (ref, id);

CREATE TABLE IF NOT EXISTS tt_exec_fills (
  exec_id          text PRIMARY KEY,
  run_id           bigint NOT NULL REFERENCES tt_trading_runs(id) ON DELETE CASCADE,
  ref              text NOT NULL REFERENCES tt_exec_orders(ref) ON DELETE CASCADE,
  broker_order_id  bigint NOT NULL,
  symbol           text NOT NULL,
  side             text NOT NULL CHECK (side IN ('BUY', 'SELL')),
  quantity         double precision NOT NULL,
  price            double precision NOT NULL,
  commission       double precision,
  slippage         double precision,
  time             timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS tt_exec_fills_run ON tt_exec_fills (run_id, time);

CREATE TABLE IF NOT EXISTS tt_exec_positions (
  run_id          bigint NOT NULL REFERENCES tt_trading_runs(id) ON DELETE CASCADE,
  bar             timestamptz NOT NULL,
  symbol          text NOT NULL,
  quantity        double precision NOT NULL,
  avg_cost        double precision,
  market_price    double precision,
  market_value    double precision,
  unrealized_pnl  double precision,
  realized_pnl    double precision,
  pnl             double precision,
  PRIMARY KEY (run_id, bar, symbol)
);

CREATE TABLE IF NOT EXISTS tt_exec_account (
  run_id                bigint NOT NULL REFERENCES tt_trading_runs(id) ON DELETE CASCADE,
  bar                   timestamptz NOT NULL,
  net_liquidation       double precision NOT NULL,
  cash                  double precision NOT NULL,
  gross_position_value  double precision NOT NULL,
  buying_power          double precision,
  realized_pnl          double precision,
  unrealized_pnl        double precision,
  daily_pnl             double precision,
  pnl                   double precision,
  commission            double precision,
  PRIMARY KEY (run_id, bar)
);

CREATE TABLE IF NOT EXISTS tt_exec_risk_decisions (
  id                 bigserial PRIMARY KEY,
  run_id             bigint NOT NULL REFERENCES tt_trading_runs(id) ON DELETE CASCADE,
  bar                timestamptz NOT NULL,
  ref                text NOT NULL,
  symbol             text NOT NULL,
  allowed            boolean NOT NULL,
  rule               text,
  reason             text NOT NULL,
  adjusted_quantity  double precision,
  trading_state      text NOT NULL
);
CREATE INDEX IF NOT EXISTS tt_exec_risk_decisions_run ON tt_exec_risk_decisions (run_id, bar);

CREATE TABLE IF NOT EXISTS tt_paper_accounts (
  account_id  text PRIMARY KEY,
  state_json  jsonb NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
