/**
 * Benchmarks a strategy is compared with (equal-weight buy & hold of its universe,
 * one instrument, cash) and the regression statistics of a strategy against one
 * (alpha, beta, tracking error, information ratio).
 *
 * Every benchmark that trades is a *weight rule* ({@linkcode WeightRule}: target
 * weights per bar, or "hold") executed by {@linkcode runWeightRule} through the same
 * `MarketSimulator` (`lib/env/simulator.ts`) and the same cost model
 * (`lib/env/costs.ts`) as the policy's env, so a benchmark given the policy env's
 * cost settings (`PortfolioEnv.costs`) pays the same costs as the policy for the
 * same trades, by construction: same timing (decided at the close of bar t, filled
 * at bar t+1's open or close), same commission (bps or IBKR fixed), slippage and
 * impact, same handling of missing bars.
 *
 * Buy & hold policy: at the close of the first bar of the range, decide equal weights
 * of every instrument that has a price by then (instruments not yet listed are left
 * out); the simulator fills them at the next bar (its open by default) and charges
 * costs there (an instrument without a price at that bar cannot fill, and its share
 * stays in cash); the position is then held (no orders), so weights drift with prices;
 * a missing later close carries the last known close. The first equity point is the
 * starting cash (before trading), so the first period's return includes the costs,
 * exactly as for a strategy that starts in cash.
 *
 * @module
 */
import type { PricePanel } from "../data/panel.ts";
import { type CostOptions, resolveCostOptions, type ResolvedCostOptions } from "../env/costs.ts";
import {
  applyFriction,
  type FrictionOptions,
  isFrictionless,
  resolveFriction,
} from "../env/friction.ts";
import {
  type ExecuteAt,
  type MarketData,
  MarketSimulator,
  type PortfolioState,
  prepareMarket,
} from "../env/simulator.ts";
import { mean, periodRate, sampleStd } from "./metrics.ts";

/** An equity curve with its bar times, weights held and costs paid. */
export interface BenchmarkCurve {
  /** Display name, e.g. `"Equal-weight buy & hold (41)"`. */
  name: string;
  /** Bar times, epoch ms. */
  timestamps: number[];
  /** Portfolio value at the close of each bar; `equity[0]` is the starting cash. */
  equity: Float64Array;
  /** Instruments held, in weight-column order. */
  instruments: string[];
  /**
   * Weights held over each period, one row per bar: row `k < T-1` is what is held
   * from bar k to k+1 as decided at the close of k (the targets where it orders, the
   * drifted weights where it holds); the last row is the weights at the last close.
   */
  weights: Float64Array[];
  /** Commission paid at each bar (fills of the order decided the bar before), in currency. */
  costs: Float64Array;
  /** Slippage (fixed + impact) paid at each bar, in currency. */
  slippage: Float64Array;
  /** The impact part of `slippage` at each bar, in currency (set by {@linkcode runWeightRule}). */
  impact?: Float64Array;
  /** Fraction of net worth traded at each bar (0 at the first bar: nothing fills there). */
  traded: Float64Array;
}

/** What a {@linkcode WeightRule} sees at a decision bar. */
export interface WeightRuleContext {
  /** Decision bar (index into the market); its order fills at bar `t + 1`. */
  t: number;
  /** Orders decided so far in this run (0 at the first decision). */
  step: number;
  /** The portfolio at the close of `t` (weights drifted with prices). */
  state: PortfolioState;
  /** The market it runs on (use only data at or before `t`: no look-ahead). */
  market: MarketData;
}

/**
 * A benchmark as a rule: target weights per instrument (cash is the rest) decided at
 * the close of `ctx.t`, or `null` to place no order (hold).
 */
export type WeightRule = (ctx: WeightRuleContext) => ArrayLike<number> | null;

/**
 * A trading friction applied to a rule's targets before execution (e.g. a rebalance
 * band that keeps the current weights when the targets are close): returns the
 * targets to execute, or `null` for no order.
 */
export type TargetFriction = (
  targets: Float64Array,
  ctx: WeightRuleContext,
) => ArrayLike<number> | null;

