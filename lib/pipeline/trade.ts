/**
 * Trading a saved model through a broker, store-facing: the historical replay bar by bar
 * through the {@linkcode PaperBroker} ({@linkcode replayTrading}), one live cycle on the
 * newest bars with the paper broker's state kept in the store between processes, or
 * through any other {@linkcode Broker} a caller constructs ({@linkcode tradeOnce}), and
 * the manual kill switch ({@linkcode setModelTradingHalt}). Every mode calls the one
 * trading cycle, `runTradingCycle` (`lib/execution/cycle.ts`).
 *
 * The model is prepared exactly as `evaluateModel` prepares it: the same universe rule,
 * bars with history for the features' warm-up, the model's saved env settings
 * (`envOptionsFor(env, false)`: action scheme, caps, friction band), the evaluator's costs
 * (default `DEFAULT_COSTS`), the same backend and frozen observation normaliser.
 *
 * Pieces:
 * - features: {@linkcode loadCycleMarket} (the live cycle's incremental feature step:
 *   features over the newest bars only);
 * - risk overlays: {@linkcode TradeOptions}`.risk`, the limits `applyRiskOverlays` checks
 *   (default `DEFAULT_RISK_LIMITS`);
 * - IB: {@linkcode TradeOptions}`.makeBroker` (`deno task trade --broker ibkr` passes
 *   `() => IbkrBroker.connect(…)`), mode `"ibkr"`.
 *
 * @module
 */
import type { Store } from "../db/store.ts";
import {
  findTradingRun,
  listTradingRuns,
  loadPaperState,
  readOrders,
  readTradingHalt,
  recordTradingStateChange,
  savePaperState,
  setTradingHalt,
  startTradingRun,
  type TradingMode,
  updateTradingRun,
} from "../db/execution_repo.ts";
import type { SavedModel } from "../agents/model_io.ts";
import { perAssetTopology } from "../agents/per_asset.ts";
import { resolveCostOptions, type ResolvedCostOptions } from "../env/costs.ts";
import { makePortfolioEnv, type PortfolioEnv } from "../env/portfolio_env.ts";
import { envOptionsFor } from "../env/settings.ts";
import { computeMetrics, type PerformanceMetrics } from "../eval/metrics.ts";
import { type FeatureSetName, resolveFeatureSpec } from "../features/definitions.ts";
import { featureTailBars } from "../features/tail.ts";
import type { PricePanel } from "../data/panel.ts";
import type { Broker, Fill } from "../execution/broker.ts";
import { type PaperAccountType, type PaperBar, PaperBroker } from "../execution/paper_broker.ts";
import {
  countBlocked,
  DEFAULT_RISK_LIMITS,
  type RiskLimits,
  type RiskRule,
  type TradingState,
} from "../execution/risk.ts";
import {
  type CycleInput,
  type CycleResult,
  type CycleState,
  initialCycleState,
  parseCycleState,
  PolicyDecider,
  runTradingCycle,
} from "../execution/cycle.ts";
import { BACKEND_NAMES, type BackendName, createPolicyBackend } from "./backends.ts";
import {
  checkOutOfSample,
  type EvaluationCosts,
  evaluationUniverse,
  headlineMetrics,
} from "./evaluate.ts";
import { type DateRange, trainedRangesOf } from "../models/lineage.ts";
import {
  historyBarsFor,
  isoDate,
  loadMarket,
  type Market,
  type MarketRequest,
  storedRanges,
} from "./market.ts";
import { resolveModel } from "./models.ts";

