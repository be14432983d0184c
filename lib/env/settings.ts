/**
 * The env settings a model is trained with and evaluated under: the one home of
 * {@linkcode EnvSettings}, its defaults for a new model, what an absent field of a
 * saved model means, the validating parser of its JSON form (a saved model's
 * `config.env`) and the translation into env options.
 *
 * Cost defaults are not written here: they come from {@linkcode DEFAULT_COSTS}; the
 * action and reward schemes' option defaults come from their own modules
 * ({@linkcode DEFAULT_ALLOCATION_OPTIONS}, {@linkcode DEFAULT_ALLOCATION_LS_OPTIONS},
 * {@linkcode DEFAULT_SCALED_LOG_RETURN_OPTIONS}).
 *
 * @module
 */
import {
  ALLOCATION_BASES,
  type AllocationOptions,
  DEFAULT_ALLOCATION_LS_OPTIONS,
  DEFAULT_ALLOCATION_OPTIONS,
  type LongShortAllocationOptions,
} from "./actions.ts";
import { DEFAULT_COSTS, FEE_MODELS, type FeeModel } from "./costs.ts";
import { NO_FRICTION } from "./friction.ts";
import type { PortfolioEnvOptions } from "./portfolio_env.ts";
import { ACTION_NAMES, type ActionName, REWARD_NAMES, type RewardName } from "./registry.ts";
import { DEFAULT_SCALED_LOG_RETURN_OPTIONS, type ScaledLogReturnOptions } from "./rewards.ts";

/** The env settings a model is trained with and evaluated under (JSON-serialisable). */
export interface EnvSettings {
  /** Action scheme. Default `"allocation"` (long-only, from equal-weight buy & hold). */
  action: ActionName;
  /** Reward scheme. Default `"log-return-scaled"`. */
  reward: RewardName;
  /** Bars of features per instrument in an observation. Default 1. */
  window: number;
  /** How commission is charged (`"bps"` or `"ibkr-fixed"`). Default {@linkcode DEFAULT_COSTS}`.feeModel`. */
  feeModel: FeeModel;
  /** Commission, bps of traded notional (fee model `"bps"`). Default {@linkcode DEFAULT_COSTS}`.costPerTurnBps`. */
  costPerTurnBps: number;
  /** Fixed slippage, bps of traded notional. Default {@linkcode DEFAULT_COSTS}`.slippageBps`. */
  slippageBps: number;
  /** Square-root impact coefficient k (0 = off). Default {@linkcode DEFAULT_COSTS}`.impactK`. */
  impactK: number;
  /** Terminate at this drawdown from the peak, in (0, 1] (null: off). Default null. */
  drawdownStop: number | null;
  /** Cash at reset. Default 1,000,000. */
  initialCash: number;
  /** Training episode length in bars (evaluation runs the whole range). Default 252. */
  episodeLength: number;
  /** Fill at the next bar's open or close. Default `"open"`. */
  executeAt: "open" | "close";
  /**
   * Rebalance band, a weight (fraction of net worth) in `[0, 1)`: an instrument whose
   * `|target - current|` is below it is not traded (`friction.ts`). Default 0.02.
   *
   * Why 0.02, from cost arithmetic alone: with proportional costs λ (commission plus
   * slippage, 10 + 5 bps by default: λ = 0.0015 one way) the optimal policy of a
   * log-utility investor (γ = 1, the objective the log-return rewards maximise) does
   * not trade while a weight stays within δ of its target, with, to first order in λ,
   * `δ ≈ (3/(2γ) · λ · π²(1 − π)²)^(1/3)` (Janeček & Shreve 2004, "Asymptotic analysis
   * for optimal investment and consumption with transaction costs"), π the target
   * weight. For equal weight over the universes the project trains on this is
   * δ ≈ 0.052 at N = 2 (π = 0.5), 0.026 at N = 10, 0.011 at N = 41: 0.02 lies inside
   * that range, below the small universes' optimum (so the 2-asset demo still
   * rebalances) and within a factor two of the 41-name one. It also caps the cost of
   * the smallest trade the policy can make: a score jitter that moves a target by less
   * than 0.02 costs nothing, where without a band every bar's jitter is paid for
   * (Σ|Δw| = 0.5 a bar costs 0.0015 · 0.5 · 252 ≈ 19 % a year).
   */
  band: number;
  /** Trade only every k-th decision of an episode (1: every bar). Default 1. */
  rebalanceEvery: number;
  /** Partial adjustment η in (0, 1] toward the target (1: all the way). Default 1. */
  partialAdjustment: number;
  /** Options of the `"allocation"` scheme. Default {@linkcode DEFAULT_ALLOCATION_OPTIONS}. */
  allocation: Required<AllocationOptions>;
  /** Options of the `"allocation-ls"` scheme. Default {@linkcode DEFAULT_ALLOCATION_LS_OPTIONS}. */
  allocationLs: Required<LongShortAllocationOptions>;
  /**
   * Options of the `"log-return-scaled"` reward (scale, volatility and drawdown
   * penalties). Default {@linkcode DEFAULT_SCALED_LOG_RETURN_OPTIONS}.
   */
  scaledLogReturn: Required<ScaledLogReturnOptions>;
}