/** Options of {@linkcode runWeightRule}. */
export interface WeightRuleRunOptions {
  /** Names of the market's instruments, in column order. */
  instruments: readonly string[];
  /** Fill at bar t+1's `"open"` or `"close"`, as the policy's env. Default `"open"`. */
  executeAt?: ExecuteAt;
  /** Starting cash. Default 1. */
  initialCash?: number;
  /** Bar indices, inclusive: start all cash at the close of `start`, run to the close of `end`. Default: the whole market. */
  range?: { start?: number; end?: number };
  /** Applied to every non-null target vector before execution. Default: none. */
  friction?: TargetFriction;
  /**
   * The env's own friction rules (band, rebalancing period, partial adjustment;
   * `lib/env/friction.ts`), applied after `friction` exactly as the portfolio env
   * applies them: an instrument they hold keeps its units (no order, no cost), and the
   * decision index is `ctx.step`. Default: none.
   */
  rebalancing?: FrictionOptions;
  /** Display name. Default `"Weight rule"`. */
  name?: string;
}

/**
 * Runs a weight rule through the {@linkcode MarketSimulator}: reset all cash at the
 * close of `range.start`; at each bar `t < range.end` ask the rule for targets,
 * apply the friction (when given), and step the simulator (fill at `t+1`, costs by
 * the cost model). This is the one way a benchmark produces its curve; equal weight
 * rebalanced, inverse volatility, etc. are further rules.
 * @param market From `prepareMarket(panel, costs.impactLookback)`, as the policy's env.
 * @param rule Targets per decision bar, or `null` to hold.
 * @param costs Cost settings; pass the policy env's `costs` for the same costs.
 * @param options Instrument names, execution time, cash, range, friction, name.
 * @returns The curve: one point per bar of the range.
 * @throws {RangeError} When the range has fewer than 2 bars or lies outside the market.
 * @throws {TypeError} When the instrument names do not match the market, or a rule returns the wrong length.
 * @example
 * ```ts
 * const market = prepareMarket(panel, env.costs.impactLookback);
 * const rebalanced: WeightRule = () => new Float64Array(panel.instruments.length).fill(1 / panel.instruments.length);
 * const curve = runWeightRule(market, rebalanced, env.costs, { instruments: panel.instruments, initialCash: 1e6 });
 * ```
 */
export function runWeightRule(
  market: MarketData,
  rule: WeightRule,
  costs: CostOptions | Readonly<ResolvedCostOptions>,
  options: WeightRuleRunOptions,
): BenchmarkCurve {
  const n = market.n;
  if (options.instruments.length !== n) {
    throw new TypeError(
      `runWeightRule(): ${options.instruments.length} instrument names for a market of ${n}`,
    );
  }
  const start = options.range?.start ?? 0;
  const end = options.range?.end ?? market.length - 1;
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && end < market.length)) {
    throw new RangeError(
      `runWeightRule(): range [${start}, ${end}] must be bar indices within [0, ${
        market.length - 1
      }]`,
    );
  }
  if (end - start < 1) {
    throw new RangeError(
      `runWeightRule(): range [${start}, ${end}] has ${
        end - start + 1
      } bar(s); a run needs at least 2`,
    );
  }
  const sim = new MarketSimulator(market, {
    executeAt: options.executeAt ?? "open",
    costs: resolveCostOptions(costs),
    initialCash: options.initialCash ?? 1,
  });
  const T = end - start + 1;
  const equity = new Float64Array(T);
  const costsPaid = new Float64Array(T);
  const slippage = new Float64Array(T);
  const impact = new Float64Array(T);
  const traded = new Float64Array(T);
  const weights: Float64Array[] = [];
  const rebalancing = options.rebalancing ? resolveFriction(options.rebalancing) : null;
  const envFriction = rebalancing !== null && !isFrictionless(rebalancing) ? rebalancing : null;
  let state = sim.reset(start);
  equity[0] = state.netWorth;
  for (let k = 0; k < T - 1; k++) {
    const ctx: WeightRuleContext = { t: start + k, step: k, state, market };
    let targets = rule(ctx);
    if (targets !== null && options.friction) {
      targets = options.friction(Float64Array.from(targets), ctx);
    }
    if (targets !== null && targets.length !== n) {
      throw new TypeError(
        `runWeightRule(): the rule gave ${targets.length} target weights at bar ${ctx.t} for ${n} instruments`,
      );
    }
    let hold: Uint8Array | undefined;
    if (targets !== null && envFriction !== null) {
      const f = applyFriction(targets, state.weights, k, envFriction);
      targets = f.weights;
      hold = f.hold;
    }
    weights.push(targets === null ? state.weights.slice() : Float64Array.from(targets));
    const { execution } = sim.step(targets, hold);
    state = sim.state;
    equity[k + 1] = state.netWorth;
    costsPaid[k + 1] = execution.cost;
    slippage[k + 1] = execution.slippage;
    impact[k + 1] = execution.impact;
    traded[k + 1] = execution.turnover;
  }
  weights.push(state.weights.slice());
  return {
    name: options.name ?? "Weight rule",
    timestamps: market.timestamps.slice(start, end + 1),
    equity,
    instruments: [...options.instruments],
    weights,
    costs: costsPaid,
    slippage,
    impact,
    traded,
  };
}