/** What {@linkcode replayTrading} and {@linkcode tradeOnce} trade. */
export interface TradeOptions {
  /** A `tt_models.id`, `NAME@vN` or a model directory. */
  model: string;
  /** Instruments (per-asset models: any; mlp: the model's). Default the model's. */
  symbols?: string[];
  /** Network backend. Default: the one it was trained on. */
  backend?: BackendName;
  /** Costs the paper broker charges (same fields and defaults as `evaluate`). */
  costs?: EvaluationCosts;
  /** The broker's account. Default `PAPER-REPLAY` (replay), `PAPER-<model id>` (paper). */
  accountId?: string;
  /** Record the orders, send nothing. */
  dryRun?: boolean;
  /** Paper broker: fractional shares. Default false (whole shares). */
  fractional?: boolean;
  /** Paper broker: account type. Default `"margin"` (shorts, as the env). */
  accountType?: PaperAccountType;
  /** Paper broker: largest share of a bar's volume an order fills per bar. Default 0.1. */
  maxVolumeShare?: number;
  /** Risk limits of the overlays. Default `DEFAULT_RISK_LIMITS`. */
  risk?: RiskLimits;
  /** Passed to the cycle (`CycleInput.onStep`: the kill -9 test's hook). */
  onCycleStep?: CycleInput["onStep"];
  /**
   * Another broker than the paper one (the IB seam): constructed once the model is
   * loaded. With it the mode is `"ibkr"` and the store keeps no broker state.
   */
  makeBroker?: (ctx: BrokerContext) => Promise<Broker>;
  /** Called after each replayed bar. */
  onProgress?: (done: number, total: number, bar: number) => void;
  /** Paper broker: starting cash. Default the model's env `initialCash` (an A/B `--split` shares it). */
  initialCash?: number;
}

/** What a broker factory is told. */
export interface BrokerContext {
  accountId: string;
  instruments: string[];
  costs: ResolvedCostOptions;
  executeAt: "open" | "close";
  initialCash: number;
}

/** Order counts of a run or a cycle. */
export interface OrderCounts {
  /** Reached the broker (acknowledged, filled, cancelled or rejected by it). */
  sent: number;
  filled: number;
  partiallyFilled: number;
  rejected: number;
  cancelled: number;
  /** Recorded only (`--dry-run`). */
  dryRun: number;
  /**
   * Blocked before the broker, per overlay rule (every rule of `RISK_RULES`, 0 when it
   * blocked nothing: `countBlocked`'s shape).
   */
  blocked: Record<RiskRule, number>;
}

/** What {@linkcode replayTrading} returns. */
export interface ReplayResult {
  runId: number;
  model: SavedModel;
  instruments: string[];
  range: { start: string; end: string };
  /** Close of every replayed bar (first decision bar to the last bar). */
  timestamps: number[];
  /** Net liquidation at each of those closes. */
  equity: number[];
  metrics: PerformanceMetrics;
  orders: OrderCounts;
  /** Commission and slippage paid, in currency. */
  costsPaid: { commission: number; slippage: number };
  tradingState: TradingState;
  stateReason: string | null;
  costs: ResolvedCostOptions;
  /** The limits the overlays checked. */
  risk: RiskLimits;
  /**
   * The model's trained ranges the replay overlaps: empty for an out-of-sample replay. A
   * replay on training dates is allowed (it checks the execution path) but is labelled
   * in-sample wherever it is reported.
   */
  inSampleOverlap: DateRange[];
}

/** What {@linkcode tradeOnce} returns. */
export interface TradeOnceResult {
  runId: number;
  model: SavedModel;
  mode: TradingMode;
  accountId: string;
  cycle: CycleResult;
  orders: OrderCounts;
  /** The limits the overlays checked. */
  risk: RiskLimits;
}

function backendOf(saved: SavedModel): BackendName {
  const trained = saved.manifest.config.backend.replace(/^tfjs-/, "");
  return (BACKEND_NAMES as readonly string[]).includes(trained) ? trained as BackendName : "auto";
}

/**
 * The market a live cycle decides on: bars up to the newest one and the features it
 * observes, computed over the newest bars only (the incremental feature step). Prices are
 * read as `loadMarket` reads them (from `request.start`, the run's first decision bar, on:
 * the action schemes' growth since it), and at least `featureTailBars(names, window)` bars;
 * features are computed over just those last bars (the derived warm-up + the observation
 * window + 1, plus 600 bars when an exponential mean is observed; `NaN` before), so the
 * cost of a cycle does not grow with the run's age. The observation and the target weights
 * at the newest bar equal those of a full-history computation (see `lib/features/tail.ts`
 * for the measured exactness and `tests/trade_cycle_market_test.ts`).
 * The replay does not use it: it computes every bar, as `evaluate` does.
 * @param store The store.
 * @param request What `loadMarket` takes (`featureBars` is set here).
 * @returns Aligned price and feature panels; features defined on the newest bars only.
 * @example
 * ```ts
 * const m = await loadCycleMarket(store, { symbols: ["AAPL"], start: "2018-01-02", featureSet: "basic", historyBars: 40 });
 * ```
 */
