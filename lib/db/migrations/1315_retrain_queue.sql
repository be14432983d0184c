-- Retraining jobs on the job engine (pg-boss queue `tt-retrain` of lib/jobs): how many
-- times a worker started the job, which worker last did, the pg-boss job id, and the
-- state `retry` (failed, to be tried again).
ALTER TABLE tt_retrain_jobs ADD COLUMN IF NOT EXISTS attempts integer NOT NULL DEFAULT 0;
ALTER TABLE tt_retrain_jobs ADD COLUMN IF NOT EXISTS worker text;
ALTER TABLE tt_retrain_jobs ADD COLUMN IF NOT EXISTS queue_job_id text;
ALTER TABLE tt_retrain_jobs DROP CONSTRAINT IF EXISTS tt_retrain_jobs_status_check;
ALTER TABLE tt_retrain_jobs ADD CONSTRAINT tt_retrain_jobs_status_check
  CHECK (status IN ('queued', 'running', 'retry', 'ok', 'failed'));
