/**
 * The paper broker: a {@linkcode Broker} that fills orders against bars it is fed, with
 * THE one cost model of `lib/env/costs.ts` (commission by fee model, fixed slippage and
 * square-root impact), so that a historical replay through it charges what the
 * simulator charges.
 *
 * Fills:
 * - Orders wait for the next bar: {@linkcode PaperBroker.onBar} fills the working
 *   orders at that bar — `MOO` at its open, `MOC` at its close, `MKT` at the open or the
 *   close as the env's `executeAt` says (option `executeAt`, default `"open"`), `LMT` at
 *   that price when it is marketable, else at the limit when the bar trades through it
 *   (low ≤ limit for a buy, high ≥ limit for a sell), else it keeps working.
 *   {@linkcode PaperBroker.onQuote} fills `MKT` and marketable `LMT` orders at a given quote.
 * - Market orders pay slippage in their price: `price = p ± (fixed + impact) / shares`,
 *   from `slippageCost(notional, σ, ADV)`, with `σ` and `ADV` trailing estimates at the bar
 *   before the fill (the decision bar; the same `trailingImpactInputs` as the simulator,
 *   over the bars this broker has seen). Limit orders fill at their price, no slippage.
 * - Commission per fill: `"bps"` → `applyTransactionCosts(shares · p, bps)`;
 *   `"ibkr-fixed"` → `ibkrFixedCommission` of the order's cumulative fill minus what the
 *   order was already charged (one IB order, however many partial fills).
 * - Partial fills: at most `maxVolumeShare` of the bar's volume fills per bar (whole
 *   shares unless fractional); the rest keeps working (`partially-filled`). A bar with
 *   no volume figure (NaN or ≤ 0) does not cap.
 *
 * Accounts ({@linkcode PaperAccountType}):
 * - `"margin"` (default, as the env: shorts allowed, cash may go negative): an order is
 *   rejected when the gross exposure it adds (`(|q + Δ| − |q|) · mark`), with the other
 *   working orders' additions, exceeds `leverage · netLiquidation − grossPositionValue`
 *   (Reg-T-like; `leverage` default 2). No interest, no borrow fees (as the simulator).
 * - `"cash"`: no shorts (a sell above the long position left after working sells is
 *   rejected); a buy is rejected when its estimated cost (`shares · mark`, plus
 *   slippage bps and commission) exceeds the cash not already reserved by working buys.
 *   A fill at a higher price than the mark may still take cash slightly below 0.
 *
 * Rejections (status `rejected`, with the reason): unknown symbol (never seen in a bar
 * and not in `symbols`), quantity zero, negative or not finite, fractional quantity on a
 * whole-share broker, `LMT` without a positive limit price, no price yet, insufficient
 * buying power, an unknown side or type. A ref the broker already knows returns the
 * existing order and changes nothing.
 *
 * State: {@linkcode PaperBroker.toState} is plain JSON (NaN as null) and
 * {@linkcode PaperBroker.fromState} validates and restores it, so that live paper trading
 * runs one cycle per process.
 *
 * @module
 */
import {
  applyTransactionCosts,
  type CostOptions,
  ibkrFixedCommission,
  resolveCostOptions,
  type ResolvedCostOptions,
  slippageCost,
  trailingImpactInputs,
} from "../env/costs.ts";
import type { ExecuteAt } from "../env/simulator.ts";
import {
  type AccountSnapshot,
  type Broker,
  type BrokerEvent,
  type BrokerListener,
  type BrokerPosition,
  type Fill,
  ORDER_SIDES,
  ORDER_TYPES,
  type OrderRequest,
  type OrderState,
  TERMINAL_STATUSES,
} from "./broker.ts";