export function loadCycleMarket(store: Store, request: MarketRequest): Promise<Market> {
  const names = resolveFeatureSpec(request.featureSet ?? "basic");
  const bars = featureTailBars(names, request.window ?? 1);
  return loadMarket(store, {
    ...request,
    historyBars: Math.max(request.historyBars ?? 0, bars),
    featureBars: bars,
  });
}

interface Prepared {
  saved: SavedModel;
  modelId: number | null;
  instruments: string[];
  market: Market;
  env: PortfolioEnv;
  decider: PolicyDecider;
  costs: ResolvedCostOptions;
  initialCash: number;
  dispose: () => void;
}

async function prepare(
  store: Store,
  options: TradeOptions,
  range: { start: string; end?: string; extraHistory: number; wholePanel?: boolean },
): Promise<Prepared> {
  const saved = await resolveModel(store, options.model);
  const cfg = saved.manifest.config;
  const env = cfg.env;
  const perAsset = perAssetTopology(cfg.policy) !== null;
  const instruments = evaluationUniverse(cfg.instruments, options.symbols, { perAsset });
  const costs = resolveCostOptions({ ...options.costs });
  const market = await (range.wholePanel ? loadCycleMarket : loadMarket)(store, {
    symbols: instruments,
    start: range.start,
    end: range.end,
    barSize: cfg.barSize,
    featureSet: cfg.features.set as FeatureSetName,
    window: env.window,
    historyBars: historyBarsFor(cfg.features.names, env.window) + range.extraHistory,
  });
  if (market.features.names.join(",") !== cfg.features.names.join(",")) {
    throw new TypeError(
      `The model observes features ${cfg.features.names.join(",")} but set "${cfg.features.set}" ` +
        `now gives ${
          market.features.names.join(",")
        }: the feature definitions changed since training`,
    );
  }
  const envOptions = envOptionsFor(env, false);
  const portfolioEnv = makePortfolioEnv(market.prices, market.features, {
    ...envOptions,
    ...costs,
    // Live: the decision is the panel's last bar; the env only has to accept the panel.
    range: { start: range.wholePanel ? 0 : market.startIndex, end: market.endIndex },
  });
  const backend = await createPolicyBackend(options.backend ?? backendOf(saved), cfg.policy);
  try {
    backend.importWeights(saved.weights);
    return {
      saved,
      modelId: saved.manifest.modelId ?? null,
      instruments: market.prices.instruments,
      market,
      env: portfolioEnv,
      decider: new PolicyDecider(portfolioEnv, backend, saved.obsNorm),
      costs,
      initialCash: options.initialCash ?? envOptions.initialCash ?? 1_000_000,
      dispose: () => backend.dispose(),
    };
  } catch (e) {
    backend.dispose();
    throw e;
  }
}

function barsAt(prices: PricePanel, t: number): Record<string, PaperBar> {
  const n = prices.instruments.length;
  const out: Record<string, PaperBar> = {};
  for (let i = 0; i < n; i++) {
    const k = t * n + i;
    out[prices.instruments[i]] = {
      open: prices.open[k],
      high: prices.high[k],
      low: prices.low[k],
      close: prices.close[k],
      volume: prices.volume[k],
    };
  }
  return out;
}

/** Feeds the paper broker every bar after the last one it saw, up to and including `t`. */
function catchUp(broker: PaperBroker, prices: PricePanel, from: number, t: number): void {
  for (let u = from; u <= t; u++) {
    const ts = prices.timestamps[u];
    if (ts > broker.time) broker.onBar(ts, barsAt(prices, u));
  }
}

/**
 * Order counts of a run, from the store.
 * @param store The store.
 * @param runId The run.
 * @param since Only orders decided at or after this bar (epoch ms). Default all.
 * @returns The counts.
 * @example
 * ```ts
 * (await orderCounts(store, runId)).filled;
 * ```
 */
