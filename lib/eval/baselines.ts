/**
 * The baselines an agent must beat, beside equal-weight buy & hold: equal weight
 * rebalanced, inverse volatility, the project's own `combined` signal as a long-only
 * tilt, and cash. Each is a {@linkcode WeightRule} run by {@linkcode runWeightRule},
 * so it trades through the same `MarketSimulator`, the same cost model and (for the
 * rebalancing ones) the same friction rules as the policy: a baseline and the agent
 * making the same trades pay the same costs.
 *
 * No look-ahead, by construction: a rule deciding at the close of bar `t` reads only
 * `market.mark`, `market.returns` and the signal scores at bars `≤ t`, and its order
 * fills at bar `t + 1`.
 *
 * - **Equal weight, rebalanced** ({@linkcode equalWeightRule}): `1/k` in each of the
 *   `k` instruments with a known price at `t`, every bar; with the model's band, only
 *   the instruments that drifted past the band trade.
 * - **Inverse volatility** ({@linkcode inverseVolatilityRule}): `w_i ∝ 1/σ_i`, `σ_i`
 *   the sample standard deviation (ddof 1) of instrument i's close-to-close returns
 *   over the trailing `window` bars ending at `t` (returns that end at `t` or before);
 *   an instrument with fewer than `minReturns` of them, or `σ = 0`, is left out (equal
 *   weight over the available instruments when none qualifies). Fully invested.
 * - **Signal tilt** ({@linkcode scoreTiltRule} over {@linkcode combinedSignalScores}):
 *   `w_i ∝ 1 + tilt · s_i` over the available instruments, `s_i ∈ [-1, 1]` the
 *   `combined` score at `t` (NaN, e.g. in warm-up, counts as 0), so zero scores give
 *   equal weight and `tilt ≤ 1` keeps it long-only and fully invested.
 * - **Cash** ({@linkcode cashRule}): never orders; the curve stays at the starting cash.
 *
 * {@linkcode runBaselines} runs all of them (and equal-weight buy & hold) on one range.
 *
 * @module
 */
import pl from "nodejs-polars";
import type { PricePanel } from "../data/panel.ts";
import { type CostOptions, resolveCostOptions, type ResolvedCostOptions } from "../env/costs.ts";
import type { FrictionOptions } from "../env/friction.ts";
import { type ExecuteAt, type MarketData, prepareMarket } from "../env/simulator.ts";
import {
  type CombineOptions,
  combineSignals,
  featuresLazy,
  generateMeanReversionSignals,
  generateMomentumSignals,
  RAW_COLUMNS,
  SIGNAL_FEATURES,
  timestampSeries,
  warmupOf,
} from "../features/mod.ts";
import {
  type BenchmarkCurve,
  equalWeightBuyAndHold,
  runWeightRule,
  type WeightRule,
} from "./benchmarks.ts";

/** The baselines {@linkcode runBaselines} runs, in the order it returns them. */
export const BASELINE_KEYS = [
  "equal-weight-buy-and-hold",
  "equal-weight-rebalanced",
  "inverse-volatility",
  "signal-tilt",
  "cash",
] as const;
/** A baseline's key. */
export type BaselineKey = typeof BASELINE_KEYS[number];

/** Instruments with a known price (a mark) at the close of `t`. */
function available(market: MarketData, t: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < market.n; i++) {
    if (Number.isFinite(market.mark[t * market.n + i])) out.push(i);
  }
  return out;
}

/**
 * Equal weight, rebalanced every bar: `1/k` in each of the `k` instruments with a
 * known price at the decision bar (instruments not yet listed get 0).
 * @returns The rule (combine with `rebalancing` in {@linkcode runWeightRule} for a band).
 * @example
 * ```ts
 * runWeightRule(market, equalWeightRule(), env.costs, { instruments, rebalancing: { band: 0.02 } });
 * ```
 */
export function equalWeightRule(): WeightRule {
  return ({ t, market }) => equalWeights(market, t);
}

function equalWeights(market: MarketData, t: number): Float64Array {
  const w = new Float64Array(market.n);
  const live = available(market, t);
  for (const i of live) w[i] = 1 / live.length;
  return w;
}

/** Options of {@linkcode inverseVolatilityRule}. */
export interface InverseVolatilityOptions {
  /** Trailing returns (bars) in the volatility estimate. Default 63 (a quarter of daily bars). */
  window?: number;
  /** Fewest finite returns in the window for an instrument to be weighted. Default 20 (capped at `window`). */
  minReturns?: number;
}