/** One bar of one symbol, as {@linkcode PaperBroker.onBar} takes it (NaN where unknown). */
export interface PaperBar {
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

/** Account kinds of the paper broker; see the module documentation. */
export const PAPER_ACCOUNT_TYPES = ["margin", "cash"] as const;
/** One of {@linkcode PAPER_ACCOUNT_TYPES}. */
export type PaperAccountType = typeof PAPER_ACCOUNT_TYPES[number];

/** Settings of a {@linkcode PaperBroker}; every field has a default. */
export interface PaperBrokerOptions {
  /** Default `"PAPER"`. */
  accountId?: string;
  /** Default `"USD"`. */
  currency?: string;
  /** Cash at the start. Default 1,000,000. */
  initialCash?: number;
  /** The cost model's settings. Default `DEFAULT_COSTS` (10 bps + 5 bps). */
  costs?: CostOptions;
  /** Where `MKT` orders fill in the next bar. Default `"open"`. */
  executeAt?: ExecuteAt;
  /** Accept fractional quantities. Default false. */
  fractional?: boolean;
  /** Default `"margin"`. */
  accountType?: PaperAccountType;
  /** Gross exposure allowed per unit of net liquidation (margin accounts). Default 2. */
  leverage?: number;
  /** Largest share of a bar's volume one order fills in that bar, in (0, 1]. Default 0.1. */
  maxVolumeShare?: number;
  /** Symbols it trades before it has seen a bar of them. Default: those it has seen. */
  symbols?: readonly string[];
}

interface ResolvedPaperOptions {
  accountId: string;
  currency: string;
  initialCash: number;
  costs: ResolvedCostOptions;
  executeAt: ExecuteAt;
  fractional: boolean;
  accountType: PaperAccountType;
  leverage: number;
  maxVolumeShare: number;
  symbols: string[];
}

interface Holding {
  quantity: number;
  avgCost: number;
  realizedPnl: number;
}

/** The serialised state of a {@linkcode PaperBroker} (plain JSON; NaN is stored as null). */
export interface PaperBrokerState {
  version: 1;
  options: ResolvedPaperOptions;
  cash: number;
  time: number;
  nextOrderId: number;
  nextExecId: number;
  dayStartEquity: number;
  dayStartDate: string;
  commissionPaid: number;
  holdings: Record<string, Holding>;
  marks: Record<string, number>;
  /** Trailing closes and volumes per symbol (impact inputs), oldest first, NaN as null. */
  history: Record<string, { close: (number | null)[]; volume: (number | null)[] }>;
  orders: (Omit<OrderState, "avgFillPrice"> & { avgFillPrice: number | null })[];
  fills: Fill[];
  /** Commission each order was charged so far (IBKR's per-order minimum). */
  charged: Record<string, number>;
}

function resolveOptions(o: PaperBrokerOptions): ResolvedPaperOptions {
  const r: ResolvedPaperOptions = {
    accountId: o.accountId ?? "PAPER",
    currency: o.currency ?? "USD",
    initialCash: o.initialCash ?? 1_000_000,
    costs: resolveCostOptions(o.costs ?? {}),
    executeAt: o.executeAt ?? "open",
    fractional: o.fractional ?? false,
    accountType: o.accountType ?? "margin",
    leverage: o.leverage ?? 2,
    maxVolumeShare: o.maxVolumeShare ?? 0.1,
    symbols: [...(o.symbols ?? [])],
  };
  if (!(Number.isFinite(r.initialCash) && r.initialCash > 0)) {
    throw new RangeError(`PaperBroker: initialCash = ${r.initialCash} must be > 0`);
  }
  if (r.executeAt !== "open" && r.executeAt !== "close") {
    throw new RangeError(`PaperBroker: executeAt = ${r.executeAt}: use "open" or "close"`);
  }
  if (!(PAPER_ACCOUNT_TYPES as readonly string[]).includes(r.accountType)) {
    throw new RangeError(
      `PaperBroker: accountType = ${r.accountType}: use ${PAPER_ACCOUNT_TYPES.join(" or ")}`,
    );
  }
  if (!(Number.isFinite(r.leverage) && r.leverage >= 1)) {
    throw new RangeError(`PaperBroker: leverage = ${r.leverage} must be ≥ 1`);
  }
  if (!(r.maxVolumeShare > 0 && r.maxVolumeShare <= 1)) {
    throw new RangeError(`PaperBroker: maxVolumeShare = ${r.maxVolumeShare} must be in (0, 1]`);
  }
  return r;
}

const isPrice = (x: number) => Number.isFinite(x) && x > 0;
const utcDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** The paper broker; see the module documentation. */
export class PaperBroker implements Broker {
  readonly kind = "paper" as const;
  readonly live = false;
  readonly #o: ResolvedPaperOptions;
  #cash: number;
  #time = 0;
  #nextOrderId = 1;
  #nextExecId = 1;
  #dayStartEquity: number;
  #dayStartDate = "";
  #commissionPaid = 0;
  readonly #holdings = new Map<string, Holding>();
  readonly #marks = new Map<string, number>();
  readonly #history = new Map<string, { close: number[]; volume: number[] }>();
  readonly #orders = new Map<string, OrderState>();
  readonly #fills: Fill[] = [];
  readonly #charged = new Map<string, number>();
  readonly #listeners = new Set<BrokerListener>();

  /**
   * @param options See {@linkcode PaperBrokerOptions}.
   * @throws {RangeError} On an invalid option.
   * @example
   * ```ts
   * const broker = new PaperBroker({ initialCash: 100_000, costs: { costPerTurnBps: 0 } });
   * ```
   */
  constructor(options: PaperBrokerOptions = {}) {
    this.#o = resolveOptions(options);
    this.#cash = this.#o.initialCash;
    this.#dayStartEquity = this.#cash;
  }

  /** The account. */
  get accountId(): string {
    return this.#o.accountId;
  }

  /** Whether fractional quantities are accepted. */
  get fractional(): boolean {
    return this.#o.fractional;
  }

  /** The resolved cost settings it charges. */
  get costs(): Readonly<ResolvedCostOptions> {
    return this.#o.costs;
  }