export async function orderCounts(
  store: Store,
  runId: number,
  since?: number,
): Promise<OrderCounts> {
  const c: OrderCounts = {
    sent: 0,
    filled: 0,
    partiallyFilled: 0,
    rejected: 0,
    cancelled: 0,
    dryRun: 0,
    blocked: countBlocked([]),
  };
  for (const o of await readOrders(store, runId)) {
    if (since !== undefined && o.decisionBar < since) continue;
    if (o.status === "blocked") {
      const rule = (o.blockedRule ?? "unknown") as RiskRule;
      c.blocked[rule] = (c.blocked[rule] ?? 0) + 1;
    } else if (o.status === "dry-run") c.dryRun++;
    else if (o.status !== "planned") {
      c.sent++;
      if (o.status === "filled") c.filled++;
      if (o.status === "partially-filled" || (o.status === "cancelled" && (o.filled ?? 0) > 0)) {
        c.partiallyFilled++;
      }
      if (o.status === "rejected") c.rejected++;
      if (o.status === "cancelled") c.cancelled++;
    }
  }
  return c;
}

/**
 * Replays a model over a historical range bar by bar through the paper broker: at each
 * close the trading cycle decides, the broker fills at the next bar (open or close, as the
 * env), and positions, account and P&L are recorded per bar. The equity curve follows
 * `evaluate`'s over the same range and costs within whole-share rounding and decision-close
 * sizing (see `lib/execution/cycle.ts`).
 * @param store The store.
 * @param options The model and the trading options; `start`, `end` the range (ISO).
 * @returns The run, its equity curve, metrics (named as `evaluate --json`'s) and order counts.
 * @example
 * ```ts
 * const r = await replayTrading(store, { model: "1", start: "2017-01-03", end: "2018-05-11" });
 * console.log(r.metrics.totalReturn, r.orders.filled);
 * ```
 */
