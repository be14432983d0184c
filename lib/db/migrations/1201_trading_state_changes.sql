-- Execution (issue 12): the key of a fill (below), and every change of a trading run's state (active / reducing /
-- halted) with the rule and the reason that caused it: a risk overlay (maxDrawdown,
-- dailyLossLimit, manualHalt …), a failed reconciliation, a new trading day lifting
-- `reducing`, or a resume by hand.

CREATE TABLE IF NOT EXISTS tt_trading_state_changes (
  id          bigserial PRIMARY KEY,
  run_id      bigint NOT NULL REFERENCES tt_trading_runs(id) ON DELETE CASCADE,
  bar         timestamptz,
  from_state  text NOT NULL CHECK (from_state IN ('active', 'reducing', 'halted')),
  to_state    text NOT NULL CHECK (to_state IN ('active', 'reducing', 'halted')),
  rule        text,
  reason      text NOT NULL,
  changed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS tt_trading_state_changes_run ON tt_trading_state_changes (run_id, id);

-- An execution is its order's ref (run-unique) with the broker's exec id: exec ids are
-- unique within one broker only (two gateways, or a paper account and IB, repeat them).
ALTER TABLE tt_exec_fills DROP CONSTRAINT IF EXISTS tt_exec_fills_pkey;
ALTER TABLE tt_exec_fills ADD PRIMARY KEY (ref, exec_id);