  /** Time of the last bar or quote it saw (0 before any). */
  get time(): number {
    return this.#time;
  }

  /**
   * Sends an order; see the module documentation for the checks.
   * @param order The request.
   * @returns Its state: `submitted`, or `rejected` with the reason; the existing order
   *   when the ref is known.
   * @example
   * ```ts
   * await broker.submit({ ref: "tt:1:201801020000:AAPL", symbol: "AAPL", side: "BUY", quantity: 10, type: "MOO" });
   * ```
   */
  submit(order: OrderRequest): Promise<OrderState> {
    const known = this.#orders.get(order.ref);
    if (known) return Promise.resolve(copyOrder(known));
    const request: OrderRequest = { ...order };
    const reason = this.#rejection(request);
    const state: OrderState = {
      ref: request.ref,
      brokerOrderId: this.#nextOrderId++,
      request,
      status: reason ? "rejected" : "submitted",
      filled: 0,
      remaining: reason ? 0 : request.quantity,
      avgFillPrice: NaN,
      updatedAt: this.#time,
    };
    if (reason) state.reason = reason;
    this.#orders.set(request.ref, state);
    this.#emit({ type: "order", order: copyOrder(state) });
    return Promise.resolve(copyOrder(state));
  }

  /**
   * Cancels a working order.
   * @param ref The order's ref.
   * @returns Its final state (terminal orders as they are).
   * @throws {RangeError} For a ref it does not know.
   * @example
   * ```ts
   * await broker.cancel("tt:1:201801020000:AAPL");
   * ```
   */
  cancel(ref: string): Promise<OrderState> {
    const o = this.#orders.get(ref);
    if (!o) return Promise.reject(new RangeError(`PaperBroker.cancel(): no order with ref ${ref}`));
    if (!TERMINAL_STATUSES.has(o.status)) {
      o.status = "cancelled";
      o.remaining = 0;
      o.reason = "cancelled by request";
      o.updatedAt = this.#time;
      this.#emit({ type: "order", order: copyOrder(o) });
    }
    return Promise.resolve(copyOrder(o));
  }