export async function replayTrading(
  store: Store,
  options: TradeOptions & { start: string; end?: string },
): Promise<ReplayResult> {
  const p = await prepare(store, options, { ...options, extraHistory: 0 });
  try {
    const { env, market } = p;
    const prices = market.prices;
    const accountId = options.accountId ?? "PAPER-REPLAY";
    const runId = await startTradingRun(store, {
      modelId: p.modelId,
      brokerKind: options.makeBroker ? "ibkr" : "paper",
      accountId,
      mode: "replay",
      dryRun: options.dryRun ?? false,
      settings: {
        model: options.model,
        start: options.start,
        end: options.end ?? null,
        instruments: p.instruments,
        costs: p.costs,
        fractional: options.fractional ?? false,
        accountType: options.accountType ?? "margin",
        maxVolumeShare: options.maxVolumeShare ?? 0.1,
        env: p.saved.manifest.config.env,
        risk: options.risk ?? DEFAULT_RISK_LIMITS,
      },
    });
    const paper = new PaperBroker({
      accountId,
      initialCash: p.initialCash,
      costs: p.costs,
      executeAt: env.executeAt,
      fractional: options.fractional,
      accountType: options.accountType,
      maxVolumeShare: options.maxVolumeShare,
      symbols: p.instruments,
    });
    const first = env.startRange.earliest;
    const last = env.startRange.last;
    // History before the first decision: the impact model's trailing σ and ADV.
    catchUp(paper, prices, Math.max(0, first - p.costs.impactLookback - 1), first - 1);
    const fills: Fill[] = [];
    paper.on((e) => {
      if (e.type === "fill") fills.push(e.fill);
    });
    let state: CycleState = initialCycleState(p.initialCash);
    let tradingState: TradingState = "active";
    let stateReason: string | null = null;
    const manual = p.modelId === null ? false : (await readTradingHalt(store, p.modelId)).halted;
    const timestamps: number[] = [], equity: number[] = [];
    const weights: Float64Array[] = [];
    const n = p.instruments.length;
    try {
      for (let t = first; t <= last; t++) {
        const r = await runTradingCycle({
          store,
          runId,
          broker: paper,
          prices,
          t,
          decider: p.decider,
          state,
          tradingState,
          manualHalt: manual,
          limits: options.risk ?? DEFAULT_RISK_LIMITS,
          dryRun: options.dryRun,
          markOnly: t === last,
          onStep: options.onCycleStep,
          advance: () => Promise.resolve(catchUp(paper, prices, t, t)),
        });
        state = r.state;
        tradingState = r.tradingState;
        stateReason = r.stateReason ?? stateReason;
        timestamps.push(prices.timestamps[t]);
        equity.push(r.equity);
        const w = new Float64Array(n);
        for (const pos of r.positions) {
          const i = p.instruments.indexOf(pos.symbol);
          if (i >= 0) w[i] = pos.quantity * pos.marketPrice / r.equity;
        }
        weights.push(w);
        options.onProgress?.(t - first + 1, last - first + 1, prices.timestamps[t]);
      }
      await updateTradingRun(store, runId, {
        status: "ok",
        tradingState,
        stateReason,
        cycle: { ...state },
        lastBar: prices.timestamps[last],
        finished: true,
      });
    } catch (e) {
      await updateTradingRun(store, runId, {
        status: "failed",
        error: e instanceof Error ? e.message : String(e),
        finished: true,
      });
      throw e;
    }
    // Per-step costs, slippage and turnover, as the simulator reports them.
    const steps = timestamps.length - 1;
    const commission = new Array(steps).fill(0), slippage = new Array(steps).fill(0);
    const traded = new Array(steps).fill(0);
    for (const f of fills) {
      const s = timestamps.indexOf(f.time) - 1;
      if (s < 0) continue;
      commission[s] += f.commission;
      slippage[s] += f.slippage;
      const base = f.price - (f.side === "BUY" ? 1 : -1) * f.slippage / f.quantity;
      traded[s] += Math.abs(f.quantity * base) / equity[s];
    }
    const metrics = computeMetrics(equity, {
      timestamps,
      weights: weights.slice(1),
      initialWeights: new Float64Array(n),
      costs: commission,
      slippage,
      traded,
    });
    return {
      runId,
      model: p.saved,
      instruments: p.instruments,
      range: { start: isoDate(timestamps[0]), end: isoDate(timestamps[timestamps.length - 1]) },
      timestamps,
      equity,
      metrics,
      orders: await orderCounts(store, runId),
      costsPaid: {
        commission: commission.reduce((a, b) => a + b, 0),
        slippage: slippage.reduce((a, b) => a + b, 0),
      },
      tradingState,
      stateReason,
      costs: p.costs,
      risk: options.risk ?? DEFAULT_RISK_LIMITS,
      inSampleOverlap: checkOutOfSample(
        trainedRangesOf(p.saved.manifest.config),
        isoDate(timestamps[0]),
        isoDate(timestamps[timestamps.length - 1]),
        true,
      ),
    };
  } finally {
    p.dispose();
  }
}

/**
 * One live trading cycle on the newest stored bars (a daily schedule runs it once a day):
 * the paper broker (state loaded from and saved to the store, so each cycle may run in its
 * own process) or the broker `makeBroker` builds. The run of this model, mode and account
 * is reused from cycle to cycle, so a rerun after a crash gives the same order refs and the
 * broker sees each order once.
 * @param store The store.
 * @param options The model and the trading options.
 * @returns The run, what the cycle did, and the counts of the orders decided at this bar.
 * @example
 * ```ts
 * const r = await tradeOnce(store, { model: "1" });
 * console.log(r.cycle.sent.length, r.cycle.equity);
 * ```
 */