/** The fields of {@linkcode EnvSettings} that are objects of options. */
type NestedKey = "allocation" | "allocationLs" | "scaledLogReturn";

/**
 * {@linkcode EnvSettings} in part, as options and flags give them: any field may be
 * absent, and so may any field of a nested option object.
 */
export type EnvSettingsPatch =
  & { [K in Exclude<keyof EnvSettings, NestedKey>]?: EnvSettings[K] }
  & { [K in NestedKey]?: Partial<EnvSettings[K]> };

/**
 * Default {@linkcode EnvSettings} of a new model, chosen so that an agent that learns
 * nothing holds the benchmark: the `allocation` scheme (zero scores hold equal-weight buy &
 * hold, `allocation.base`),
 * the scaled log return (value targets O(1), costs inside the reward) and a rebalance
 * band (see {@linkcode EnvSettings.band}).
 */
export const DEFAULT_ENV_SETTINGS: Readonly<EnvSettings> = Object.freeze({
  action: "allocation",
  reward: "log-return-scaled",
  window: 1,
  feeModel: DEFAULT_COSTS.feeModel,
  costPerTurnBps: DEFAULT_COSTS.costPerTurnBps,
  slippageBps: DEFAULT_COSTS.slippageBps,
  impactK: DEFAULT_COSTS.impactK,
  drawdownStop: null,
  initialCash: 1_000_000,
  episodeLength: 252,
  executeAt: "open",
  band: 0.02,
  rebalanceEvery: NO_FRICTION.rebalanceEvery,
  partialAdjustment: NO_FRICTION.partialAdjustment,
  allocation: DEFAULT_ALLOCATION_OPTIONS,
  allocationLs: DEFAULT_ALLOCATION_LS_OPTIONS,
  scaledLogReturn: DEFAULT_SCALED_LOG_RETURN_OPTIONS,
});

/**
 * What a field absent from a saved model's settings means: the behaviour before the
 * field existed (the `vol-target` scheme, the `risk-aware` reward, bps fees, no impact,
 * no friction), so that an old model is evaluated as it was trained. The parser's
 * default base; {@linkcode DEFAULT_ENV_SETTINGS} is for new models.
 */
export const LEGACY_ENV_SETTINGS: Readonly<EnvSettings> = Object.freeze({
  ...DEFAULT_ENV_SETTINGS,
  action: "vol-target",
  reward: "risk-aware",
  feeModel: "bps",
  impactK: 0,
  band: NO_FRICTION.band,
  rebalanceEvery: NO_FRICTION.rebalanceEvery,
  partialAdjustment: NO_FRICTION.partialAdjustment,
});

const EXECUTE_AT = ["open", "close"] as const;

type Check = (v: unknown) => string | null;
/** A nested option object: one check per field. */
type Nested = { fields: Record<string, Check> };

const oneOf = (names: readonly string[]): Check => (v) =>
  typeof v === "string" && names.includes(v) ? null : `must be one of ${names.join(", ")}`;
