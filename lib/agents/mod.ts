/**
 * Agents: the PPO algorithm (`ppo.ts`), the policy-network interface it drives
 * (`policy.ts`) and its backends.
 *
 * @module
 */
export * from "./policy.ts";
export * from "./ppo.ts";
export * from "./model_io.ts";
export * from "./kernel_policy.ts";
export * from "./tfjs_policy.ts";
export * from "./tf_backend.ts";
export * from "./ppo_loss.ts";
export * from "./per_asset.ts";