export async function tradeOnce(store: Store, options: TradeOptions): Promise<TradeOnceResult> {
  const pre = await resolveModel(store, options.model);
  const modelId = pre.manifest.modelId ?? null;
  const mode: TradingMode = options.makeBroker ? "ibkr" : "paper";
  const accountId = options.accountId ??
    `${options.makeBroker ? "IBKR" : "PAPER"}-${modelId ?? pre.manifest.name}`;
  const dryRun = options.dryRun ?? false;
  let run = await findTradingRun(store, { modelId, mode, accountId, dryRun });
  // The newest bar every instrument has: the decision bar.
  const cfg = pre.manifest.config;
  const perAsset = perAssetTopology(cfg.policy) !== null;
  const instruments = evaluationUniverse(cfg.instruments, options.symbols, { perAsset });
  const spans = (await storedRanges(store, cfg.barSize)).filter((r) =>
    instruments.includes(r.instrument)
  );
  const end = spans.map((r) => r.last).sort()[0];
  if (!end) throw new RangeError(`No ${cfg.barSize} bars for ${instruments.join(", ")}`);
  // From the run's first decision bar on (the action schemes' growth since it), with the
  // features' warm-up and the impact window before it.
  const carried = run ? parseCycleState(run.cycle, 1) : null;
  const endMs = Date.parse(`${end}T00:00:00Z`);
  const start = isoDate(Math.min(carried?.episodeStart ?? endMs, endMs));
  const p = await prepare(store, options, {
    start,
    end,
    extraHistory: resolveCostOptions({ ...options.costs }).impactLookback + 2,
    wholePanel: true,
  });
  try {
    const prices = p.market.prices;
    const t = prices.timestamps.length - 1;
    let broker: Broker;
    let paper: PaperBroker | null = null;
    if (options.makeBroker) {
      broker = await options.makeBroker({
        accountId,
        instruments: p.instruments,
        costs: p.costs,
        executeAt: p.env.executeAt,
        initialCash: p.initialCash,
      });
    } else {
      const saved = await loadPaperState(store, accountId);
      paper = saved === null ? null : PaperBroker.fromState(saved);
      if (paper === null) {
        paper = new PaperBroker({
          accountId,
          initialCash: p.initialCash,
          costs: p.costs,
          executeAt: p.env.executeAt,
          fractional: options.fractional,
          accountType: options.accountType,
          maxVolumeShare: options.maxVolumeShare,
          symbols: p.instruments,
        });
        // A new account: the history before the decision bar, for the impact inputs.
        catchUp(paper, prices, Math.max(0, t - p.costs.impactLookback - 1), t - 1);
      }
      broker = paper;
    }
    if (!run) {
      const id = await startTradingRun(store, {
        modelId,
        brokerKind: options.makeBroker ? "ibkr" : "paper",
        accountId,
        mode,
        dryRun,
        settings: {
          model: options.model,
          instruments: p.instruments,
          costs: p.costs,
          fractional: broker.fractional,
          env: p.saved.manifest.config.env,
          risk: options.risk ?? DEFAULT_RISK_LIMITS,
        },
      });
      run = (await findTradingRun(store, { modelId, mode, accountId, dryRun }))!;
      if (run.id !== id) throw new Error(`tradeOnce(): run ${id} was not found after creating it`);
    }
    const account = await broker.account();
    const state = parseCycleState(run.cycle, account.netLiquidation);
    await updateTradingRun(store, run.id, { status: "running", error: null });
    const manual = modelId === null ? false : (await readTradingHalt(store, modelId)).halted;
    const pb = paper;
    try {
      const cycle = await runTradingCycle({
        store,
        runId: run.id,
        broker,
        prices,
        t,
        decider: p.decider,
        state,
        tradingState: run.tradingState,
        manualHalt: manual,
        limits: options.risk ?? DEFAULT_RISK_LIMITS,
        dryRun,
        onStep: options.onCycleStep,
        now: options.makeBroker ? Date.now() : undefined,
        advance: pb
          ? () => {
            const from = prices.timestamps.findIndex((ts) => ts > pb.time);
            if (from >= 0) catchUp(pb, prices, from, t);
            return Promise.resolve();
          }
          : undefined,
        checkpoint: pb ? () => savePaperState(store, accountId, pb.toState()) : undefined,
      });
      await updateTradingRun(store, run.id, {
        status: "ok",
        tradingState: cycle.tradingState,
        stateReason: cycle.stateReason ?? (cycle.tradingState === "active" ? null : undefined),
        cycle: { ...cycle.state },
        lastBar: cycle.bar,
      });
      return {
        runId: run.id,
        model: p.saved,
        mode,
        accountId,
        cycle,
        orders: await orderCounts(store, run.id, cycle.bar),
        risk: options.risk ?? DEFAULT_RISK_LIMITS,
      };
    } catch (e) {
      await updateTradingRun(store, run.id, {
        status: "failed",
        error: e instanceof Error ? e.message : String(e),
      });
      throw e;
    } finally {
      if (options.makeBroker) await broker.close();
    }
  } finally {
    p.dispose();
  }
}

