/**
 * Scale-out: hyperparameter sweeps, seeds and walk-forward folds as jobs. A sweep
 * definition ({@linkcode parseSweepDefinition}) is expanded into one job per
 * (setting, seed, fold) ({@linkcode planSweep}); {@linkcode submitSweep} puts them on
 * the pg-boss queue of a PostgreSQL server for {@linkcode runSweepWorker}s on any number
 * of machines, or runs them in-process on PGlite; every job runs through
 * {@linkcode executeSweepJob} (`trainModel` + `evaluateModel`, the code of
 * `deno task train` and `deno task evaluate`). {@linkcode sweepStatus} ranks the settings
 * by their out-of-sample median over seeds, with the deflated Sharpe ratio of the winner.
 *
 * @example
 * ```ts
 * import { parseSweepDefinition, planSweep, submitSweep, sweepStatus } from "@lib/jobs/mod.ts";
 * const def = parseSweepDefinition({ grid: { lr: [3e-4, 1e-3] }, seeds: "1..3", steps: 2048 });
 * const { sweepId } = await submitSweep(store, await planSweep(store, def));
 * console.log((await sweepStatus(store, sweepId)).leaderboard.note);
 * ```
 *
 * @module
 */
export * from "./sweep_definition.ts";
export * from "./sweep_plan.ts";
export * from "./run_job.ts";
export * from "./queue.ts";
export * from "./worker.ts";
export * from "./retrain_queue.ts";
export * from "./leaderboard.ts";
export * from "./sweep.ts";
