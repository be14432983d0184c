/**
 * The trading cycle: ONE function, {@linkcode runTradingCycle}, used by the historical
 * replay, live paper trading and IB. At the close of a decision bar `t` it:
 *
 * 1. lets the market move on (`advance`: the paper broker fills the previous decision's
 *    orders in bar `t`; IB fills by itself);
 * 2. **reconciles**: brings the store's orders and fills up to date from the broker
 *    (each execution recorded once, by exec id), then compares the broker's positions
 *    with the book the store holds (the sum of the run's recorded fills) and the broker's
 *    open orders with the store's. Any difference halts the run with a report: no trading
 *    on a wrong book;
 * 3. cancels the earlier decisions' orders still working (the new target supersedes them);
 * 4. observes and decides exactly as the env does (`PortfolioEnv.observeAt` and
 *    `decideAt`: the same observation, action scheme, caps and friction band as
 *    `evaluate`), from the weights the broker's book has at the close of `t`;
 * 5. turns target weights into orders: `shares = round(w · equity / close_t) − held`
 *    (whole shares unless `broker.fractional`), never a zero quantity, sells first,
 *    `MOO` when the env executes at the next open, `MOC` at the next close, with the
 *    deterministic `orderRef(run, t, symbol)`;
 * 6. runs the risk overlays (`applyRiskOverlays`, `lib/execution/risk.ts`, with the run's
 *    {@linkcode CycleInput}`.limits`) and records every decision with its rule and reason;
 *    a blocked order is stored with the rule that blocked it; a halted run (an overlay,
 *    reconciliation or the manual kill switch) sends nothing; a change of the trading state
 *    is recorded with its rule and reason (`tt_trading_state_changes`). A `reducing` state
 *    carried in is lifted at the first cycle of a new trading day (the daily loss limit is
 *    per day; a drawdown still below its limit sets it again at once); `halted` stays until
 *    `deno task trade --resume-trading`;
 * 7. **idempotent submission**: every order is recorded as `planned` before it is sent; a
 *    ref the broker already knows is never submitted again (a rerun after a crash at any
 *    point sends each order once);
 * 8. records positions, the account and the P&L at bar `t`.
 *
 * Sizing differs from the simulator's in one way, on purpose: the simulator sizes at the
 * execution bar (`units = w · W_exec / p_exec`, information a real trader does not have
 * when the order goes out after the close), the cycle at the decision close. With whole
 * shares the held weights then differ by the rounding too; the replay's equity follows
 * `evaluate`'s within these (see `tests/trade_replay_test.ts` for the measured size).
 *
 * @module
 */
import type { Queryable } from "../db/store.ts";
import {
  fillBook,
  readFills,
  readOrders,
  recordBarSnapshot,
  recordFills,
  recordOrderEvents,
  recordOrders,
  recordRiskDecisions,
  recordTradingStateChange,
  type StoredOrder,
  type StoredOrderEvent,
  type StoredOrderStatus,
  type StoredPosition,
} from "../db/execution_repo.ts";
import type { PricePanel } from "../data/panel.ts";
import type { PortfolioEnv } from "../env/portfolio_env.ts";
import type { PolicyBackend } from "../agents/policy.ts";
import { ObsNormalizer, type ObsNormStats } from "../agents/ppo.ts";
import { policyDims } from "../agents/per_asset.ts";
import { Rng } from "../util/rng.ts";
import {
  type AccountSnapshot,
  type Broker,
  type BrokerPosition,
  orderRef,
  type OrderRequest,
  type OrderState,
  type OrderType,
} from "./broker.ts";
import {
  applyRiskOverlays,
  DEFAULT_RISK_LIMITS,
  type RiskContext,
  type RiskDecision,
  type RiskLimits,
  type TradingState,
} from "./risk.ts";

/**
 * The deterministic policy over an env's observation and decision rules, for a book held
 * at a broker: the same steps as `runDeterministicEpisode` (`lib/pipeline/rollout.ts`):
 * frozen observation normaliser, deterministic action, the env's scheme and friction.
 */
export class PolicyDecider {
  readonly env: PortfolioEnv;
  readonly #backend: PolicyBackend;
  readonly #norm: ObsNormalizer | null;
  readonly #input: Float32Array;
  readonly #actDim: number;
  readonly #rng = new Rng(0); // unused by deterministic actions; act() requires one

