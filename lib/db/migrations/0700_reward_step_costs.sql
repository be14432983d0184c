-- Per-step costs next to each reward, so a report read back from the store shows
-- exactly what was paid (commission, slippage) and traded (turnover) at every step.
ALTER TABLE tt_reward ADD COLUMN IF NOT EXISTS cost double precision;
ALTER TABLE tt_reward ADD COLUMN IF NOT EXISTS slippage double precision;
ALTER TABLE tt_reward ADD COLUMN IF NOT EXISTS turnover double precision;