/**
 * Inverse volatility: `w_i ∝ 1/σ_i`, `σ_i` the sample std (ddof 1) of the close-to-close
 * returns of bars `t - window + 1 … t` (each known at the close of `t`); instruments
 * with fewer than `minReturns` finite returns or `σ_i = 0` get 0; with none left, equal
 * weight over the priced instruments. Fully invested, long only.
 * @param options Window and minimum count.
 * @returns The rule.
 * @throws {RangeError} When `window < 2` or `minReturns < 2`.
 * @example
 * ```ts
 * // σ_A = 1 %, σ_B = 2 % → weights 2/3, 1/3
 * runWeightRule(market, inverseVolatilityRule({ window: 63 }), env.costs, { instruments });
 * ```
 */
export function inverseVolatilityRule(options: InverseVolatilityOptions = {}): WeightRule {
  const window = options.window ?? 63;
  const minReturns = Math.min(options.minReturns ?? 20, window);
  if (!(Number.isInteger(window) && window >= 2)) {
    throw new RangeError(`inverseVolatilityRule(): window = ${window} must be an integer ≥ 2`);
  }
  if (!(Number.isInteger(minReturns) && minReturns >= 2)) {
    throw new RangeError(
      `inverseVolatilityRule(): minReturns = ${minReturns} must be an integer ≥ 2`,
    );
  }
  return ({ t, market }) => {
    const n = market.n;
    const w = new Float64Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(market.mark[t * n + i])) continue;
      const sd = trailingStd(market.returns, n, i, t, window, minReturns);
      if (sd > 0) {
        w[i] = 1 / sd;
        total += w[i];
      }
    }
    if (total === 0) return equalWeights(market, t);
    for (let i = 0; i < n; i++) w[i] /= total;
    return w;
  };
}

/** Sample std (ddof 1) of the finite returns of instrument i over bars t-window+1..t; NaN with too few. */
function trailingStd(
  returns: Float64Array,
  n: number,
  i: number,
  t: number,
  window: number,
  minCount: number,
): number {
  let cnt = 0, s = 0;
  const from = Math.max(0, t - window + 1);
  for (let u = from; u <= t; u++) {
    const r = returns[u * n + i];
    if (Number.isFinite(r)) {
      cnt++;
      s += r;
    }
  }
  if (cnt < minCount) return NaN;
  const m = s / cnt;
  let ss = 0;
  for (let u = from; u <= t; u++) {
    const r = returns[u * n + i];
    if (Number.isFinite(r)) ss += (r - m) * (r - m);
  }
  return Math.sqrt(ss / (cnt - 1));
}

/** Options of {@linkcode scoreTiltRule}. */
export interface ScoreTiltOptions {
  /** How far a score moves a weight from equal: `w ∝ 1 + tilt · s`, in `[0, 1]`. Default 1. */
  tilt?: number;
}

/**
 * A long-only tilt of equal weight by scores: at bar t, `w_i ∝ 1 + tilt · clip(s_i)`
 * over the instruments priced at t (`s = scores[t·N + i]`, clipped to `[-1, 1]`, NaN
 * as 0), normalised to sum 1 (equal weight when every mass is 0).
 * @param scores `T × N` scores on the market's calendar, time-major; read at t only.
 * @param options The tilt.
 * @returns The rule.
 * @throws {RangeError} When `tilt` is outside `[0, 1]`.
 * @example
 * ```ts
 * const scores = combinedSignalScores(panel);
 * runWeightRule(prepareMarket(panel), scoreTiltRule(scores), env.costs, { instruments: panel.instruments });
 * ```
 */
export function scoreTiltRule(scores: Float64Array, options: ScoreTiltOptions = {}): WeightRule {
  const tilt = options.tilt ?? 1;
  if (!(tilt >= 0 && tilt <= 1)) {
    throw new RangeError(`scoreTiltRule(): tilt = ${tilt} must be in [0, 1] (long only)`);
  }
  return ({ t, market }) => {
    const n = market.n;
    if (scores.length !== market.length * n) {
      throw new TypeError(
        `scoreTiltRule(): ${scores.length} scores for a market of ${market.length} bars × ${n}`,
      );
    }
    const w = new Float64Array(n);
    const live = available(market, t);
    let total = 0;
    for (const i of live) {
      const s = scores[t * n + i];
      const c = Number.isFinite(s) ? Math.max(-1, Math.min(1, s)) : 0;
      w[i] = 1 + tilt * c;
      total += w[i];
    }
    if (total <= 0) return equalWeights(market, t);
    for (const i of live) w[i] /= total;
    return w;
  };
}

