/**
 * Evaluation: performance metrics, benchmarks, honest statistics (probabilistic
 * Sharpe ratio, bootstrap confidence intervals), walk-forward folds and the
 * self-contained HTML report.
 *
 * @example
 * ```ts
 * import { compareWithBenchmark, equalWeightBuyAndHold } from "@lib/eval/mod.ts";
 * const bh = equalWeightBuyAndHold(panel, { costs: env.costs });
 * console.log(compareWithBenchmark({ timestamps, equity }, bh).verdict);
 * ```
 *
 * @module
 */
export * from "./metrics.ts";
export * from "./benchmarks.ts";
export * from "./statistics.ts";
export * from "./comparison.ts";
export * from "./walk_forward.ts";
export * from "./report.ts";
export * from "./series.ts";