const positiveInteger: Check = (v) =>
  typeof v === "number" && Number.isInteger(v) && v >= 1 ? null : "must be a positive integer";
const nonNegative: Check = (v) =>
  typeof v === "number" && Number.isFinite(v) && v >= 0 ? null : "must be a finite number ≥ 0";
const positive: Check = (v) =>
  typeof v === "number" && Number.isFinite(v) && v > 0 ? null : "must be a finite number > 0";
const fractionOrNull: Check = (v) =>
  v === null || (typeof v === "number" && v > 0 && v <= 1) ? null : "must be in (0, 1] or null";
const atLeastTwoBars: Check = (v) =>
  typeof v === "number" && Number.isInteger(v) && v >= 2 ? null : "must be an integer ≥ 2";
const inRange = (lo: number, hi: number, loOpen: boolean, hiOpen: boolean): Check => (v) =>
  typeof v === "number" && (loOpen ? v > lo : v >= lo) && (hiOpen ? v < hi : v <= hi)
    ? null
    : `must be in ${loOpen ? "(" : "["}${lo}, ${hi}${hiOpen ? ")" : "]"}`;
const atLeastOne: Check = (v) =>
  typeof v === "number" && Number.isFinite(v) && v >= 1 ? null : "must be a finite number ≥ 1";

/** What each field must be (the keys are exactly the fields of {@linkcode EnvSettings}). */
const CHECKS: Record<Exclude<keyof EnvSettings, NestedKey>, Check> & Record<NestedKey, Nested> = {
  action: oneOf(ACTION_NAMES),
  reward: oneOf(REWARD_NAMES),
  window: positiveInteger,
  feeModel: oneOf(FEE_MODELS),
  costPerTurnBps: nonNegative,
  slippageBps: nonNegative,
  impactK: nonNegative,
  drawdownStop: fractionOrNull,
  initialCash: positive,
  episodeLength: atLeastTwoBars,
  executeAt: oneOf(EXECUTE_AT),
  band: inRange(0, 1, false, true),
  rebalanceEvery: positiveInteger,
  partialAdjustment: inRange(0, 1, true, false),
  allocation: {
    fields: {
      cashShare: inRange(0, 1, false, true),
      cashReach: inRange(0, 1, true, false),
      scoreScale: inRange(0, 20, true, false),
      base: oneOf(ALLOCATION_BASES),
    },
  },
  allocationLs: {
    fields: { cashShare: inRange(0, 1, false, true), maxTilt: nonNegative, maxGross: atLeastOne },
  },
  scaledLogReturn: {
    fields: {
      scale: positive,
      volPenalty: nonNegative,
      drawdownPenalty: nonNegative,
      window: positiveInteger,
    },
  },
};

const show = (v: unknown) => JSON.stringify(v) ?? String(v);

/**
 * Parses and validates env settings read back from JSON (a saved model's
 * `config.env`, a train run's config) or given in part (options and flags). Absent or
 * `undefined` fields, top-level or inside a nested option object, take `base`'s value;
 * unknown fields and bad values are refused.
 * @param json The parsed JSON value (an object).
 * @param where What the value is, for error messages. Default `"env"`.
 * @param base Where absent fields come from. Default {@linkcode LEGACY_ENV_SETTINGS}
 *   (a saved model missing a field was trained before it existed); pass
 *   {@linkcode DEFAULT_ENV_SETTINGS} for a new model, a parent's settings for a resume.
 * @returns Complete, valid settings (a fresh object, nested objects included).
 * @throws {TypeError} Naming the bad field and value, e.g.
 *   `env.window must be a positive integer, got "x"`,
 *   `env.allocation.cashShare must be in [0, 1), got 1`, or an unknown field.
 * @example
 * ```ts
 * const old = parseEnvSettings(JSON.parse('{"action":"discrete","window":5}'));
 * old.band; // 0: a saved model without a band traded without one
 * const fresh = parseEnvSettings({ band: 0.01 }, "env", DEFAULT_ENV_SETTINGS);
 * fresh.action; // "allocation"
 * ```
 */