  /**
   * Orders that are still working.
   * @returns Copies, oldest first.
   * @example
   * ```ts
   * (await broker.openOrders()).length;
   * ```
   */
  openOrders(): Promise<OrderState[]> {
    return Promise.resolve(
      [...this.#orders.values()].filter((o) => !TERMINAL_STATUSES.has(o.status)).map(copyOrder),
    );
  }

  /**
   * One order by ref.
   * @param ref The ref.
   * @returns A copy, or undefined when unknown.
   * @example
   * ```ts
   * (await broker.order(ref))?.status;
   * ```
   */
  order(ref: string): Promise<OrderState | undefined> {
    const o = this.#orders.get(ref);
    return Promise.resolve(o ? copyOrder(o) : undefined);
  }

  /**
   * Non-zero positions, marked at the last close (or quote) seen.
   * @returns One per symbol, sorted by symbol.
   * @example
   * ```ts
   * (await broker.positions()).map((p) => [p.symbol, p.quantity]);
   * ```
   */
  positions(): Promise<BrokerPosition[]> {
    return Promise.resolve(this.#positionList());
  }

  /**
   * Account values: cash, net liquidation at the marks, gross position value, buying power.
   * @returns The snapshot.
   * @example
   * ```ts
   * (await broker.account()).netLiquidation;
   * ```
   */
  account(): Promise<AccountSnapshot> {
    return Promise.resolve(this.#account());
  }

  /**
   * Executions at or after `since`.
   * @param since Epoch ms; all when omitted.
   * @returns Copies, oldest first.
   * @example
   * ```ts
   * (await broker.executions()).length;
   * ```
   */
  executions(since?: number): Promise<Fill[]> {
    return Promise.resolve(
      this.#fills.filter((f) => since === undefined || f.time >= since).map((f) => ({ ...f })),
    );
  }

  /**
   * Subscribes to order, fill and commission events.
   * @param listener Called synchronously for each event.
   * @returns The unsubscribe function.
   * @example
   * ```ts
   * const off = broker.on((e) => console.log(e.type));
   * ```
   */
  on(listener: BrokerListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Drops the listeners (the state stays readable). Idempotent.
   * @example
   * ```ts
   * await broker.close();
   * ```
   */
  close(): Promise<void> {
    this.#listeners.clear();
    return Promise.resolve();
  }

  /**
   * A new bar: fills the working orders in it (see the module documentation), then marks
   * every position at its close and records the bar for the impact inputs. Symbols
   * without a bar (absent, or NaN prices) do not trade and keep their last mark.
   * @param time The bar's timestamp (epoch ms); must not go back in time.
   * @param bars One bar per symbol.
   * @returns The fills made in this bar.
   * @throws {RangeError} When `time` is before the last bar seen.
   * @example
   * ```ts
   * broker.onBar(Date.UTC(2018, 0, 3), { AAPL: { open: 170, high: 172, low: 169, close: 171, volume: 2e7 } });
   * ```
   */
  onBar(time: number, bars: Readonly<Record<string, PaperBar>>): Fill[] {
    if (!(Number.isFinite(time) && time >= this.#time)) {
      throw new RangeError(
        `PaperBroker.onBar(): bar time ${time} is before the last bar seen (${this.#time})`,
      );
    }
    this.#startDay(time);
    this.#time = time;
    const fills: Fill[] = [];
    for (const o of this.#working()) {
      const bar = bars[o.request.symbol];
      if (!bar) continue;
      const fill = this.#fillInBar(o, bar);
      if (fill) fills.push(fill);
    }
    for (const [symbol, bar] of Object.entries(bars)) {
      if (isPrice(bar.close)) this.#marks.set(symbol, bar.close);
      const h = this.#history.get(symbol) ?? { close: [], volume: [] };
      h.close.push(isPrice(bar.close) ? bar.close : NaN);
      h.volume.push(Number.isFinite(bar.volume) ? bar.volume : NaN);
      const keep = this.#o.costs.impactLookback + 1;
      if (h.close.length > keep) {
        h.close.splice(0, h.close.length - keep);
        h.volume.splice(0, h.volume.length - keep);
      }
      this.#history.set(symbol, h);
    }
    for (const s of this.#history.keys()) {
      if (bars[s]) continue;
      // A known symbol without a bar: a missing bar for the trailing estimates.
      const h = this.#history.get(s)!;
      h.close.push(NaN);
      h.volume.push(NaN);
    }
    return fills;
  }

  /**
   * Fills working `MKT` orders (and marketable `LMT` ones) at the given quotes, with
   * slippage, no volume cap; marks those symbols at their quote.
   * @param time Epoch ms.
   * @param quotes Price per symbol.
   * @returns The fills.
   * @throws {RangeError} When `time` is before the last bar or quote seen.
   * @example
   * ```ts
   * broker.onQuote(Date.now(), { AAPL: 171.2 });
   * ```
   */
  onQuote(time: number, quotes: Readonly<Record<string, number>>): Fill[] {
    if (!(Number.isFinite(time) && time >= this.#time)) {
      throw new RangeError(`PaperBroker.onQuote(): time ${time} is before ${this.#time}`);
    }
    this.#startDay(time);
    this.#time = time;
    const fills: Fill[] = [];
    for (const o of this.#working()) {
      const p = quotes[o.request.symbol];
      if (!isPrice(p) || (o.request.type !== "MKT" && o.request.type !== "LMT")) continue;
      if (o.request.type === "LMT" && !marketable(o.request, p)) continue;
      const fill = this.#execute(o, o.remaining, p, o.request.type === "MKT");
      if (fill) fills.push(fill);
    }
    for (const [s, p] of Object.entries(quotes)) if (isPrice(p)) this.#marks.set(s, p);
    return fills;
  }

  /**
   * The whole state as plain JSON (orders, fills, positions, cash, marks, trailing bars).
   * @returns A JSON-safe object; `JSON.stringify` it to store it.
   * @example
   * ```ts
   * const saved = JSON.stringify(broker.toState());
   * const again = PaperBroker.fromState(JSON.parse(saved));
   * ```
   */
  toState(): PaperBrokerState {
    const nul = (x: number) => (Number.isNaN(x) ? null : x);
    return {
      version: 1,
      options: { ...this.#o, costs: { ...this.#o.costs }, symbols: [...this.#o.symbols] },
      cash: this.#cash,
      time: this.#time,
      nextOrderId: this.#nextOrderId,
      nextExecId: this.#nextExecId,
      dayStartEquity: this.#dayStartEquity,
      dayStartDate: this.#dayStartDate,
      commissionPaid: this.#commissionPaid,
      holdings: Object.fromEntries([...this.#holdings].map(([s, h]) => [s, { ...h }])),
      marks: Object.fromEntries(this.#marks),
      history: Object.fromEntries(
        [...this.#history].map((
          [s, h],
        ) => [s, { close: h.close.map(nul), volume: h.volume.map(nul) }]),
      ),
      orders: [...this.#orders.values()].map((o) => ({
        ...copyOrder(o),
        avgFillPrice: nul(o.avgFillPrice),
      })),
      fills: this.#fills.map((f) => ({ ...f })),
      charged: Object.fromEntries(this.#charged),
    };
  }

  /**
   * Restores a broker from {@linkcode PaperBroker.toState}'s output (e.g. parsed from the
   * store), checking every field.
   * @param json The parsed state.
   * @returns The broker, as it was.
   * @throws {TypeError} When a field is missing or of the wrong type, naming it.
   * @example
   * ```ts
   * const broker = PaperBroker.fromState(JSON.parse(text));
   * ```
   */
  static fromState(json: unknown): PaperBroker {
    const s = parsePaperState(json);
    const b = new PaperBroker({ ...s.options });
    b.#cash = s.cash;
    b.#time = s.time;
    b.#nextOrderId = s.nextOrderId;
    b.#nextExecId = s.nextExecId;
    b.#dayStartEquity = s.dayStartEquity;
    b.#dayStartDate = s.dayStartDate;
    b.#commissionPaid = s.commissionPaid;
    for (const [k, h] of Object.entries(s.holdings)) b.#holdings.set(k, { ...h });
    for (const [k, m] of Object.entries(s.marks)) b.#marks.set(k, m);
    const num = (x: number | null) => (x === null ? NaN : x);
    for (const [k, h] of Object.entries(s.history)) {
      b.#history.set(k, { close: h.close.map(num), volume: h.volume.map(num) });
    }
    for (const o of s.orders) {
      b.#orders.set(o.ref, { ...o, request: { ...o.request }, avgFillPrice: num(o.avgFillPrice) });
    }
    for (const f of s.fills) b.#fills.push({ ...f });
    for (const [k, c] of Object.entries(s.charged)) b.#charged.set(k, c);
    return b;
  }

  #emit(e: BrokerEvent): void {
    for (const l of this.#listeners) l(e);
  }

  #startDay(time: number): void {
    const day = utcDate(time);
    if (day !== this.#dayStartDate) {
      this.#dayStartDate = day;
      this.#dayStartEquity = this.#account().netLiquidation;
    }
  }

  #working(): OrderState[] {
    return [...this.#orders.values()]
      .filter((o) => !TERMINAL_STATUSES.has(o.status))
      .sort((a, b) => a.brokerOrderId - b.brokerOrderId);
  }

  #known(symbol: string): boolean {
    return this.#o.symbols.includes(symbol) || this.#history.has(symbol);
  }

  #rejection(r: OrderRequest): string | undefined {
    if (typeof r.ref !== "string" || r.ref.length === 0) return "an order needs a ref";
    if (!(ORDER_SIDES as readonly string[]).includes(r.side)) {
      return `unknown side ${JSON.stringify(r.side)}: use ${ORDER_SIDES.join(" or ")}`;
    }
    if (!(ORDER_TYPES as readonly string[]).includes(r.type)) {
      return `unknown order type ${JSON.stringify(r.type)}: use one of ${ORDER_TYPES.join(", ")}`;
    }
    if (typeof r.symbol !== "string" || !this.#known(r.symbol)) {
      return `unknown symbol ${JSON.stringify(r.symbol)}: the paper broker has no bar of it`;
    }
    if (!(typeof r.quantity === "number" && Number.isFinite(r.quantity) && r.quantity > 0)) {
      return `quantity ${r.quantity} must be a positive finite number`;
    }
    if (!this.#o.fractional && !Number.isInteger(r.quantity)) {
      return `fractional quantity ${r.quantity}: this account trades whole shares`;
    }
    if (r.type === "LMT" && !(typeof r.limitPrice === "number" && isPrice(r.limitPrice))) {
      return `a LMT order needs a positive limit price, got ${r.limitPrice}`;
    }
    const mark = this.#marks.get(r.symbol) ?? (r.type === "LMT" ? r.limitPrice! : NaN);
    if (!isPrice(mark)) return `no price for ${r.symbol} yet: feed a bar first`;
    const signed = r.side === "BUY" ? r.quantity : -r.quantity;
    const held = this.#holdings.get(r.symbol)?.quantity ?? 0;
    const working = this.#working();
    if (this.#o.accountType === "cash") {
      if (signed < 0) {
        const sellsWorking = working.filter((o) =>
          o.request.symbol === r.symbol && o.request.side === "SELL"
        ).reduce((a, o) => a + o.remaining, 0);
        if (r.quantity > held - sellsWorking + 1e-9) {
          return `insufficient position: selling ${r.quantity} ${r.symbol} with ${
            held - sellsWorking
          } available; a cash account cannot sell short`;
        }
        return undefined;
      }
      const reserved = working.filter((o) => o.request.side === "BUY")
        .reduce((a, o) => a + o.remaining * this.#priceOf(o.request), 0);
      const notional = r.quantity * mark;
      const c = this.#o.costs;
      const fee = c.feeModel === "ibkr-fixed"
        ? ibkrFixedCommission(r.quantity, mark)
        : applyTransactionCosts(notional, c.costPerTurnBps);
      const need = notional * (1 + c.slippageBps / 1e4) + fee;
      if (need > this.#cash - reserved + 1e-9) {
        return `insufficient buying power: the order needs about ${
          need.toFixed(2)
        } ${this.#o.currency}, ` +
          `${(this.#cash - reserved).toFixed(2)} is available in this cash account`;
      }
      return undefined;
    }
    // Margin: the gross exposure this order adds, with the other working orders' additions.
    const added = (Math.abs(held + signed) - Math.abs(held)) * mark;
    if (added <= 0) return undefined;
    const a = this.#account();
    const pending = working.reduce((acc, o) => {
      const q = this.#holdings.get(o.request.symbol)?.quantity ?? 0;
      const d = o.request.side === "BUY" ? o.remaining : -o.remaining;
      return acc + Math.max(0, (Math.abs(q + d) - Math.abs(q)) * this.#priceOf(o.request));
    }, 0);
    if (added > a.buyingPower - pending + 1e-6) {
      return `insufficient buying power: the order adds ${
        added.toFixed(2)
      } ${this.#o.currency} of exposure, ` +
        `${(a.buyingPower - pending).toFixed(2)} is available (leverage ${this.#o.leverage})`;
    }
    return undefined;
  }

  #priceOf(r: OrderRequest): number {
    const m = this.#marks.get(r.symbol);
    return m !== undefined && isPrice(m) ? m : r.limitPrice ?? 0;
  }

  /** Fills (part of) a working order in a bar; undefined when it does not trade there. */
  #fillInBar(o: OrderState, bar: PaperBar): Fill | undefined {
    const r = o.request;
    const at = r.type === "MOO" ? "open" : r.type === "MOC" ? "close" : this.#o.executeAt;
    const p = at === "open" ? bar.open : bar.close;
    if (!isPrice(p) || !isPrice(bar.close)) return undefined;
    let price = p;
    if (r.type === "LMT") {
      const lim = r.limitPrice!;
      if (!marketable(r, p)) {
        const through = r.side === "BUY" ? bar.low <= lim : bar.high >= lim;
        if (!through) return undefined;
        price = lim;
      }
    }
    let qty = o.remaining;
    if (Number.isFinite(bar.volume) && bar.volume > 0) {
      const cap = bar.volume * this.#o.maxVolumeShare;
      const allowed = this.#o.fractional ? cap : Math.floor(cap);
      qty = Math.min(qty, allowed);
    }
    if (!(qty > 0)) return undefined;
    return this.#execute(o, qty, price, r.type !== "LMT");
  }

  /** Impact inputs at the last bar seen (the decision bar). */
  #impactInputs(symbol: string): { sigma: number; adv: number } {
    const h = this.#history.get(symbol);
    if (!h || h.close.length === 0) return { sigma: NaN, adv: NaN };
    const L = this.#o.costs.impactLookback;
    const close = Float64Array.from(h.close);
    const volume = Float64Array.from(h.volume);
    const returns = new Float64Array(close.length).fill(NaN);
    for (let t = 1; t < close.length; t++) {
      if (!Number.isNaN(close[t]) && !Number.isNaN(close[t - 1])) {
        returns[t] = close[t] / close[t - 1] - 1;
      }
    }
    const { sigma, adv } = trailingImpactInputs(returns, close, volume, 1, L);
    return { sigma: sigma[close.length - 1], adv: adv[close.length - 1] };
  }

  #execute(o: OrderState, qty: number, p: number, slipped: boolean): Fill | undefined {
    const r = o.request;
    const c = this.#o.costs;
    const notional = qty * p;
    const { sigma, adv } = slipped ? this.#impactInputs(r.symbol) : { sigma: NaN, adv: NaN };
    const s = slipped ? slippageCost(notional, sigma, adv, c) : { fixed: 0, impact: 0 };
    const slip = s.fixed + s.impact;
    const sign = r.side === "BUY" ? 1 : -1;
    const price = p + sign * slip / qty;
    const filledBefore = o.filled;
    const filledAfter = filledBefore + qty;
    let commission: number;
    if (c.feeModel === "ibkr-fixed") {
      const avgP = Number.isNaN(o.avgFillPrice) ? p : (o.avgFillPrice * filledBefore + notional) /
        filledAfter;
      const total = ibkrFixedCommission(filledAfter, avgP);
      commission = Math.max(0, total - (this.#charged.get(r.ref) ?? 0));
    } else commission = applyTransactionCosts(notional, c.costPerTurnBps);
    this.#charged.set(r.ref, (this.#charged.get(r.ref) ?? 0) + commission);
    // Cash: the notional at p, then slippage and commission (the simulator's order).
    this.#cash -= sign * notional;
    this.#cash -= commission + slip;
    this.#commissionPaid += commission;
    this.#book(r.symbol, sign * qty, price);
    o.avgFillPrice = Number.isNaN(o.avgFillPrice)
      ? price
      : (o.avgFillPrice * filledBefore + price * qty) / filledAfter;
    o.filled = filledAfter;
    const done = this.#o.fractional
      ? o.request.quantity - filledAfter <= 1e-9
      : filledAfter >= o.request.quantity;
    o.remaining = done ? 0 : o.request.quantity - filledAfter;
    o.status = done ? "filled" : "partially-filled";
    o.updatedAt = this.#time;
    const fill: Fill = {
      // Unique across accounts and runs (refs are), and deterministic.
      execId: `${r.ref}#${this.#nextExecId++}`,
      ref: r.ref,
      brokerOrderId: o.brokerOrderId,
      symbol: r.symbol,
      side: r.side,
      quantity: qty,
      price,
      commission,
      slippage: slip,
      time: this.#time,
    };
    this.#fills.push(fill);
    this.#emit({ type: "fill", fill: { ...fill } });
    this.#emit({ type: "commission", execId: fill.execId, commission });
    this.#emit({ type: "order", order: copyOrder(o) });
    return { ...fill };
  }

  /** Average cost and realised P&L of a signed fill. */
  #book(symbol: string, dq: number, price: number): void {
    const h = this.#holdings.get(symbol) ?? { quantity: 0, avgCost: 0, realizedPnl: 0 };
    const q = h.quantity;
    if (q === 0 || Math.sign(q) === Math.sign(dq)) {
      h.avgCost = (Math.abs(q) * h.avgCost + Math.abs(dq) * price) / (Math.abs(q) + Math.abs(dq));
      h.quantity = q + dq;
    } else {
      const closed = Math.min(Math.abs(q), Math.abs(dq));
      h.realizedPnl += closed * (price - h.avgCost) * Math.sign(q);
      h.quantity = q + dq;
      if (Math.abs(h.quantity) < 1e-12) h.quantity = 0;
      if (h.quantity !== 0 && Math.sign(h.quantity) !== Math.sign(q)) h.avgCost = price;
      if (h.quantity === 0) h.avgCost = 0;
    }
    this.#holdings.set(symbol, h);
  }

  #positionList(): BrokerPosition[] {
    return [...this.#holdings].filter(([, h]) => h.quantity !== 0)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([symbol, h]) => {
        const m = this.#marks.get(symbol) ?? NaN;
        return {
          symbol,
          quantity: h.quantity,
          avgCost: h.avgCost,
          marketPrice: m,
          marketValue: h.quantity * m,
          unrealizedPnl: h.quantity * (m - h.avgCost),
          realizedPnl: h.realizedPnl,
        };
      });
  }

  #account(): AccountSnapshot {
    let value = 0, gross = 0, unrealized = 0, realized = 0;
    for (const [symbol, h] of this.#holdings) {
      realized += h.realizedPnl;
      if (h.quantity === 0) continue;
      const m = this.#marks.get(symbol) ?? NaN;
      value += h.quantity * m;
      gross += Math.abs(h.quantity * m);
      unrealized += h.quantity * (m - h.avgCost);
    }
    const net = this.#cash + value;
    const buyingPower = this.#o.accountType === "cash"
      ? Math.max(0, this.#cash)
      : Math.max(0, this.#o.leverage * net - gross);
    return {
      accountId: this.#o.accountId,
      currency: this.#o.currency,
      netLiquidation: net,
      cash: this.#cash,
      grossPositionValue: gross,
      buyingPower,
      realizedPnl: realized,
      unrealizedPnl: unrealized,
      dailyPnl: net - this.#dayStartEquity,
      time: this.#time,
    };
  }
}

function marketable(r: OrderRequest, p: number): boolean {
  return r.side === "BUY" ? p <= r.limitPrice! : p >= r.limitPrice!;
}

function copyOrder(o: OrderState): OrderState {
  return { ...o, request: { ...o.request } };
}

function fail(where: string, what: string, v: unknown): never {
  throw new TypeError(`Paper broker state: ${where} ${what}, got ${JSON.stringify(v)}`);
}

function obj(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(where, "must be an object", v);
  return v as Record<string, unknown>;
}

function num(v: unknown, where: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) fail(where, "must be a finite number", v);
  return v;
}

function numOrNull(v: unknown, where: string): number | null {
  return v === null ? null : num(v, where);
}

function str(v: unknown, where: string): string {
  if (typeof v !== "string") fail(where, "must be a string", v);
  return v;
}

function arr(v: unknown, where: string): unknown[] {
  if (!Array.isArray(v)) fail(where, "must be an array", v);
  return v;
}

function parseRequest(v: unknown, where: string): OrderRequest {
  const o = obj(v, where);
  const side = str(o.side, `${where}.side`);
  const type = str(o.type, `${where}.type`);
  if (!(ORDER_SIDES as readonly string[]).includes(side)) fail(`${where}.side`, "is unknown", side);
  if (!(ORDER_TYPES as readonly string[]).includes(type)) fail(`${where}.type`, "is unknown", type);
  const r: OrderRequest = {
    ref: str(o.ref, `${where}.ref`),
    symbol: str(o.symbol, `${where}.symbol`),
    side: side as OrderRequest["side"],
    quantity: num(o.quantity, `${where}.quantity`),
    type: type as OrderRequest["type"],
  };
  if (o.limitPrice !== undefined) r.limitPrice = num(o.limitPrice, `${where}.limitPrice`);
  return r;
}

const STATUSES = ["submitted", "partially-filled", "filled", "cancelled", "rejected"];

/**
 * Validates a parsed {@linkcode PaperBrokerState} (what {@linkcode PaperBroker.fromState} reads).
 * @param json The parsed JSON.
 * @returns The typed state.
 * @throws {TypeError} Naming the first field that is missing or of the wrong type.
 * @example
 * ```ts
 * parsePaperState(JSON.parse(text)).cash;
 * ```
 */
export function parsePaperState(json: unknown): PaperBrokerState {
  const s = obj(json, "state");
  if (s.version !== 1) fail("version", "must be 1", s.version);
  const o = obj(s.options, "options");
  const options: PaperBrokerOptions = {
    accountId: str(o.accountId, "options.accountId"),
    currency: str(o.currency, "options.currency"),
    initialCash: num(o.initialCash, "options.initialCash"),
    costs: resolveCostOptions(obj(o.costs, "options.costs") as CostOptions),
    executeAt: str(o.executeAt, "options.executeAt") as ExecuteAt,
    fractional: o.fractional === true,
    accountType: str(o.accountType, "options.accountType") as PaperAccountType,
    leverage: num(o.leverage, "options.leverage"),
    maxVolumeShare: num(o.maxVolumeShare, "options.maxVolumeShare"),
    symbols: arr(o.symbols, "options.symbols").map((x, i) => str(x, `options.symbols[${i}]`)),
  };
  const holdings: Record<string, Holding> = {};
  for (const [k, v] of Object.entries(obj(s.holdings, "holdings"))) {
    const h = obj(v, `holdings.${k}`);
    holdings[k] = {
      quantity: num(h.quantity, `holdings.${k}.quantity`),
      avgCost: num(h.avgCost, `holdings.${k}.avgCost`),
      realizedPnl: num(h.realizedPnl, `holdings.${k}.realizedPnl`),
    };
  }
  const marks: Record<string, number> = {};
  for (const [k, v] of Object.entries(obj(s.marks, "marks"))) marks[k] = num(v, `marks.${k}`);
  const history: PaperBrokerState["history"] = {};
  for (const [k, v] of Object.entries(obj(s.history, "history"))) {
    const h = obj(v, `history.${k}`);
    history[k] = {
      close: arr(h.close, `history.${k}.close`).map((x, i) => numOrNull(x, `history.${k}[${i}]`)),
      volume: arr(h.volume, `history.${k}.volume`).map((x, i) =>
        numOrNull(x, `history.${k}[${i}]`)
      ),
    };
  }
  const orders = arr(s.orders, "orders").map((v, i) => {
    const w = `orders[${i}]`;
    const x = obj(v, w);
    const status = str(x.status, `${w}.status`);
    if (!STATUSES.includes(status)) fail(`${w}.status`, "is unknown", status);
    const order = {
      ref: str(x.ref, `${w}.ref`),
      brokerOrderId: num(x.brokerOrderId, `${w}.brokerOrderId`),
      request: parseRequest(x.request, `${w}.request`),
      status: status as OrderState["status"],
      filled: num(x.filled, `${w}.filled`),
      remaining: num(x.remaining, `${w}.remaining`),
      avgFillPrice: numOrNull(x.avgFillPrice, `${w}.avgFillPrice`),
      updatedAt: num(x.updatedAt, `${w}.updatedAt`),
    } as PaperBrokerState["orders"][number];
    if (x.reason !== undefined) order.reason = str(x.reason, `${w}.reason`);
    return order;
  });
  const fills = arr(s.fills, "fills").map((v, i): Fill => {
    const w = `fills[${i}]`;
    const f = obj(v, w);
    const side = str(f.side, `${w}.side`);
    if (!(ORDER_SIDES as readonly string[]).includes(side)) fail(`${w}.side`, "is unknown", side);
    return {
      execId: str(f.execId, `${w}.execId`),
      ref: str(f.ref, `${w}.ref`),
      brokerOrderId: num(f.brokerOrderId, `${w}.brokerOrderId`),
      symbol: str(f.symbol, `${w}.symbol`),
      side: side as Fill["side"],
      quantity: num(f.quantity, `${w}.quantity`),
      price: num(f.price, `${w}.price`),
      commission: num(f.commission, `${w}.commission`),
      slippage: num(f.slippage, `${w}.slippage`),
      time: num(f.time, `${w}.time`),
    };
  });
  const charged: Record<string, number> = {};
  for (const [k, v] of Object.entries(obj(s.charged, "charged"))) {
    charged[k] = num(v, `charged.${k}`);
  }
  return {
    version: 1,
    options: resolveOptions(options),
    cash: num(s.cash, "cash"),
    time: num(s.time, "time"),
    nextOrderId: num(s.nextOrderId, "nextOrderId"),
    nextExecId: num(s.nextExecId, "nextExecId"),
    dayStartEquity: num(s.dayStartEquity, "dayStartEquity"),
    dayStartDate: str(s.dayStartDate, "dayStartDate"),
    commissionPaid: num(s.commissionPaid, "commissionPaid"),
    holdings,
    marks,
    history,
    orders,
    fills,
    charged,
  };
}