/**
 * Buy & hold as a {@linkcode WeightRule}: the given targets at the first decision,
 * then no order.
 * @param targets Target weights of the one purchase.
 * @returns The rule.
 * @example
 * ```ts
 * runWeightRule(market, buyAndHoldRule([0.5, 0.5]), env.costs, { instruments: ["A", "B"] });
 * ```
 */
export function buyAndHoldRule(targets: ArrayLike<number>): WeightRule {
  const w = Float64Array.from(targets);
  return ({ step }) => (step === 0 ? w : null);
}

/** Options of the buy & hold benchmarks. */
export interface BuyAndHoldOptions {
  /** Starting cash. Default 1. */
  initialCash?: number;
  /**
   * Cost settings, as the policy's env charges them (pass `PortfolioEnv.costs`).
   * Default: the env defaults (`DEFAULT_COSTS`).
   */
  costs?: CostOptions;
  /** Fill at the next bar's `"open"` or `"close"`, as the policy's env. Default `"open"`. */
  executeAt?: ExecuteAt;
  /** First bar time to include (epoch ms, inclusive): the purchase is decided at its close. Default: the panel's first bar. */
  from?: number;
  /** Last bar time to include (epoch ms, inclusive). Default: the panel's last bar. */
  to?: number;
  /** Restrict the universe to these instruments (must be in the panel). Default: all. */
  instruments?: readonly string[];
  /** Applied to the targets before execution (see {@linkcode TargetFriction}). Default: none. */
  friction?: TargetFriction;
  /** Display name. */
  name?: string;
}

/**
 * Equal-weight buy & hold of a universe, run through the market simulator with the
 * given costs (policy in the module docs).
 * @param panel Prices on a shared calendar (bars before `from` are used only for the impact model's trailing inputs).
 * @param options Cash, costs, execution time, date range, universe.
 * @returns The benchmark's {@linkcode BenchmarkCurve}.
 * @throws {RangeError} When the range has fewer than 2 bars, an instrument is unknown, or no instrument has a price at the first bar.
 * @example
 * ```ts
 * const bh = equalWeightBuyAndHold(panel, { costs: env.costs, initialCash: 1e6, from: testStart });
 * computeMetrics(bh.equity, { timestamps: bh.timestamps });
 * ```
 */
export function equalWeightBuyAndHold(
  panel: PricePanel,
  options: BuyAndHoldOptions = {},
): BenchmarkCurve {
  const cash0 = options.initialCash ?? 1;
  if (!(cash0 > 0)) throw new RangeError(`initialCash must be positive, got ${cash0}`);
  const costs = resolveCostOptions(options.costs);
  const wanted = options.instruments ?? panel.instruments;
  const cols = wanted.map((s) => {
    const i = panel.instruments.indexOf(s);
    if (i < 0) {
      throw new RangeError(
        `Instrument ${s} is not in the price panel (${panel.instruments.join(", ")})`,
      );
    }
    return i;
  });
  const from = options.from ?? -Infinity;
  const to = options.to ?? Infinity;
  const rows: number[] = [];
  panel.timestamps.forEach((t, k) => {
    if (t >= from && t <= to) rows.push(k);
  });
  if (rows.length < 2) {
    throw new RangeError(
      `${rows.length === 0 ? "No bars" : "Only one bar"} between ${isoOrOpen(from)} and ${
        isoOrOpen(to)
      } in the price panel; buy & hold needs at least 2 (decide, then fill)`,
    );
  }
  const first = rows[0];
  // Known at the decision: a valid close at or before the first bar.
  const n = panel.instruments.length;
  const listed = (c: number) => {
    for (let t = first; t >= 0; t--) {
      const px = panel.close[t * n + c];
      if (Number.isFinite(px) && px > 0) return true;
    }
    return false;
  };
  const held = cols.filter(listed);
  if (held.length === 0) {
    throw new RangeError(
      `No instrument has a close at or before the first bar ${
        new Date(panel.timestamps[first]).toISOString()
      }`,
    );
  }
  const market = prepareMarket(selectColumns(panel, held), costs.impactLookback);
  const instruments = held.map((c) => panel.instruments[c]);
  return runWeightRule(
    market,
    buyAndHoldRule(new Float64Array(held.length).fill(1 / held.length)),
    costs,
    {
      instruments,
      executeAt: options.executeAt,
      initialCash: cash0,
      range: { start: first, end: rows[rows.length - 1] },
      friction: options.friction,
      name: options.name ??
        (held.length === 1
          ? `Buy & hold ${instruments[0]}`
          : `Equal-weight buy & hold (${held.length})`),
    },
  );
}

