/**
 * The research pipeline: stored bars → price and feature panels → portfolio envs →
 * PPO training → saved, registered model → deterministic out-of-sample evaluation
 * against buy & hold → walk-forward folds. Tasks and notebooks call these; every
 * step logs to the store (train runs, metrics, episodes, models).
 *
 * @module
 */
export * from "./market.ts";
export * from "./backends.ts";
export * from "./models.ts";
export * from "./rollout.ts";
export * from "./train.ts";
export * from "./evaluate.ts";
export * from "./walk_forward.ts";
export * from "./episode_report.ts";
export * from "./demo.ts";
export * from "./sample_store.ts";
export * from "./trade.ts";
export * from "./shadow.ts";
export * from "./retrain.ts";
export * from "./trade_watch.ts";
