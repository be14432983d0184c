/**
 * Typed name → factory maps for CLIs (`--action vol-target|discrete|allocation|allocation-ls`,
 * `--reward risk-aware|log-return|dsr|log-return-scaled`). No string registry or global context: the
 * names are the keys of these objects, and their types follow from them.
 *
 * @module
 */
import {
  type ActionScheme,
  AllocationAction,
  type AllocationOptions,
  type DiscreteActionOptions,
  LongShortAllocationAction,
  type LongShortAllocationOptions,
  SimpleDiscreteAction,
  VolatilityTargetedAction,
  type VolTargetOptions,
} from "./actions.ts";
import {
  DifferentialSharpeReward,
  type DsrOptions,
  LogReturnReward,
  type RewardScheme,
  type RiskAwareOptions,
  RiskAwareReward,
  type ScaledLogReturnOptions,
  ScaledLogReturnReward,
} from "./rewards.ts";

/** Options of every action scheme, by scheme. */
export interface ActionOptions {
  volTarget?: VolTargetOptions;
  discrete?: DiscreteActionOptions;
  /** For `"allocation"`. */
  allocation?: AllocationOptions;
  /** For `"allocation-ls"`. */
  allocationLs?: LongShortAllocationOptions;
}

/** Builds an action scheme for N instruments. */
export type ActionFactory = (numInstruments: number, options?: ActionOptions) => ActionScheme;

/**
 * Action schemes by CLI name.
 * @example
 * ```ts
 * const scheme = ACTIONS["vol-target"](5, { volTarget: { targetVol: 0.15 } });
 * ```
 */
export const ACTIONS = {
  "vol-target": (n: number, o: ActionOptions = {}) => new VolatilityTargetedAction(n, o.volTarget),
  "discrete": (n: number, o: ActionOptions = {}) => new SimpleDiscreteAction(n, o.discrete),
  "allocation": (n: number, o: ActionOptions = {}) => new AllocationAction(n, o.allocation),
  "allocation-ls": (n: number, o: ActionOptions = {}) =>
    new LongShortAllocationAction(n, o.allocationLs),
} satisfies Record<string, ActionFactory>;

/** A key of {@linkcode ACTIONS}. */
export type ActionName = keyof typeof ACTIONS;
/** The names of {@linkcode ACTIONS}, for `--help` and validation. */
export const ACTION_NAMES = Object.keys(ACTIONS) as ActionName[];

/** Options of every reward scheme, by scheme. */
export interface RewardOptions {
  riskAware?: RiskAwareOptions;
  dsr?: DsrOptions;
  /** For `"log-return-scaled"`. */
  scaledLogReturn?: ScaledLogReturnOptions;
}

/** Builds a fresh reward scheme (reward schemes may hold per-episode statistics). */
export type RewardFactory = (options?: RewardOptions) => RewardScheme;

/**
 * Reward schemes by CLI name.
 * @example
 * ```ts
 * const reward = REWARDS.dsr({ dsr: { eta: 0.05 } });
 * ```
 */
export const REWARDS = {
  "risk-aware": (o: RewardOptions = {}) => new RiskAwareReward(o.riskAware),
  "log-return": (_o: RewardOptions = {}) => new LogReturnReward(),
  "dsr": (o: RewardOptions = {}) => new DifferentialSharpeReward(o.dsr),
  "log-return-scaled": (o: RewardOptions = {}) => new ScaledLogReturnReward(o.scaledLogReturn),
} satisfies Record<string, RewardFactory>;

/** A key of {@linkcode REWARDS}. */
export type RewardName = keyof typeof REWARDS;
/** The names of {@linkcode REWARDS}. */
export const REWARD_NAMES = Object.keys(REWARDS) as RewardName[];

/**
 * Narrows a CLI string to an action name.
 * @param name User input.
 * @returns The name, typed.
 * @throws {RangeError} Naming the valid choices.
 * @example
 * ```ts
 * parseActionName("discrete");
 * ```
 */
export function parseActionName(name: string): ActionName {
  if (!Object.hasOwn(ACTIONS, name)) {
    throw new RangeError(`Unknown action scheme "${name}": use one of ${ACTION_NAMES.join(", ")}`);
  }
  return name as ActionName;
}

/**
 * Narrows a CLI string to a reward name.
 * @param name User input.
 * @returns The name, typed.
 * @throws {RangeError} Naming the valid choices.
 * @example
 * ```ts
 * parseRewardName("dsr");
 * ```
 */
export function parseRewardName(name: string): RewardName {
  if (!Object.hasOwn(REWARDS, name)) {
    throw new RangeError(`Unknown reward scheme "${name}": use one of ${REWARD_NAMES.join(", ")}`);
  }
  return name as RewardName;
}
