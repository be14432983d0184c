/**
 * The env settings a model is trained with and evaluated under: the one home of
 * {@linkcode EnvSettings}, its defaults, the validating parser of its JSON form
 * (a saved model's `config.env`) and the translation into env options.
 *
 * Cost defaults are not written here: they come from {@linkcode DEFAULT_COSTS}.
 *
 * @module
 */
import { DEFAULT_COSTS } from "./costs.ts";
import type { PortfolioEnvOptions } from "./portfolio_env.ts";
import { ACTION_NAMES, type ActionName, REWARD_NAMES, type RewardName } from "./registry.ts";

/** The env settings a model is trained with and evaluated under (JSON-serialisable). */
export interface EnvSettings {
  /** Action scheme. Default `"vol-target"`. */
  action: ActionName;
  /** Reward scheme. Default `"risk-aware"`. */
  reward: RewardName;
  /** Bars of features per instrument in an observation. Default 1. */
  window: number;
  /** Commission, bps of traded notional. Default {@linkcode DEFAULT_COSTS}`.costPerTurnBps`. */
  costPerTurnBps: number;
  /** Fixed slippage, bps of traded notional. Default {@linkcode DEFAULT_COSTS}`.slippageBps`. */
  slippageBps: number;
  /** Terminate at this drawdown from the peak, in (0, 1] (null: off). Default null. */
  drawdownStop: number | null;
  /** Cash at reset. Default 1,000,000. */
  initialCash: number;
  /** Training episode length in bars (evaluation runs the whole range). Default 252. */
  episodeLength: number;
  /** Fill at the next bar's open or close. Default `"open"`. */
  executeAt: "open" | "close";
}

/** Default {@linkcode EnvSettings}. */
export const DEFAULT_ENV_SETTINGS: Readonly<EnvSettings> = Object.freeze({
  action: "vol-target",
  reward: "risk-aware",
  window: 1,
  costPerTurnBps: DEFAULT_COSTS.costPerTurnBps,
  slippageBps: DEFAULT_COSTS.slippageBps,
  drawdownStop: null,
  initialCash: 1_000_000,
  episodeLength: 252,
  executeAt: "open",
});

const EXECUTE_AT = ["open", "close"] as const;

type Check = (v: unknown) => string | null;

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

/** What each field must be (the keys are exactly the fields of {@linkcode EnvSettings}). */
const CHECKS: Record<keyof EnvSettings, Check> = {
  action: oneOf(ACTION_NAMES),
  reward: oneOf(REWARD_NAMES),
  window: positiveInteger,
  costPerTurnBps: nonNegative,
  slippageBps: nonNegative,
  drawdownStop: fractionOrNull,
  initialCash: positive,
  episodeLength: atLeastTwoBars,
  executeAt: oneOf(EXECUTE_AT),
};

/**
 * Parses and validates env settings read back from JSON (a saved model's
 * `config.env`, a train run's config) or given in part (command-line flags).
 * Absent or `undefined` fields take their defaults (models saved before a field
 * existed); unknown fields and bad values are refused.
 * @param json The parsed JSON value (an object).
 * @param where What the value is, for error messages. Default `"env"`.
 * @returns Complete, valid settings (a fresh object).
 * @throws {TypeError} Naming the bad field and value, e.g.
 *   `env.window must be a positive integer, got "x"`, or an unknown field.
 * @example
 * ```ts
 * const env = parseEnvSettings(JSON.parse('{"action":"discrete","window":5}'));
 * env.costPerTurnBps; // 10, the default
 * ```
 */
export function parseEnvSettings(json: unknown, where = "env"): EnvSettings {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new TypeError(
      `${where} must be an object of env settings, got ${JSON.stringify(json) ?? String(json)}`,
    );
  }
  const given = json as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!Object.hasOwn(CHECKS, key)) {
      throw new TypeError(
        `${where}.${key} is not an env setting (known: ${Object.keys(CHECKS).join(", ")})`,
      );
    }
  }
  const field = <K extends keyof EnvSettings>(k: K): EnvSettings[K] => {
    const v = given[k];
    if (v === undefined) return DEFAULT_ENV_SETTINGS[k];
    const problem = CHECKS[k](v);
    if (problem !== null) {
      throw new TypeError(`${where}.${k} ${problem}, got ${JSON.stringify(v) ?? String(v)}`);
    }
    return v as EnvSettings[K];
  };
  return {
    action: field("action"),
    reward: field("reward"),
    window: field("window"),
    costPerTurnBps: field("costPerTurnBps"),
    slippageBps: field("slippageBps"),
    drawdownStop: field("drawdownStop"),
    initialCash: field("initialCash"),
    episodeLength: field("episodeLength"),
    executeAt: field("executeAt"),
  };
}

/**
 * The env options for {@linkcode EnvSettings}.
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
    reward: s.reward,
    window: s.window,
    executeAt: s.executeAt,
    costPerTurnBps: s.costPerTurnBps,
    slippageBps: s.slippageBps,
    initialCash: s.initialCash,
    ...(s.drawdownStop === null ? {} : { drawdownStop: s.drawdownStop }),
    ...(training ? { maxSteps: s.episodeLength } : {}),
  };
}
