/**
 * The multi-asset portfolio environment and its parts: spaces, the market simulator
 * (execution at the next bar, costs and slippage), trading friction, action schemes,
 * reward schemes, stoppers, the typed CLI registry, the env settings of a model, the
 * vectorised env and the env checker.
 *
 * @module
 */
export * from "./types.ts";
export * from "./spaces.ts";
export * from "./costs.ts";
export * from "./settings.ts";
export * from "./friction.ts";
export * from "./simulator.ts";
export * from "./actions.ts";
export * from "./rewards.ts";
export * from "./stoppers.ts";
export * from "./registry.ts";
export * from "./portfolio_env.ts";
export * from "./vec_env.ts";
export * from "./episode.ts";
export * from "./check_env.ts";