/**
 * Cash: never orders, so the run stays in cash at no cost (the curve is flat).
 * @returns The rule.
 * @example
 * ```ts
 * runWeightRule(market, cashRule(), env.costs, { instruments, name: "Cash" }).equity; // constant
 * ```
 */
export function cashRule(): WeightRule {
  return () => null;
}

/** Options of {@linkcode combinedSignalScores}. */
export interface SignalScoreOptions {
  /** Momentum horizon. Default 20 (as `deno task signals`). */
  horizon?: 20 | 60 | 120;
  /** Combination of momentum and mean reversion. Default: weighted, 1 and 1. */
  combine?: CombineOptions;
}

/**
 * The project's `combined` signal (`lib/features/signals.ts`: momentum and mean
 * reversion, combined) computed in memory from a price panel, as a `T × N` array on
 * its calendar. Each score at t reads only features at t, which read only bars ≤ t
 * (the feature definitions' lookbacks), so a rule reading `scores[t]` has no
 * look-ahead. NaN where a feature's window is not full or the instrument has no bar.
 * @param panel Prices (read bars before the evaluated range for the warm-up:
 *   {@linkcode SIGNAL_WARMUP} bars).
 * @param options Horizon and combination.
 * @returns `scores[t * N + i]` in [-1, 1] or NaN.
 * @example
 * ```ts
 * const scores = combinedSignalScores(panel);
 * scores[t * panel.instruments.length + i];
 * ```
 */
export function combinedSignalScores(
  panel: PricePanel,
  options: SignalScoreOptions = {},
): Float64Array {
  const n = panel.instruments.length, T = panel.timestamps.length;
  const out = new Float64Array(T * n).fill(NaN);
  const names = [...new Set([...SIGNAL_FEATURES.momentum, ...SIGNAL_FEATURES.mean_reversion])];
  // The bars with a close, in long form, tagged with their cell so scores go back in place.
  const cell: number[] = [];
  for (let k = 0; k < T * n; k++) if (Number.isFinite(panel.close[k])) cell.push(k);
  if (cell.length === 0) return out;
  const pick = (a: Float64Array) => Float64Array.from(cell, (k) => a[k]);
  const bars = pl.DataFrame([
    pl.Series("instrument", cell.map((k) => panel.instruments[k % n]), pl.Utf8),
    timestampSeries(cell.map((k) => panel.timestamps[Math.floor(k / n)])),
    ...RAW_COLUMNS.map((c) => pl.Series(c, pick(panel[c]), pl.Float64)),
    pl.Series("_cell", cell, pl.Int32),
  ]);
  const wide = featuresLazy(bars.lazy(), names).collectSync();
  const combined = combineSignals([
    generateMomentumSignals(wide, { horizon: options.horizon }),
    generateMeanReversionSignals(wide),
  ], options.combine);
  const joined = combined.select("instrument", "timestamp", "score")
    .join(wide.select("instrument", "timestamp", "_cell"), {
      on: ["instrument", "timestamp"],
      how: "inner",
    });
  const c = joined.getColumn("_cell").toArray() as number[];
  const s = joined.getColumn("score").toArray() as (number | null)[];
  for (let r = 0; r < c.length; r++) out[c[r]] = s[r] ?? NaN;
  return out;
}

/** Bars of history the `combined` signal needs before its first score (its features' warm-up). */
export const SIGNAL_WARMUP: number = warmupOf([
  ...SIGNAL_FEATURES.momentum,
  ...SIGNAL_FEATURES.mean_reversion,
]);

/** Options of {@linkcode runBaselines}. */
export interface BaselineOptions {
  /** First bar of the range (epoch ms, inclusive): every baseline starts in cash at its close. */
  from: number;
  /** Last bar of the range (epoch ms, inclusive). */
  to: number;
  /** Cost settings, the evaluation's. Default `DEFAULT_COSTS`. */
  costs?: CostOptions;
  /** Fill at the next bar's open or close, as the policy. Default `"open"`. */
  executeAt?: ExecuteAt;
  /** Starting cash. Default 1. */
  initialCash?: number;
  /** The model's friction rules, applied to the rebalancing baselines. Default: none. */
  rebalancing?: FrictionOptions;
  /** Inverse volatility settings. */
  inverseVolatility?: InverseVolatilityOptions;
  /** Signal settings. */
  signal?: SignalScoreOptions & ScoreTiltOptions;
}