export function parseEnvSettings(
  json: unknown,
  where = "env",
  base: Readonly<EnvSettings> = LEGACY_ENV_SETTINGS,
): EnvSettings {
  const given = objectAt(json, where, "an object of env settings");
  for (const key of Object.keys(given)) {
    if (!Object.hasOwn(CHECKS, key)) {
      throw new TypeError(
        `${where}.${key} is not an env setting (known: ${Object.keys(CHECKS).join(", ")})`,
      );
    }
  }
  const scalar = <K extends Exclude<keyof EnvSettings, NestedKey>>(k: K): EnvSettings[K] => {
    const v = given[k];
    if (v === undefined) return base[k];
    const problem = CHECKS[k](v);
    if (problem !== null) throw new TypeError(`${where}.${k} ${problem}, got ${show(v)}`);
    return v as EnvSettings[K];
  };
  const nested = <K extends NestedKey>(k: K): EnvSettings[K] => {
    const from: Record<string, unknown> = { ...base[k] };
    const v = given[k];
    if (v === undefined) return { ...base[k] };
    const sub = objectAt(v, `${where}.${k}`, "an object");
    const fields = CHECKS[k].fields;
    for (const key of Object.keys(sub)) {
      if (!Object.hasOwn(fields, key)) {
        throw new TypeError(
          `${where}.${k}.${key} is not an option of ${k} (known: ${
            Object.keys(fields).join(", ")
          })`,
        );
      }
    }
    for (const [f, check] of Object.entries(fields)) {
      const x = sub[f];
      if (x === undefined) continue;
      const problem = check(x);
      if (problem !== null) throw new TypeError(`${where}.${k}.${f} ${problem}, got ${show(x)}`);
      from[f] = x;
    }
    // Every field was checked (a number in range) or copied from base.
    return from as EnvSettings[K];
  };
  return {
    action: scalar("action"),
    reward: scalar("reward"),
    window: scalar("window"),
    feeModel: scalar("feeModel"),
    costPerTurnBps: scalar("costPerTurnBps"),
    slippageBps: scalar("slippageBps"),
    impactK: scalar("impactK"),
    drawdownStop: scalar("drawdownStop"),
    initialCash: scalar("initialCash"),
    episodeLength: scalar("episodeLength"),
    executeAt: scalar("executeAt"),
    band: scalar("band"),
    rebalanceEvery: scalar("rebalanceEvery"),
    partialAdjustment: scalar("partialAdjustment"),
    allocation: nested("allocation"),
    allocationLs: nested("allocationLs"),
    scaledLogReturn: nested("scaledLogReturn"),
  };
}

function objectAt(v: unknown, where: string, what: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new TypeError(`${where} must be ${what}, got ${show(v)}`);
  }
  return v as Record<string, unknown>;
}

/**
 * The env options for {@linkcode EnvSettings}: schemes and their options, costs,
 * friction, stop and start settings.
 * @param s Settings.
 * @param training With `episodeLength` as `maxSteps` (training) or without (a full evaluation pass).
 * @returns Options for `makePortfolioEnv` / `makePortfolioVecEnv`.
 * @example
 * ```ts
 * const env = makePortfolioEnv(prices, features, envOptionsFor(DEFAULT_ENV_SETTINGS, false));
 * ```
 */
export function envOptionsFor(s: EnvSettings, training: boolean): PortfolioEnvOptions {
  return {
    action: s.action,
    actionOptions: { allocation: { ...s.allocation }, allocationLs: { ...s.allocationLs } },
    reward: s.reward,
    rewardOptions: { scaledLogReturn: { ...s.scaledLogReturn } },
    window: s.window,
    executeAt: s.executeAt,
    feeModel: s.feeModel,
    costPerTurnBps: s.costPerTurnBps,
    slippageBps: s.slippageBps,
    impactK: s.impactK,
    initialCash: s.initialCash,
    band: s.band,
    rebalanceEvery: s.rebalanceEvery,
    partialAdjustment: s.partialAdjustment,
    ...(s.drawdownStop === null ? {} : { drawdownStop: s.drawdownStop }),
    ...(training ? { maxSteps: s.episodeLength } : {}),
  };
}