  /**
   * @param env The env built with the model's saved settings over the loaded panels.
   * @param backend The policy, weights imported.
   * @param obsNorm The saved observation normaliser (null when trained without).
   * @throws {TypeError} When the policy cannot take the env's observations.
   * @example
   * ```ts
   * const decider = new PolicyDecider(env, backend, saved.obsNorm);
   * ```
   */
  constructor(env: PortfolioEnv, backend: PolicyBackend, obsNorm: ObsNormStats | null) {
    const { obsDim, actDim } = policyDims(
      backend.config,
      env.observationSpace.shape[0],
      "PolicyDecider: the policy",
    );
    this.env = env;
    this.#backend = backend;
    this.#norm = obsNorm ? ObsNormalizer.fromJSON(obsNorm).freeze() : null;
    this.#input = new Float32Array(obsDim);
    this.#actDim = actDim;
  }

  /**
   * Decides at the close of bar `t` for the weights held there.
   * @param book Bar, weights held, decision index in the run, the run's first decision bar.
   * @returns Target weights and the instruments friction holds.
   * @example
   * ```ts
   * decider.decide({ t, weights, steps: 0, episodeStart: t }).targetWeights;
   * ```
   */
  decide(
    book: { t: number; weights: Float64Array; steps: number; episodeStart: number },
  ): { targetWeights: Float64Array; hold?: Uint8Array } {
    const obs = this.env.observeAt(book.t, book.weights);
    if (this.#norm) this.#norm.normalize(obs, 1, this.#input);
    else this.#input.set(obs);
    const { actions } = this.#backend.act(this.#input, 1, this.#rng, { deterministic: true });
    return this.env.decideAt(actions.slice(0, this.#actDim), book);
  }
}

/** What a run carries from one cycle to the next (stored as the run's `cycle_json`). */
export interface CycleState {
  /** Decisions taken so far (the env's `steps`, for `rebalanceEvery`). */
  steps: number;
  /** Timestamp of the run's first decision bar (the env's episode start). */
  episodeStart: number | null;
  /** The last bar a cycle completed (a rerun of that bar changes nothing). */
  lastBar: number | null;
  peakEquity: number;
  dayStartEquity: number;
  /** UTC date of `dayStartEquity`. */
  day: string;
  lastEquity: number;
  /** Per symbol, unrealised + realised P&L at the last snapshot (for P&L per bar). */
  positionPnl: Record<string, number>;
  ordersToday: number;
  recentOrderTimes: number[];
}

/**
 * The state of a run before its first cycle.
 * @param equity Starting equity.
 * @returns A fresh state.
 * @example
 * ```ts
 * const state = initialCycleState(1_000_000);
 * ```
 */
export function initialCycleState(equity: number): CycleState {
  return {
    steps: 0,
    episodeStart: null,
    lastBar: null,
    peakEquity: equity,
    dayStartEquity: equity,
    day: "",
    lastEquity: equity,
    positionPnl: {},
    ordersToday: 0,
    recentOrderTimes: [],
  };
}

/**
 * Validates a stored cycle state (the run's `cycle_json`).
 * @param json Parsed JSON.
 * @param equity Starting equity when the run has none yet.
 * @returns The state.
 * @throws {TypeError} When a field has the wrong type, naming it.
 * @example
 * ```ts
 * const state = parseCycleState(run.cycle, 1_000_000);
 * ```
 */
export function parseCycleState(json: Record<string, unknown>, equity: number): CycleState {
  if (Object.keys(json).length === 0) return initialCycleState(equity);
  const n = (k: string, nullable = false): number | null => {
    const v = json[k];
    if (nullable && v === null) return null;
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new TypeError(
        `Trading run cycle state: ${k} must be a number, got ${JSON.stringify(v)}`,
      );
    }
    return v;
  };
  const pnl = json.positionPnl;
  if (typeof pnl !== "object" || pnl === null || Array.isArray(pnl)) {
    throw new TypeError("Trading run cycle state: positionPnl must be an object");
  }
  const times = json.recentOrderTimes;
  if (!Array.isArray(times) || times.some((x) => typeof x !== "number")) {
    throw new TypeError("Trading run cycle state: recentOrderTimes must be numbers");
  }
  if (typeof json.day !== "string") {
    throw new TypeError("Trading run cycle state: day must be text");
  }
  return {
    steps: n("steps")!,
    episodeStart: n("episodeStart", true),
    lastBar: n("lastBar", true),
    peakEquity: n("peakEquity")!,
    dayStartEquity: n("dayStartEquity")!,
    day: json.day,
    lastEquity: n("lastEquity")!,
    positionPnl: Object.fromEntries(
      Object.entries(pnl as Record<string, unknown>).map(([k, v]) => [k, Number(v)]),
    ),
    ordersToday: n("ordersToday")!,
    recentOrderTimes: times as number[],
  };
}

/** One cycle's inputs. */
export interface CycleInput {
  /** The store (orders, fills, snapshots are recorded there). */
  store: Queryable;
  runId: number;
  broker: Broker;
  /** The loaded bars (the decider's env is built over the same panel). */
  prices: PricePanel;
  /** Bar index of the decision in `prices`. */
  t: number;
  decider: PolicyDecider;
  /** The run's carried state; the cycle returns the next one. */
  state: CycleState;
  /** Trading state before this cycle (the run's). */
  tradingState: TradingState;
  /** The model's manual kill switch. */
  manualHalt: boolean;
  /** Risk limits of the overlays. Default `DEFAULT_RISK_LIMITS`. */
  limits?: RiskLimits;
  /**
   * Record the orders, send nothing (and cancel nothing). A reconciliation difference is
   * reported but does not halt: a dry run's store holds none of the account's fills.
   */
  dryRun?: boolean;
  /** Mark and record only, no decision (the replay's last bar: no next bar to fill at). */
  markOnly?: boolean;
  /** Lets the market reach bar `t` first (the paper broker's `onBar`). */
  advance?: () => Promise<void>;
  /** Persists the broker's state after it changed (the paper broker's saved state). */
  checkpoint?: () => Promise<void>;
  /** When orders go out (epoch ms; default `prices.timestamps[t]`). */
  now?: number;
  /**
   * Called at the cycle's steps (`"planned"`: orders recorded, none sent; `"submitted"`:
   * one order acknowledged by the broker, not yet recorded as such; `"recorded"`: every
   * answer recorded). A test hook: `deno task trade` kills itself at one of them when
   * `TT_TRADE_KILL_AT` says so (the kill -9 test).
   */
  onStep?: (step: CycleStep, detail: { ref?: string; count: number }) => void | Promise<void>;
}

/** The steps {@linkcode CycleInput}`.onStep` is called at, in order. */
export const CYCLE_STEPS = ["planned", "submitted", "recorded"] as const;
/** One of {@linkcode CYCLE_STEPS}. */
export type CycleStep = typeof CYCLE_STEPS[number];

/** What a reconciliation found. */
export interface Reconciliation {
  ok: boolean;
  /** One line per difference (empty when ok). */
  differences: string[];
  /** Fills newly recorded from the broker. */
  newFills: number;
}

/** What one cycle did. */
export interface CycleResult {
  bar: number;
  t: number;
  reconciliation: Reconciliation;
  tradingState: TradingState;
  stateReason?: string;
  /** The rule behind a non-active state (a risk rule or `"reconciliation"`). */
  stateRule?: string;
  /** Orders planned by the policy (after rounding; zero quantities dropped). */
  planned: OrderRequest[];
  /** The overlays' verdict on each planned order. */
  decisions: RiskDecision[];
  /** The orders sent (or, in a dry run, that would have been), adjusted quantities applied. */
  outgoing: OrderRequest[];
  /** What the broker answered for each order sent (or already known). */
  sent: OrderState[];
  /** Refs the broker already knew (not sent again). */
  alreadyKnown: string[];
  blocked: RiskDecision[];
  /** Earlier orders cancelled because the new decision supersedes them. */
  cancelled: string[];
  account: AccountSnapshot;
  positions: BrokerPosition[];
  /** Net liquidation marked at the close of `t` (cash + shares × close). */
  equity: number;
  state: CycleState;
}

const OPEN_STORED: ReadonlySet<StoredOrderStatus> = new Set<StoredOrderStatus>([
  "planned",
  "submitted",
  "partially-filled",
]);
const utcDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);

function event(o: OrderState, time: number, message?: string): StoredOrderEvent {
  return {
    ref: o.ref,
    time,
    status: o.status,
    filled: o.filled,
    remaining: o.remaining,
    avgPrice: o.avgFillPrice,
    message: message ?? o.reason ?? null,
  };
}

function storedFrom(o: OrderState, base: StoredOrder): StoredOrder {
  return {
    ...base,
    status: o.status,
    filled: o.filled,
    avgPrice: Number.isFinite(o.avgFillPrice) ? o.avgFillPrice : null,
    brokerOrderId: o.brokerOrderId,
    reason: o.reason ?? null,
  };
}

/**
 * Brings the store up to date with the broker and compares the books (step 2 of the
 * module documentation). Pure of trading: it sends nothing.
 * @param store The store.
 * @param runId The run.
 * @param broker The broker.
 * @param time Time stamped on the events it records.
 * @returns Whether the books agree, every difference, and the fills it recorded.
 * @example
 * ```ts
 * const r = await reconcile(store, runId, broker, Date.now());
 * if (!r.ok) console.error(r.differences.join("\n"));
 * ```
 */
export async function reconcile(
  store: Queryable,
  runId: number,
  broker: Broker,
  time: number,
  since?: number,
): Promise<Reconciliation> {
  const differences: string[] = [];
  const orders = await readOrders(store, runId, { statuses: [...OPEN_STORED] });
  const prefix = `tt:${runId}:`;
  // Orders the store has as live: take the broker's word for their state.
  const updates: StoredOrder[] = [];
  const events: StoredOrderEvent[] = [];
  for (const o of orders) {
    if (!OPEN_STORED.has(o.status)) continue;
    const b = await broker.order(o.ref);
    if (!b) {
      if (o.status === "planned") {
        // Recorded but never acknowledged: the process died before the broker saw it.
        updates.push({ ...o, status: "cancelled", reason: "never reached the broker" });
        events.push({
          ref: o.ref,
          time,
          status: "cancelled",
          filled: 0,
          remaining: 0,
          message: "never reached the broker (no acknowledgement before the process stopped)",
        });
      } else {
        differences.push(`order ${o.ref} is ${o.status} in the store but unknown to the broker`);
      }
      continue;
    }
    if (b.status !== o.status || b.filled !== (o.filled ?? 0)) {
      updates.push(storedFrom(b, o));
      events.push(event(b, time));
    }
  }
  // Every execution of this run's orders (since the last completed cycle), once.
  const execs = (await broker.executions(since)).filter((f) => f.ref.startsWith(prefix));
  const refs = [...new Set(execs.map((f) => f.ref))];
  const byRef = new Map(
    (refs.length ? await readOrders(store, runId, { refs }) : []).map((o) => [o.ref, o]),
  );
  const foreign = execs.filter((f) => !byRef.has(f.ref));
  for (const f of foreign) {
    differences.push(`execution ${f.execId} of ${f.ref} belongs to no order in the store`);
  }
  await recordOrders(store, updates);
  await recordOrderEvents(store, events);
  const added = await recordFills(
    store,
    execs.filter((f) => byRef.has(f.ref)).map((f) => ({ ...f, runId })),
  );
  // The store's book: the run's fills.
  const book = await fillBook(store, runId);
  const held = new Map((await broker.positions()).map((p) => [p.symbol, p.quantity]));
  for (const s of new Set([...book.keys(), ...held.keys()])) {
    const want = book.get(s) ?? 0, have = held.get(s) ?? 0;
    if (Math.abs(want - have) > 1e-6) {
      differences.push(`position ${s}: broker holds ${have}, the store's fills give ${want}`);
    }
  }
  const open = await broker.openOrders();
  const storedOpen = new Set(
    open.length
      ? (await readOrders(store, runId, { refs: open.map((o) => o.ref) })).map((o) => o.ref)
      : [],
  );
  for (const o of open) {
    if (!storedOpen.has(o.ref)) {
      differences.push(`open order ${o.ref} at the broker is not in the store`);
    }
  }
  return { ok: differences.length === 0, differences, newFills: added.length };
}

/**
 * Orders that move a book to target weights at the decision close (step 5 of the module
 * documentation).
 * @param o Instruments, target weights, held shares, closes at `t`, equity, hold flags.
 * @returns The orders (sells first), none of zero quantity.
 * @example
 * ```ts
 * ordersForTargets({ runId: 1, bar, instruments: ["A"], targetWeights: [0.5], held: [0], close: [10],
 *   equity: 1000, fractional: false, type: "MOO" }); // BUY 50 A
 * ```
 */
export function ordersForTargets(o: {
  runId: number;
  bar: number;
  instruments: readonly string[];
  targetWeights: ArrayLike<number>;
  held: ArrayLike<number>;
  close: ArrayLike<number>;
  equity: number;
  fractional: boolean;
  type: OrderType;
  hold?: ArrayLike<number>;
}): OrderRequest[] {
  const out: OrderRequest[] = [];
  for (let i = 0; i < o.instruments.length; i++) {
    if (o.hold?.[i]) continue;
    const p = o.close[i];
    if (!(Number.isFinite(p) && p > 0)) continue; // no price at the decision: cannot size
    const exact = o.targetWeights[i] * o.equity / p;
    const target = o.fractional ? Math.round(exact * 1e6) / 1e6 : Math.round(exact);
    const delta = target - o.held[i];
    const qty = o.fractional ? Math.round(Math.abs(delta) * 1e6) / 1e6 : Math.abs(delta);
    if (!(qty > 0)) continue;
    out.push({
      ref: orderRef(o.runId, o.bar, o.instruments[i]),
      symbol: o.instruments[i],
      side: delta > 0 ? "BUY" : "SELL",
      quantity: qty,
      type: o.type,
    });
  }
  return out.sort((a, b) => (a.side === b.side ? 0 : a.side === "SELL" ? -1 : 1));
}

/**
 * Runs one trading cycle at the close of bar `t`; see the module documentation.
 * @param input See {@linkcode CycleInput}.
 * @returns What it did, and the state to carry to the next cycle.
 * @example
 * ```ts
 * const r = await runTradingCycle({ store, runId, broker, prices, t, decider, state,
 *   tradingState: "active", manualHalt: false, advance: () => feedBar(t) });
 * state = r.state;
 * ```
 */
export async function runTradingCycle(input: CycleInput): Promise<CycleResult> {
  const { store, runId, broker, prices, t } = input;
  const bar = prices.timestamps[t];
  if (bar === undefined) throw new RangeError(`runTradingCycle(): bar ${t} is not in the panel`);
  const now = input.now ?? bar;
  const instruments = prices.instruments;
  const n = instruments.length;
  if (input.decider.env.instruments.join(",") !== instruments.join(",")) {
    throw new TypeError(
      `runTradingCycle(): the decider trades ${input.decider.env.instruments.join(",")} ` +
        `but the panel holds ${instruments.join(",")}`,
    );
  }
  const state: CycleState = structuredClone(input.state);
  if (input.advance) await input.advance();
  if (input.checkpoint) await input.checkpoint();
  const reconciliation = await reconcile(
    store,
    runId,
    broker,
    now,
    state.lastBar === null ? undefined : state.lastBar + 1,
  );
  let tradingState: TradingState = input.tradingState;
  let stateReason: string | undefined;
  let stateRule: string | undefined;
  const result = (extra: Partial<CycleResult>) => ({
    bar,
    t,
    reconciliation,
    tradingState,
    stateReason,
    stateRule,
    planned: [],
    decisions: [],
    outgoing: [],
    sent: [],
    alreadyKnown: [],
    blocked: [],
    cancelled: [],
    ...extra,
  });
  // Marks at the close of t: the panel's last known close.
  const close = new Float64Array(n).fill(NaN);
  for (let i = 0; i < n; i++) {
    for (let u = t; u >= 0; u--) {
      const c = prices.close[u * n + i];
      if (Number.isFinite(c) && c > 0) {
        close[i] = c;
        break;
      }
    }
  }
  const account0 = await broker.account();
  const positions0 = await broker.positions();
  const held = new Float64Array(n);
  const bySymbol = new Map(positions0.map((p) => [p.symbol, p]));
  let equity = account0.cash;
  for (let i = 0; i < n; i++) {
    held[i] = bySymbol.get(instruments[i])?.quantity ?? 0;
    if (held[i] !== 0) equity += held[i] * close[i];
  }
  for (const p of positions0) {
    if (!instruments.includes(p.symbol)) equity += p.marketValue; // outside the universe
  }
  const day = utcDate(bar);
  if (day !== state.day) {
    state.day = day;
    state.dayStartEquity = state.lastBar === null ? equity : state.lastEquity;
    state.ordersToday = 0;
    if (tradingState === "reducing") {
      tradingState = "active"; // the daily loss limit is per day; a drawdown sets it again
      stateRule = "newDay";
      stateReason = `a new trading day (${day}) lifts reducing`;
    }
  }
  if (equity > state.peakEquity) state.peakEquity = equity;

  let planned: OrderRequest[] = [];
  let decisions: RiskDecision[] = [];
  const outgoing: OrderRequest[] = [];
  const sent: OrderState[] = [];
  const alreadyKnown: string[] = [];
  const blocked: RiskDecision[] = [];
  const cancelled: string[] = [];
  const repeat = state.lastBar !== null && bar <= state.lastBar;
  if (!reconciliation.ok && !input.dryRun) {
    tradingState = "halted";
    stateRule = "reconciliation";
    stateReason = `reconciliation failed at ${new Date(bar).toISOString()}: ` +
      reconciliation.differences.join("; ");
  } else if (!input.markOnly && !repeat) {
    // Earlier decisions' working orders: superseded by this decision.
    // (This bar's own orders stay: they are the ones a rerun after a crash finds known.)
    const thisBar = orderRef(runId, bar, "");
    for (const o of input.dryRun ? [] : await broker.openOrders()) {
      if (!o.ref.startsWith(`tt:${runId}:`) || o.ref.startsWith(thisBar)) continue;
      const c = await broker.cancel(o.ref);
      cancelled.push(o.ref);
      const [stored] = await readOrders(store, runId, { refs: [o.ref] });
      if (stored) await recordOrders(store, [storedFrom(c, stored)]);
      await recordOrderEvents(store, [event(c, now, "superseded by the next decision")]);
    }
    if (cancelled.length && input.checkpoint) await input.checkpoint();
    const episodeStart = state.episodeStart === null
      ? t
      : prices.timestamps.indexOf(state.episodeStart);
    if (episodeStart < 0) {
      throw new RangeError(
        `runTradingCycle(): the run's first decision bar ${
          new Date(state.episodeStart!).toISOString()
        } is not in the loaded panel (load bars from it on)`,
      );
    }
    const weights = new Float64Array(n);
    for (let i = 0; i < n; i++) if (held[i] !== 0) weights[i] = held[i] * close[i] / equity;
    const decision = input.decider.decide({ t, weights, steps: state.steps, episodeStart });
    const type: OrderType = input.decider.env.executeAt === "close" ? "MOC" : "MOO";
    planned = ordersForTargets({
      runId,
      bar,
      instruments,
      targetWeights: decision.targetWeights,
      held,
      close,
      equity,
      fractional: broker.fractional,
      type,
      hold: decision.hold,
    });
    const ctx: RiskContext = {
      time: now,
      equity,
      peakEquity: state.peakEquity,
      dayStartEquity: state.dayStartEquity,
      positions: Object.fromEntries(instruments.map((s, i) => [s, held[i]])),
      lastClose: Object.fromEntries(
        instruments.flatMap((s, i) => Number.isFinite(close[i]) ? [[s, close[i]]] : []),
      ),
      ordersToday: state.ordersToday,
      recentOrderTimes: state.recentOrderTimes,
      state: tradingState,
      manualHalt: input.manualHalt,
    };
    const risk = applyRiskOverlays(planned, ctx, input.limits ?? DEFAULT_RISK_LIMITS);
    decisions = risk.decisions;
    if (risk.state !== tradingState || risk.state !== "active") {
      tradingState = risk.state;
      stateRule = risk.stateRule;
      stateReason = risk.stateReason;
    }
    const base = (o: OrderRequest): StoredOrder => ({
      ref: o.ref,
      runId,
      decisionBar: bar,
      symbol: o.symbol,
      side: o.side,
      quantity: o.quantity,
      type: o.type,
      limitPrice: o.limitPrice ?? null,
      status: "planned",
    });
    const records: StoredOrder[] = [];
    for (const d of risk.decisions) {
      if (!d.allowed) {
        blocked.push(d);
        records.push({
          ...base(d.order),
          status: "blocked",
          blockedRule: d.rule ?? null,
          reason: d.reason,
        });
        continue;
      }
      const order = d.adjustedQuantity === undefined
        ? d.order
        : { ...d.order, quantity: d.adjustedQuantity };
      if (await broker.order(order.ref)) {
        alreadyKnown.push(order.ref);
        continue;
      }
      outgoing.push(order);
      records.push({
        ...base(order),
        status: input.dryRun ? "dry-run" : "planned",
        reason: d.rule === undefined ? null : d.reason,
      });
    }
    await recordOrders(store, records);
    await recordRiskDecisions(
      store,
      risk.decisions.map((d) => ({
        runId,
        bar,
        ref: d.order.ref,
        symbol: d.order.symbol,
        allowed: d.allowed,
        rule: d.rule ?? null,
        reason: d.reason,
        adjustedQuantity: d.adjustedQuantity ?? null,
        tradingState,
      })),
    );
    await input.onStep?.("planned", { count: outgoing.length });
    if (!input.dryRun && outgoing.length > 0) {
      for (const o of outgoing) {
        const s = await broker.submit(o);
        sent.push(s);
        state.ordersToday++;
        state.recentOrderTimes.push(now);
        await input.onStep?.("submitted", { ref: o.ref, count: sent.length });
      }
      state.recentOrderTimes = state.recentOrderTimes.slice(-100);
      if (input.checkpoint) await input.checkpoint();
      const stored = new Map(records.map((r) => [r.ref, r]));
      await recordOrders(store, sent.map((s) => storedFrom(s, stored.get(s.ref)!)));
      await recordOrderEvents(store, sent.map((s) => event(s, now)));
      await input.onStep?.("recorded", { count: sent.length });
    }
    if (state.episodeStart === null) state.episodeStart = bar;
    state.steps++;
  }
  if (tradingState !== input.tradingState) {
    await recordTradingStateChange(store, {
      runId,
      bar,
      from: input.tradingState,
      to: tradingState,
      rule: stateRule ?? null,
      reason: stateReason ?? `${input.tradingState} → ${tradingState}`,
    });
  }
  // Snapshot at the close of t.
  const account = await broker.account();
  const positions = await broker.positions();
  const commission = (await readFills(store, runId, { from: bar })).filter((f) => f.time === bar)
    .reduce((a, f) => a + (Number.isFinite(f.commission) ? f.commission : 0), 0);
  const stored: StoredPosition[] = positions.map((p) => {
    const i = instruments.indexOf(p.symbol);
    const mark = i >= 0 && Number.isFinite(close[i]) ? close[i] : p.marketPrice;
    const unrealized = p.quantity * (mark - p.avgCost);
    const total = unrealized + p.realizedPnl;
    return {
      symbol: p.symbol,
      quantity: p.quantity,
      avgCost: p.avgCost,
      marketPrice: mark,
      marketValue: p.quantity * mark,
      unrealizedPnl: unrealized,
      realizedPnl: p.realizedPnl,
      pnl: total - (state.positionPnl[p.symbol] ?? 0),
    };
  });
  await recordBarSnapshot(store, runId, bar, {
    netLiquidation: equity,
    cash: account.cash,
    grossPositionValue: stored.reduce((a, p) => a + Math.abs(p.marketValue), 0),
    buyingPower: account.buyingPower,
    realizedPnl: account.realizedPnl,
    unrealizedPnl: account.unrealizedPnl,
    dailyPnl: equity - state.dayStartEquity,
    pnl: state.lastBar === null ? 0 : equity - state.lastEquity,
    commission,
  }, stored);
  state.positionPnl = Object.fromEntries(
    stored.map((p) => [p.symbol, p.unrealizedPnl + p.realizedPnl]),
  );
  state.lastEquity = equity;
  state.lastBar = Math.max(bar, state.lastBar ?? -Infinity);
  return result({
    planned,
    decisions,
    outgoing,
    sent,
    alreadyKnown,
    blocked,
    cancelled,
    account,
    positions,
    equity,
    state,
  }) as CycleResult;
}