/**
 * The manual kill switch of a model's trading: `halted` stops every order of every run
 * of the model (the cycle sends nothing); resuming also returns the model's halted or
 * reducing runs to `active` (a halt by reconciliation or an overlay is lifted by hand this way).
 * @param store The store.
 * @param model A model reference (id, `NAME@vN`, directory of a registered model).
 * @param halted True to halt, false to resume.
 * @param reason Stored with the switch.
 * @returns The model id.
 * @throws {RangeError} For a model that is not registered in the store.
 * @example
 * ```ts
 * await setModelTradingHalt(store, "1", true, "manual halt");
 * ```
 */
export async function setModelTradingHalt(
  store: Store,
  model: string,
  halted: boolean,
  reason?: string,
): Promise<number> {
  const saved = await resolveModel(store, model);
  const id = saved.manifest.modelId;
  if (id === undefined || id === null) {
    throw new RangeError(
      `Model ${model} is not registered in this store: the kill switch is kept per registered model`,
    );
  }
  await setTradingHalt(
    store,
    id,
    halted,
    reason ?? (halted ? "manual halt" : "resumed by hand"),
  );
  if (!halted) {
    for (const r of await listTradingRuns(store, { modelId: id })) {
      if (r.tradingState !== "active") {
        const reason = "resumed by hand (deno task trade --resume-trading)";
        await updateTradingRun(store, r.id, { tradingState: "active", stateReason: reason });
        await recordTradingStateChange(store, {
          runId: r.id,
          bar: null,
          from: r.tradingState,
          to: "active",
          rule: "resume",
          reason,
        });
      }
    }
  }
  return id;
}

/**
 * The one-line JSON `deno task trade --json` prints for a replay: metrics under
 * `strategy` with `evaluate --json`'s names (`headlineMetrics`), plus the orders sent,
 * filled, rejected and blocked per overlay.
 * @param r A replay.
 * @returns A plain object.
 * @example
 * ```ts
 * console.log(JSON.stringify(replaySummary(await replayTrading(store, { model: "1", start: "2017-01-03" }))));
 * ```
 */
export function replaySummary(r: ReplayResult): Record<string, unknown> {
  return {
    mode: "replay",
    runId: r.runId,
    modelId: r.model.manifest.modelId ?? null,
    modelDir: r.model.dir,
    instruments: r.instruments,
    start: r.range.start,
    end: r.range.end,
    steps: r.equity.length - 1,
    inSample: r.inSampleOverlap.length > 0,
    trainedOverlap: r.inSampleOverlap,
    strategy: headlineMetrics(r.metrics),
    equity: r.equity[r.equity.length - 1],
    orders: r.orders,
    costsPaid: r.costsPaid,
    costs: r.costs,
    risk: r.risk,
    tradingState: r.tradingState,
    stateReason: r.stateReason,
  };
}

/**
 * The one-line JSON of one live cycle.
 * @param r The cycle.
 * @returns A plain object.
 * @example
 * ```ts
 * console.log(JSON.stringify(cycleSummary(await tradeOnce(store, { model: "1" }))));
 * ```
 */
export function cycleSummary(r: TradeOnceResult): Record<string, unknown> {
  const c = r.cycle;
  return {
    mode: r.mode,
    runId: r.runId,
    modelId: r.model.manifest.modelId ?? null,
    accountId: r.accountId,
    bar: isoDate(c.bar),
    reconciled: c.reconciliation.ok,
    differences: c.reconciliation.differences,
    tradingState: c.tradingState,
    stateReason: c.stateReason ?? null,
    stateRule: c.stateRule ?? null,
    planned: c.planned.length,
    alreadyKnown: c.alreadyKnown.length,
    cancelled: c.cancelled.length,
    orders: r.orders,
    risk: r.risk,
    // What went out (in a dry run: what would have).
    outgoing: c.outgoing.map((o) => ({
      ref: o.ref,
      symbol: o.symbol,
      side: o.side,
      quantity: o.quantity,
      type: o.type,
    })),
    blocked: c.blocked.map((d) => ({ ref: d.order.ref, rule: d.rule ?? null, reason: d.reason })),
    equity: c.equity,
    cash: c.account.cash,
    positions: c.positions.map((p) => ({ symbol: p.symbol, quantity: p.quantity })),
  };
}
