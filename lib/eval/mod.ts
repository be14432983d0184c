/**
 * Evaluation: performance metrics, benchmarks, honest statistics (probabilistic
 * Sharpe ratio, bootstrap confidence intervals) and walk-forward folds. The HTML
 * report that presents them is `lib/viz/html_report.ts` (viz builds on eval, never
 * the other way round).
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
export * from "./folds.ts";
export * from "./series.ts";
export * from "./baselines.ts";
export * from "./survivorship.ts";
export * from "./seeds.ts";
export * from "./attribution.ts";
export * from "./deflated_sharpe.ts";