/**
 * Buy & hold of one instrument (e.g. SPY when present), same policy and costs as
 * {@linkcode equalWeightBuyAndHold}.
 * @param panel Prices on a shared calendar.
 * @param symbol The instrument.
 * @param options Cash, costs, execution time, date range.
 * @returns The benchmark's curve.
 * @throws {RangeError} When the symbol is not in the panel or has no close at or before the first bar.
 * @example
 * ```ts
 * const spy = singleInstrumentBenchmark(panel, "SPY", { costs: env.costs });
 * ```
 */
export function singleInstrumentBenchmark(
  panel: PricePanel,
  symbol: string,
  options: Omit<BuyAndHoldOptions, "instruments"> = {},
): BenchmarkCurve {
  return equalWeightBuyAndHold(panel, { ...options, instruments: [symbol] });
}

/** The panel restricted to the given columns, in that order (same calendar). */
function selectColumns(panel: PricePanel, cols: readonly number[]): PricePanel {
  const n = panel.instruments.length, k = cols.length, T = panel.timestamps.length;
  const pick = (a: Float64Array) => {
    const out = new Float64Array(T * k);
    for (let t = 0; t < T; t++) for (let j = 0; j < k; j++) out[t * k + j] = a[t * n + cols[j]];
    return out;
  };
  return {
    instruments: cols.map((c) => panel.instruments[c]),
    barSize: panel.barSize,
    timestamps: panel.timestamps,
    open: pick(panel.open),
    high: pick(panel.high),
    low: pick(panel.low),
    close: pick(panel.close),
    volume: pick(panel.volume),
  };
}

/**
 * Cash: a curve that earns the risk-free rate, compounded per period (flat at 0 %).
 * @param timestamps Bar times, epoch ms.
 * @param options Starting cash (default 1), annual rate (default 0) and periods per year (default 252).
 * @returns The cash curve (no weights held, no costs).
 * @example
 * ```ts
 * cashBenchmark([t0, t1, t2], { riskFreeRate: 0.21, periodsPerYear: 2 }).equity; // [1, 1.1, 1.21]
 * ```
 */
export function cashBenchmark(
  timestamps: readonly number[],
  options: { initialCash?: number; riskFreeRate?: number; periodsPerYear?: number } = {},
): BenchmarkCurve {
  const rate = periodRate(options.riskFreeRate ?? 0, options.periodsPerYear ?? 252);
  const equity = new Float64Array(timestamps.length);
  let v = options.initialCash ?? 1;
  for (let k = 0; k < equity.length; k++) {
    equity[k] = v;
    v *= 1 + rate;
  }
  return {
    name: "Cash",
    timestamps: [...timestamps],
    equity,
    instruments: [],
    weights: timestamps.map(() => new Float64Array(0)),
    costs: new Float64Array(timestamps.length),
    slippage: new Float64Array(timestamps.length),
    impact: new Float64Array(timestamps.length),
    traded: new Float64Array(timestamps.length),
  };
}

/** Result of {@linkcode alphaBeta}. */
export interface AlphaBeta {
  /** Intercept per period. */
  alphaPerPeriod: number;
  /** Intercept × periodsPerYear (arithmetic annualisation). */
  alpha: number;
  /** `(1 + intercept) ** periodsPerYear − 1` (compounded annualisation, as empyrical's `alpha`). */
  alphaCompounded: number;
  /** Slope: sensitivity of the strategy to the benchmark. */
  beta: number;
  /** Share of strategy variance explained by the benchmark. */
  rSquared: number;
}

/**
 * OLS of strategy excess returns on benchmark excess returns:
 * `r_s − rf = alpha + beta · (r_b − rf) + ε`.
 * @param strategy Strategy period returns.
 * @param benchmark Benchmark period returns on the same bars.
 * @param options Periods per year and annual risk-free rate (default 0).
 * @returns Alpha (per period, annualised arithmetically and compounded), beta, R².
 * @throws {RangeError} When lengths differ or fewer than 2 returns.
 * @example
 * ```ts
 * alphaBeta([0.021, -0.019, 0.011], [0.01, -0.01, 0.005], { periodsPerYear: 252 });
 * // beta 2, alphaPerPeriod 0.001
 * ```
 */