/** One baseline's curve, keyed. */
export interface BaselineCurve {
  key: BaselineKey;
  curve: BenchmarkCurve;
  /** How it trades, one sentence (for rationales and reports). */
  description: string;
}

/**
 * Runs every baseline of {@linkcode BASELINE_KEYS} on one range with one set of costs:
 * equal-weight buy & hold (`equalWeightBuyAndHold`), then the rules of this module
 * through {@linkcode runWeightRule}, the rebalancing ones with `rebalancing`.
 * @param panel Prices; bars before `from` feed the trailing estimates (volatility,
 *   signal warm-up) and are never traded.
 * @param options Range, costs, execution time, cash, friction.
 * @returns One curve per baseline, in {@linkcode BASELINE_KEYS} order, all on the same bars.
 * @throws {RangeError} When the range holds fewer than 2 bars.
 * @example
 * ```ts
 * const all = runBaselines(panel, { from: ts[0], to: ts.at(-1)!, costs: env.costs, initialCash: 1e6 });
 * all.map((b) => b.curve.name);
 * ```
 */
export function runBaselines(panel: PricePanel, options: BaselineOptions): BaselineCurve[] {
  const costs: ResolvedCostOptions = resolveCostOptions(options.costs);
  const start = panel.timestamps.findIndex((t) => t >= options.from);
  let end = -1;
  for (let k = panel.timestamps.length - 1; k >= 0; k--) {
    if (panel.timestamps[k] <= options.to) {
      end = k;
      break;
    }
  }
  if (start < 0 || end - start < 1) {
    throw new RangeError(
      `runBaselines(): ${new Date(options.from).toISOString()}..${
        new Date(options.to).toISOString()
      } holds fewer than 2 bars of the panel`,
    );
  }
  const market = prepareMarket(panel, costs.impactLookback);
  const common = {
    instruments: panel.instruments,
    executeAt: options.executeAt,
    initialCash: options.initialCash,
    range: { start, end },
  };
  const band = options.rebalancing;
  const frictionText = describeRebalancing(band);
  const invVol = options.inverseVolatility ?? {};
  const tilt = options.signal?.tilt ?? 1;
  return [
    {
      key: "equal-weight-buy-and-hold",
      curve: equalWeightBuyAndHold(panel, {
        initialCash: options.initialCash,
        costs,
        executeAt: options.executeAt,
        from: options.from,
        to: options.to,
        name: `Equal-weight buy & hold (${panel.instruments.length})`,
      }),
      description: "equal weights bought at the first bar, then held (weights drift)",
    },
    {
      key: "equal-weight-rebalanced",
      curve: runWeightRule(market, equalWeightRule(), costs, {
        ...common,
        rebalancing: band,
        name: "Equal weight, rebalanced",
      }),
      description: `equal weights of the priced instruments every bar${frictionText}`,
    },
    {
      key: "inverse-volatility",
      curve: runWeightRule(market, inverseVolatilityRule(invVol), costs, {
        ...common,
        rebalancing: band,
        name: "Inverse volatility",
      }),
      description: `weights ∝ 1/σ of the trailing ${
        invVol.window ?? 63
      } returns, every bar${frictionText}`,
    },
    {
      key: "signal-tilt",
      curve: runWeightRule(
        market,
        scoreTiltRule(combinedSignalScores(panel, options.signal), { tilt }),
        costs,
        { ...common, rebalancing: band, name: "Combined-signal tilt" },
      ),
      description:
        `equal weight tilted by the combined signal at t (w ∝ 1 + ${tilt}·score), long only, every bar${frictionText}`,
    },
    {
      key: "cash",
      curve: runWeightRule(market, cashRule(), costs, { ...common, name: "Cash" }),
      description: "never invests (0 % return, no cost)",
    },
  ];
}

function describeRebalancing(f: FrictionOptions | undefined): string {
  if (!f) return "";
  const parts: string[] = [];
  if (f.band !== undefined && f.band > 0) parts.push(`band ${f.band}`);
  if (f.rebalanceEvery !== undefined && f.rebalanceEvery > 1) {
    parts.push(`every ${f.rebalanceEvery} bars`);
  }
  if (f.partialAdjustment !== undefined && f.partialAdjustment < 1) {
    parts.push(`partial adjustment ${f.partialAdjustment}`);
  }
  return parts.length ? ` (the model's friction: ${parts.join(", ")})` : "";
}