export function alphaBeta(
  strategy: ArrayLike<number>,
  benchmark: ArrayLike<number>,
  options: { periodsPerYear: number; riskFreeRate?: number },
): AlphaBeta {
  checkPaired(strategy, benchmark, "alphaBeta");
  const rf = periodRate(options.riskFreeRate ?? 0, options.periodsPerYear);
  const n = strategy.length;
  let mx = 0, my = 0;
  for (let i = 0; i < n; i++) {
    mx += benchmark[i] - rf;
    my += strategy[i] - rf;
  }
  mx /= n;
  my /= n;
  let sxx = 0, sxy = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = benchmark[i] - rf - mx;
    const dy = strategy[i] - rf - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  const beta = sxx > 0 ? sxy / sxx : 0;
  const a = my - beta * mx;
  const rSquared = sxx > 0 && syy > 0 ? (sxy * sxy) / (sxx * syy) : 0;
  return {
    alphaPerPeriod: a,
    alpha: a * options.periodsPerYear,
    alphaCompounded: (1 + a) ** options.periodsPerYear - 1,
    beta,
    rSquared,
  };
}

/** Result of {@linkcode informationRatio}. */
export interface ActiveRisk {
  /** Annualised mean active return / tracking error. */
  informationRatio: number;
  /** Sample std of active returns × √periodsPerYear. */
  trackingError: number;
  /** Mean active return × periodsPerYear. */
  activeReturn: number;
}

/**
 * Information ratio of a strategy against a benchmark, from active returns `r_s − r_b`.
 * @param strategy Strategy period returns.
 * @param benchmark Benchmark period returns on the same bars.
 * @param periodsPerYear Periods per year.
 * @returns Information ratio, tracking error and active return, all annualised
 *   (IR is 0 when the strategy equals the benchmark).
 * @throws {RangeError} When lengths differ or fewer than 2 returns.
 * @example
 * ```ts
 * informationRatio([0.03, 0.01, 0.02], [0.01, 0.01, 0.01], 4).informationRatio; // 0.01 / 0.01 × 2 = 2
 * ```
 */
export function informationRatio(
  strategy: ArrayLike<number>,
  benchmark: ArrayLike<number>,
  periodsPerYear: number,
): ActiveRisk {
  checkPaired(strategy, benchmark, "informationRatio");
  const active = new Float64Array(strategy.length);
  for (let i = 0; i < active.length; i++) active[i] = strategy[i] - benchmark[i];
  const mu = mean(active);
  const sd = sampleStd(active);
  return {
    informationRatio: sd > 1e-15 ? (mu / sd) * Math.sqrt(periodsPerYear) : 0,
    trackingError: sd * Math.sqrt(periodsPerYear),
    activeReturn: mu * periodsPerYear,
  };
}

/**
 * Values of a curve at given times: the last value at or before each time (so a
 * benchmark on a finer or different calendar lines up with the strategy's bars).
 * @param curve Bar times and values, ascending.
 * @param timestamps The times wanted.
 * @returns One value per wanted time.
 * @throws {RangeError} When a wanted time is before the curve's first bar.
 * @example
 * ```ts
 * alignToTimestamps({ timestamps: [0, 10, 20], equity: [1, 2, 3] }, [10, 15, 25]); // [2, 2, 3]
 * ```
 */
export function alignToTimestamps(
  curve: { timestamps: ArrayLike<number>; equity: ArrayLike<number> },
  timestamps: ArrayLike<number>,
): Float64Array {
  const out = new Float64Array(timestamps.length);
  let j = 0;
  for (let k = 0; k < timestamps.length; k++) {
    const t = timestamps[k];
    if (t < curve.timestamps[0]) {
      throw new RangeError(
        `Time ${new Date(t).toISOString()} is before the curve starts (${
          new Date(curve.timestamps[0]).toISOString()
        })`,
      );
    }
    while (j + 1 < curve.timestamps.length && curve.timestamps[j + 1] <= t) j++;
    out[k] = curve.equity[j];
  }
  return out;
}

function checkPaired(a: ArrayLike<number>, b: ArrayLike<number>, where: string): void {
  if (a.length !== b.length) {
    throw new RangeError(
      `${where}: strategy has ${a.length} returns, benchmark ${b.length}; align them first`,
    );
  }
  if (a.length < 2) throw new RangeError(`${where}: need at least 2 returns, got ${a.length}`);
}

function isoOrOpen(t: number): string {
  return Number.isFinite(t) ? new Date(t).toISOString() : "(open)";
}
