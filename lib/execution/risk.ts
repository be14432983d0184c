/**
 * Risk overlays: the last gate between the policy's orders and the broker. A pure
 * function of the orders, the account's context and the limits ({@linkcode applyRiskOverlays});
 * no I/O, no clock, no database, so a replay, a paper cycle and a live cycle decide
 * identically and every decision can be logged and replayed.
 *
 * Every overlay is configured by one field of {@linkcode RiskLimits}; an absent field
 * is off. Each order gets one {@linkcode RiskDecision} with the rule that blocked or
 * adjusted it and a reason that names the numbers, e.g.
 * `maxOrderNotional: BUY 300 AAPL ≈ 51,000.00 > limit 25,000.00`.
 *
 * The rules, in the fixed order they are checked ({@linkcode RISK_RULES}); an order is
 * blocked by the first rule that refuses it:
 *
 * 1. The trading state, evaluated once per call before any order: `manualHalt` (the
 *    kill switch) → `halted`; `maxDrawdown` (equity vs peak) → `drawdownAction`
 *    (default `halted`); `dailyLossLimit` (equity vs the day's start) → `lossAction`
 *    (default `reducing`); a state carried in from an earlier cycle (`tradingState`).
 *    The strictest wins (active → reducing → halted); a call never relaxes the state it
 *    was given (the caller resets it, e.g. at a new trading day or by an operator).
 *    `halted`: nothing passes. `reducing`: only orders that shrink |position| pass; an
 *    order that would flip a position is **cut to closing it** (not blocked), so the
 *    book still gets flat. An order blocked or cut by the state carries the rule that
 *    caused the state (the first of manualHalt, maxDrawdown, dailyLossLimit, tradingState
 *    that gives the final state).
 * 2. `priceBand`: the order's reference price against the last close; a missing last
 *    close blocks (no anchor, no trade).
 * 3. `maxOrderNotional`: `quantity × reference price`; blocks by default, or with
 *    `notionalAction: "clip"` cuts the quantity down to the limit in whole shares
 *    (blocked when not even one share fits).
 * 4. `maxPositionWeight`: post-trade `|position| × price / equity`.
 * 5. `maxGrossExposure`: post-trade `Σ |position| × price / equity` over the book.
 *    Both 4 and 5 are evaluated in order sequence (the orders let through earlier in the
 *    same call are part of the book), and an order that does not grow |position| of its
 *    instrument always passes them.
 * 6. `maxOrdersPerSecond`: orders in the last second (`recentOrderTimes` in
 *    `(time − 1000, time]`) plus the ones let through earlier in this call.
 * 7. `maxOrdersPerDay`: `ordersToday` plus the ones let through earlier in this call.
 *    The rate limits come last so that an order blocked by another rule spends no budget;
 *    they apply to reducing orders too (they guard against a runaway loop).
 *
 * Fail closed: a price, last close or equity a rule needs but does not have blocks the
 * order under that rule, with the reason saying what was missing.
 *
 * Prices: an order's reference price is `price(order)` when given, else its limit
 * price, else the last close. Other positions are valued at the reference price of the
 * last order let through for them in this call, else at their last close. Equity is
 * the pre-trade equity (trades swap cash for shares; costs are not projected).
 *
 * @module
 */
import { ORDER_SIDES, type OrderRequest } from "./broker.ts";

/** The trading states, from loose to strict. */
export const TRADING_STATES = ["active", "reducing", "halted"] as const;
/**
 * One of {@linkcode TRADING_STATES}: `active` (every rule applies as configured),
 * `reducing` (only orders that shrink |position| go out), `halted` (nothing goes out).
 */
export type TradingState = typeof TRADING_STATES[number];

/** The states a loss limit or drawdown limit can switch trading to. */
export const RISK_STATE_ACTIONS = ["reducing", "halted"] as const;
/** One of {@linkcode RISK_STATE_ACTIONS}. */
export type RiskStateAction = typeof RISK_STATE_ACTIONS[number];

/** What {@linkcode RiskLimits.maxOrderNotional} does to an order above it. */
export const NOTIONAL_ACTIONS = ["block", "clip"] as const;
/** One of {@linkcode NOTIONAL_ACTIONS}. */
export type NotionalAction = typeof NOTIONAL_ACTIONS[number];

/**
 * The rule names, in the fixed order they are checked: the four state rules (one of
 * them is the cause of a non-active state), then the per-order rules. A blocked order
 * carries the first rule that refused it.
 */
export const RISK_RULES = [
  "manualHalt",
  "maxDrawdown",
  "dailyLossLimit",
  "tradingState",
  "priceBand",
  "maxOrderNotional",
  "maxPositionWeight",
  "maxGrossExposure",
  "maxOrdersPerSecond",
  "maxOrdersPerDay",
] as const;
/** One of {@linkcode RISK_RULES}. */
export type RiskRule = typeof RISK_RULES[number];

/** The per-order rules (each is also the name of its limit), in checking order. */
const ORDER_RULES = [
  "priceBand",
  "maxOrderNotional",
  "maxPositionWeight",
  "maxGrossExposure",
  "maxOrdersPerSecond",
  "maxOrdersPerDay",
] as const satisfies readonly (RiskRule & keyof RiskLimits)[];

/** The overlays' configuration; every absent limit is off. JSON-serialisable. */
export interface RiskLimits {
  /** Largest `quantity × reference price` of one order, in account currency (> 0). */
  maxOrderNotional?: number;
  /** Block an order above {@linkcode maxOrderNotional} or clip it to whole shares. Default `"block"`. */
  notionalAction?: NotionalAction;
  /** Largest post-trade `|position value| / equity` of one instrument (> 0; 0.2 = 20 %). */
  maxPositionWeight?: number;
  /** Largest post-trade `Σ |position value| / equity` (> 0; 1 = unlevered, 2 = Reg T). */
  maxGrossExposure?: number;
  /** Most orders sent per trading day (a positive integer). */
  maxOrdersPerDay?: number;
  /** Most orders sent within one second (a positive integer). */
  maxOrdersPerSecond?: number;
  /** Largest `|reference price − last close| / last close` (> 0; 0.1 = ±10 %). */
  priceBand?: number;
  /** Loss since the day's start, `(dayStart − equity) / dayStart`, in (0, 1], at which `lossAction` starts. */
  dailyLossLimit?: number;
  /** State `dailyLossLimit` switches to. Default `"reducing"`. */
  lossAction?: RiskStateAction;
  /** Drawdown from the peak, `(peak − equity) / peak`, in (0, 1], at which `drawdownAction` starts. */
  maxDrawdown?: number;
  /** State `maxDrawdown` switches to. Default `"halted"`. */
  drawdownAction?: RiskStateAction;
}

/**
 * Limits a user of a trading tool can leave on without thinking about their strategy;
 * the rest are off because any default would be arbitrary:
 *
 * - `priceBand: 0.1` (±10 % of the last close): a fat-finger and bad-tick guard at the
 *   scale of the US exchanges' clearly-erroneous-execution threshold (10 % for stocks
 *   between $25 and $50); a genuine overnight gap only matters for a limit order priced
 *   off a stale quote, which is what the band is for.
 * - `maxGrossExposure: 2`: Regulation T's 50 % initial margin, the most a US margin
 *   account may hold in positions; long-only models stay below 1 and the long/short
 *   allocation caps gross at 1.5 by default, so it never blocks a model's own target.
 * - `notionalAction: "block"`, `lossAction: "reducing"`, `drawdownAction: "halted"`:
 *   how the limits act once a user sets them (a loss day stops new risk, a drawdown
 *   stops trading).
 *
 * Off: `maxOrderNotional` (scales with the account), `maxPositionWeight` (a strategy's
 * own cap), `maxOrdersPerDay` and `maxOrdersPerSecond` (scale with the universe and bar
 * frequency: a daily cycle of 50 symbols sends up to 50 orders at once, and the IBKR
 * broker paces its own messages), `dailyLossLimit` and `maxDrawdown` (a risk appetite;
 * the env's `drawdownStop` is off by default too).
 *
 * @example
 * ```ts
 * const limits = parseRiskLimits({ maxDrawdown: 0.2 }, "risk", DEFAULT_RISK_LIMITS);
 * limits.priceBand; // 0.1
 * ```
 */
export const DEFAULT_RISK_LIMITS: Readonly<RiskLimits> = Object.freeze({
  priceBand: 0.1,
  maxGrossExposure: 2,
  notionalAction: "block",
  lossAction: "reducing",
  drawdownAction: "halted",
});

/** What the overlays know about the account at the moment of the decision. */
export interface RiskContext {
  /** Decision time, epoch ms (orders let through count as sent at this time). */
  time: number;
  /** Current equity (net liquidation). */
  equity: number;
  /** Highest equity so far (> 0; for `maxDrawdown`). */
  peakEquity: number;
  /** Equity at the start of the trading day (> 0; for `dailyLossLimit`). */
  dayStartEquity: number;
  /** Signed shares per symbol (absent = flat). */
  positions: Record<string, number>;
  /** Last close per symbol (for `priceBand` and to value positions). */
  lastClose: Record<string, number>;
  /** Orders already sent today, before this call. */
  ordersToday: number;
  /** Send times (epoch ms) of recent orders, before this call; older than a second is ignored. */
  recentOrderTimes: readonly number[];
  /** The state the previous cycle ended in. */
  state: TradingState;
  /** The manual kill switch (`deno task trade --halt`). */
  manualHalt: boolean;
}

/** The overlays' verdict on one order. */
export interface RiskDecision {
  /** The order as it came in. */
  order: OrderRequest;
  /** Whether it may be sent (with {@linkcode adjustedQuantity} when set). */
  allowed: boolean;
  /** The rule that blocked it, or that adjusted an allowed one; absent for a plain pass. */
  rule?: RiskRule;
  /** Human reason naming the numbers, prefixed with the rule (`"maxOrdersPerDay: …"`), or `"passed: …"`. */
  reason: string;
  /** The quantity to send instead of `order.quantity` (a cut or clip); only on allowed orders. */
  adjustedQuantity?: number;
}

/** What {@linkcode applyRiskOverlays} returns. */
export interface RiskResult {
  /** The trading state after this call (never looser than `ctx.state`). */
  state: TradingState;
  /** Which rule made the state non-active (absent when active). */
  stateRule?: RiskRule;
  /** Every cause of a non-active state, joined with `"; "` (absent when active). */
  stateReason?: string;
  /** One decision per order, in the input order. */
  decisions: RiskDecision[];
  /** The orders to send, in the input order, with adjusted quantities applied. */
  orders: OrderRequest[];
}

/**
 * The reference price of an order for the overlays (a quote, the next bar's expected
 * price). Return NaN when unknown.
 */
export type RiskPrice = (order: OrderRequest) => number;

const LEVEL: Record<TradingState, number> = { active: 0, reducing: 1, halted: 2 };

const money = new Intl.NumberFormat("en-US", {
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
  useGrouping: true,
});
const amount = (x: number) => Number.isFinite(x) ? money.format(x) : String(x);
const pct = (x: number) => `${amount(x * 100)}%`;
const shares = (q: number) => String(q);
const positionText = (p: number) =>
  p === 0 ? "flat" : p > 0 ? `long ${shares(p)}` : `short ${shares(-p)}`;
const validPrice = (p: number) => Number.isFinite(p) && p > 0;

interface StateCause {
  rule: RiskRule;
  state: TradingState;
  why: string;
}

function stateCauses(ctx: RiskContext, lim: RiskLimits): StateCause[] {
  const causes: StateCause[] = [];
  if (ctx.manualHalt) {
    causes.push({ rule: "manualHalt", state: "halted", why: "the manual kill switch is on" });
  }
  if (lim.maxDrawdown !== undefined) {
    const dd = (ctx.peakEquity - ctx.equity) / ctx.peakEquity;
    if (dd >= lim.maxDrawdown) {
      const to = lim.drawdownAction ?? "halted";
      causes.push({
        rule: "maxDrawdown",
        state: to,
        why: `equity ${amount(ctx.equity)} is ${pct(dd)} below peak ${
          amount(ctx.peakEquity)
        } ≥ limit ${pct(lim.maxDrawdown)} → ${to}`,
      });
    }
  }
  if (lim.dailyLossLimit !== undefined) {
    const loss = (ctx.dayStartEquity - ctx.equity) / ctx.dayStartEquity;
    if (loss >= lim.dailyLossLimit) {
      const to = lim.lossAction ?? "reducing";
      causes.push({
        rule: "dailyLossLimit",
        state: to,
        why: `equity ${amount(ctx.equity)} is ${pct(loss)} below day start ${
          amount(ctx.dayStartEquity)
        } ≥ limit ${pct(lim.dailyLossLimit)} → ${to}`,
      });
    }
  }
  if (ctx.state !== "active") {
    causes.push({
      rule: "tradingState",
      state: ctx.state,
      why: `${ctx.state} carried in from an earlier cycle`,
    });
  }
  return causes;
}

function checkContext(ctx: RiskContext, lim: RiskLimits): void {
  const bad = (field: string, what: string, v: unknown) => {
    throw new RangeError(`applyRiskOverlays: ctx.${field} must be ${what}, got ${show(v)}`);
  };
  if (!Number.isFinite(ctx.time)) bad("time", "a finite epoch-ms time", ctx.time);
  if (!(TRADING_STATES as readonly string[]).includes(ctx.state)) {
    bad("state", `one of ${TRADING_STATES.join(", ")}`, ctx.state);
  }
  if (typeof ctx.manualHalt !== "boolean") bad("manualHalt", "a boolean", ctx.manualHalt);
  const usesEquity = lim.maxPositionWeight !== undefined || lim.maxGrossExposure !== undefined ||
    lim.maxDrawdown !== undefined || lim.dailyLossLimit !== undefined;
  if (usesEquity && !Number.isFinite(ctx.equity)) bad("equity", "a finite number", ctx.equity);
  if (lim.maxDrawdown !== undefined && !validPrice(ctx.peakEquity)) {
    bad("peakEquity", "a positive number (maxDrawdown is on)", ctx.peakEquity);
  }
  if (lim.dailyLossLimit !== undefined && !validPrice(ctx.dayStartEquity)) {
    bad("dayStartEquity", "a positive number (dailyLossLimit is on)", ctx.dayStartEquity);
  }
  for (const [s, p] of Object.entries(ctx.positions)) {
    if (!Number.isFinite(p)) bad(`positions.${s}`, "a finite number of shares", p);
  }
  if (
    lim.maxOrdersPerDay !== undefined &&
    !(Number.isInteger(ctx.ordersToday) && ctx.ordersToday >= 0)
  ) bad("ordersToday", "a non-negative integer (maxOrdersPerDay is on)", ctx.ordersToday);
  if (lim.maxOrdersPerSecond !== undefined) {
    ctx.recentOrderTimes.forEach((t, i) => {
      if (!Number.isFinite(t)) bad(`recentOrderTimes[${i}]`, "a finite epoch-ms time", t);
    });
  }
}

function checkOrder(o: OrderRequest, i: number): void {
  const where = `applyRiskOverlays: orders[${i}] (${show(o.ref)})`;
  if (typeof o.symbol !== "string" || o.symbol === "") {
    throw new TypeError(`${where}.symbol must be a non-empty string, got ${show(o.symbol)}`);
  }
  if (!(ORDER_SIDES as readonly string[]).includes(o.side)) {
    throw new TypeError(
      `${where}.side must be one of ${ORDER_SIDES.join(", ")}, got ${show(o.side)}`,
    );
  }
  if (!(Number.isFinite(o.quantity) && o.quantity > 0)) {
    throw new RangeError(`${where}.quantity must be a positive number, got ${show(o.quantity)}`);
  }
}

/**
 * Runs the risk overlays over the orders of one decision, in sequence: decides the
 * trading state once, then checks each order against the rules in
 * {@linkcode RISK_RULES} order, counting the orders let through earlier in the same
 * call towards the exposure and rate limits. Pure: the same arguments always give the
 * same result.
 * @param orders The orders the cycle wants to send, in sending order.
 * @param ctx The account at decision time.
 * @param limits The overlays to apply (absent fields are off); validated as by
 *   {@linkcode parseRiskLimits}.
 * @param price The reference price of an order. Default: its limit price, else the last
 *   close of its symbol.
 * @returns The new trading state (with its cause), one decision per order and the
 *   orders to send (adjusted quantities applied).
 * @throws {TypeError | RangeError} For invalid limits, a malformed order (non-positive
 *   quantity, unknown side) or a context field a configured rule needs that is not a
 *   number, naming the field.
 * @example
 * ```ts
 * const ctx: RiskContext = {
 *   time: Date.UTC(2018, 0, 2, 14, 30), equity: 100_000, peakEquity: 100_000,
 *   dayStartEquity: 100_000, positions: {}, lastClose: { AAPL: 170 },
 *   ordersToday: 0, recentOrderTimes: [], state: "active", manualHalt: false,
 * };
 * const order = { ref: "tt:1:201801020000:AAPL", symbol: "AAPL", side: "BUY", quantity: 300, type: "MOO" } as const;
 * const r = applyRiskOverlays([order], ctx, { maxOrderNotional: 25_000 });
 * r.decisions[0].reason; // "maxOrderNotional: BUY 300 AAPL ≈ 51,000.00 > limit 25,000.00"
 * r.orders.length; // 0
 * ```
 */
export function applyRiskOverlays(
  orders: readonly OrderRequest[],
  ctx: RiskContext,
  limits: RiskLimits,
  price?: RiskPrice,
): RiskResult {
  const lim = parseRiskLimits(limits, "applyRiskOverlays: limits");
  checkContext(ctx, lim);
  orders.forEach(checkOrder);
  const refPrice: RiskPrice = price ??
    ((o) => o.limitPrice ?? ctx.lastClose[o.symbol] ?? Number.NaN);

  const causes = stateCauses(ctx, lim);
  let state: TradingState = "active";
  for (const c of causes) if (LEVEL[c.state] > LEVEL[state]) state = c.state;
  const cause = causes.find((c) => c.state === state);
  const stateRule = cause?.rule;
  const stateWhy = cause === undefined ? "" : `trading is ${state} (${cause.why})`;

  const book = new Map<string, number>(Object.entries(ctx.positions));
  const mark = new Map<string, number>();
  for (const [s, p] of Object.entries(ctx.lastClose)) if (validPrice(p)) mark.set(s, p);
  const lastSecond =
    ctx.recentOrderTimes.filter((t) => t <= ctx.time && t > ctx.time - 1000).length;
  const orderRules = ORDER_RULES.filter((r) => lim[r] !== undefined);
  const passed = orderRules.length === 0
    ? "passed: no order limits set"
    : `passed: ${orderRules.join(", ")}`;
  let sent = 0;

  const decisions: RiskDecision[] = [];
  const out: OrderRequest[] = [];
  for (const order of orders) {
    const d = decide(order);
    decisions.push(d);
    if (d.allowed) {
      const quantity = d.adjustedQuantity ?? order.quantity;
      out.push(quantity === order.quantity ? order : { ...order, quantity });
    }
  }
  return state === "active" ? { state, decisions, orders: out } : {
    state,
    stateRule,
    stateReason: causes.map((c) => `${c.rule}: ${c.why}`).join("; "),
    decisions,
    orders: out,
  };

  function decide(order: OrderRequest): RiskDecision {
    const { symbol, side } = order;
    const sign = side === "BUY" ? 1 : -1;
    const before = book.get(symbol) ?? 0;
    let q = order.quantity;
    let adjustedBy: RiskRule | undefined;
    const notes: string[] = [];
    const label = () => `${side} ${shares(q)} ${symbol}`;
    const block = (rule: RiskRule, why: string): RiskDecision => ({
      order,
      allowed: false,
      rule,
      reason: `${rule}: ${why}`,
    });
    const adjust = (rule: RiskRule, why: string, to: number) => {
      adjustedBy ??= rule;
      notes.push(`${rule}: ${why}`);
      q = to;
    };

    // 1. The trading state.
    if (stateRule !== undefined && state === "halted") {
      return block(stateRule, `${stateWhy}; ${label()} not sent`);
    }
    if (stateRule !== undefined && state === "reducing") {
      if (before === 0 || Math.sign(before) === sign) {
        return block(
          stateRule,
          `${stateWhy}; ${label()} would grow |${symbol}| from ${shares(Math.abs(before))} to ${
            shares(Math.abs(before) + q)
          } shares`,
        );
      }
      if (q > Math.abs(before)) {
        const flipped = before + sign * q;
        adjust(
          stateRule,
          `${stateWhy}; ${label()} would flip ${positionText(before)} to ${
            positionText(flipped)
          }: cut to ${shares(Math.abs(before))}, closing the position`,
          Math.abs(before),
        );
      }
    }

    const ref = refPrice(order);
    const priced = validPrice(ref);
    const noPrice = `no reference price for ${symbol} (got ${show(ref)})`;

    // 2. Price band against the last close.
    if (lim.priceBand !== undefined) {
      const close = ctx.lastClose[symbol];
      if (close === undefined || !validPrice(close)) {
        return block("priceBand", `no last close for ${symbol}; ${label()} not sent`);
      }
      if (!priced) return block("priceBand", noPrice);
      const off = Math.abs(ref - close) / close;
      if (off > lim.priceBand) {
        return block(
          "priceBand",
          `${label()} at ${amount(ref)} is ${pct(off)} from last close ${amount(close)} > band ${
            pct(lim.priceBand)
          }`,
        );
      }
    }

    // 3. Order notional.
    if (lim.maxOrderNotional !== undefined) {
      const limit = lim.maxOrderNotional;
      if (!priced) return block("maxOrderNotional", noPrice);
      const notional = q * ref;
      if (notional > limit) {
        const over = `${label()} ≈ ${amount(notional)} > limit ${amount(limit)}`;
        if (lim.notionalAction !== "clip") return block("maxOrderNotional", over);
        let fit = Math.floor(limit / ref);
        while (fit > 0 && fit * ref > limit) fit--;
        if (fit === 0) {
          return block(
            "maxOrderNotional",
            `${over}; one share ≈ ${amount(ref)} does not fit, nothing to clip to`,
          );
        }
        adjust(
          "maxOrderNotional",
          `${over}: clipped to ${shares(fit)} shares ≈ ${amount(fit * ref)}`,
          fit,
        );
      }
    }

    const after = before + sign * q;
    const grows = Math.abs(after) > Math.abs(before);
    const needsEquity = (rule: RiskRule): RiskDecision | undefined => {
      if (!priced) return block(rule, noPrice);
      if (!(ctx.equity > 0)) {
        return block(rule, `equity ${amount(ctx.equity)} ≤ 0; ${label()} would grow exposure`);
      }
      return undefined;
    };

    // 4. Position weight (orders that do not grow |position| pass).
    if (lim.maxPositionWeight !== undefined && grows) {
      const missing = needsEquity("maxPositionWeight");
      if (missing) return missing;
      const value = Math.abs(after) * ref;
      const weight = value / ctx.equity;
      if (weight > lim.maxPositionWeight) {
        return block(
          "maxPositionWeight",
          `${label()} takes ${symbol} to ${positionText(after)} ≈ ${amount(value)} = ${
            pct(weight)
          } of equity ${amount(ctx.equity)} > limit ${pct(lim.maxPositionWeight)}`,
        );
      }
    }

    // 5. Gross exposure over the book, with the orders let through so far.
    if (lim.maxGrossExposure !== undefined && grows) {
      const missing = needsEquity("maxGrossExposure");
      if (missing) return missing;
      let gross = Math.abs(after) * ref;
      for (const [s, p] of book) {
        if (s === symbol || p === 0) continue;
        const m = mark.get(s);
        if (m === undefined) {
          return block(
            "maxGrossExposure",
            `no price to value the ${s} position (${positionText(p)}); ${label()} not sent`,
          );
        }
        gross += Math.abs(p) * m;
      }
      const ratio = gross / ctx.equity;
      if (ratio > lim.maxGrossExposure) {
        return block(
          "maxGrossExposure",
          `${label()} takes gross exposure to ${amount(gross)} = ${pct(ratio)} of equity ${
            amount(ctx.equity)
          } > limit ${pct(lim.maxGrossExposure)}`,
        );
      }
    }

    // 6. and 7. Rates, counting the orders let through earlier in this call.
    if (lim.maxOrdersPerSecond !== undefined) {
      const n = lastSecond + sent;
      if (n + 1 > lim.maxOrdersPerSecond) {
        return block(
          "maxOrdersPerSecond",
          `${n} orders in the last second + this one = ${n + 1} > limit ${lim.maxOrdersPerSecond}`,
        );
      }
    }
    if (lim.maxOrdersPerDay !== undefined) {
      const n = ctx.ordersToday + sent;
      if (n + 1 > lim.maxOrdersPerDay) {
        return block(
          "maxOrdersPerDay",
          `${n} sent today + this one = ${n + 1} > limit ${lim.maxOrdersPerDay}`,
        );
      }
    }

    sent++;
    book.set(symbol, after);
    if (priced) mark.set(symbol, ref);
    if (adjustedBy === undefined) return { order, allowed: true, reason: passed };
    return {
      order,
      allowed: true,
      rule: adjustedBy,
      reason: notes.join("; "),
      adjustedQuantity: q,
    };
  }
}

/** How one field of {@linkcode RiskLimits} is read from JSON. */
interface Field<T> {
  kind: "number" | "string";
  what: string;
  read(v: unknown): T | undefined;
}

const positiveAmount: Field<number> = {
  kind: "number",
  what: "a positive finite number",
  read: (v) => typeof v === "number" && Number.isFinite(v) && v > 0 ? v : undefined,
};
const fraction: Field<number> = {
  kind: "number",
  what: "a fraction in (0, 1]",
  read: (v) => typeof v === "number" && v > 0 && v <= 1 ? v : undefined,
};
const count: Field<number> = {
  kind: "number",
  what: "a positive integer",
  read: (v) => typeof v === "number" && Number.isSafeInteger(v) && v > 0 ? v : undefined,
};
const stateAction: Field<RiskStateAction> = {
  kind: "string",
  what: `one of ${RISK_STATE_ACTIONS.map((s) => `"${s}"`).join(", ")}`,
  read: (v) => v === "reducing" || v === "halted" ? v : undefined,
};

type AllLimits = Required<RiskLimits>;
const FIELDS: { [K in keyof AllLimits]: Field<AllLimits[K]> } = {
  maxOrderNotional: positiveAmount,
  notionalAction: {
    kind: "string",
    what: `one of ${NOTIONAL_ACTIONS.map((s) => `"${s}"`).join(", ")}`,
    read: (v) => v === "block" || v === "clip" ? v : undefined,
  },
  maxPositionWeight: positiveAmount,
  maxGrossExposure: positiveAmount,
  maxOrdersPerDay: count,
  maxOrdersPerSecond: count,
  priceBand: positiveAmount,
  dailyLossLimit: fraction,
  lossAction: stateAction,
  maxDrawdown: fraction,
  drawdownAction: stateAction,
};
const LIMIT_KEYS = Object.keys(FIELDS).filter((k): k is keyof RiskLimits => k in FIELDS);

const show = (v: unknown) => JSON.stringify(v) ?? String(v);

/**
 * Parses and validates risk limits from JSON (a `--risk` file, a run's saved config) or
 * from a partial object. A field that is absent or `undefined` keeps `base`'s value; a
 * field that is `null` turns that limit off; unknown fields and bad values are refused.
 * @param json The parsed JSON value (an object).
 * @param where What the value is, for error messages. Default `"risk"`.
 * @param base Where absent fields come from. Default `{}` (absent = off); pass
 *   {@linkcode DEFAULT_RISK_LIMITS} to start from the defaults.
 * @returns Valid limits (a fresh object; off limits are absent keys).
 * @throws {TypeError} For a non-object, an unknown field or a value of the wrong type,
 *   e.g. `risk.maxOrdersPerDai is not a risk limit (known: …)`.
 * @throws {RangeError} For a value out of range, e.g.
 *   `risk.dailyLossLimit must be a fraction in (0, 1], got 3`.
 * @example
 * ```ts
 * const limits = parseRiskLimits(JSON.parse('{"maxOrderNotional":25000,"maxGrossExposure":null}'),
 *   "risk.json", DEFAULT_RISK_LIMITS);
 * limits.maxOrderNotional; // 25000
 * limits.maxGrossExposure; // undefined (turned off)
 * ```
 */
export function parseRiskLimits(
  json: unknown,
  where = "risk",
  base: Readonly<RiskLimits> = {},
): RiskLimits {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new TypeError(`${where} must be an object of risk limits, got ${show(json)}`);
  }
  const given = new Map(Object.entries(json));
  for (const key of given.keys()) {
    if (!(LIMIT_KEYS as string[]).includes(key)) {
      throw new TypeError(
        `${where}.${key} is not a risk limit (known: ${LIMIT_KEYS.join(", ")})`,
      );
    }
  }
  const out: RiskLimits = {};
  const take = <K extends keyof AllLimits>(k: K): void => {
    const field = FIELDS[k];
    const g = given.get(k);
    const v = g === undefined ? base[k] : g;
    if (v === undefined || v === null) return;
    const value = field.read(v);
    if (value === undefined) {
      const actual: string = typeof v;
      const Err = actual === field.kind ? RangeError : TypeError;
      throw new Err(`${where}.${k} must be ${field.what}, got ${show(v)}`);
    }
    out[k] = value;
  };
  for (const k of LIMIT_KEYS) take(k);
  return out;
}

/**
 * A one-line summary of the limits for logs and run summaries, in {@linkcode RISK_RULES}
 * order; the state actions appear beside their limits, the notional action only when it
 * clips.
 * @param limits The limits.
 * @returns E.g. `risk: maxDrawdown 20.00% → halted, priceBand ±10.00%, maxGrossExposure 2.00×`,
 *   or `risk: no limits`.
 * @example
 * ```ts
 * describeRiskLimits(DEFAULT_RISK_LIMITS); // "risk: priceBand ±10.00%, maxGrossExposure 2.00×"
 * describeRiskLimits({}); // "risk: no limits"
 * ```
 */
export function describeRiskLimits(limits: Readonly<RiskLimits>): string {
  const parts: string[] = [];
  const l = limits;
  if (l.maxDrawdown !== undefined) {
    parts.push(`maxDrawdown ${pct(l.maxDrawdown)} → ${l.drawdownAction ?? "halted"}`);
  }
  if (l.dailyLossLimit !== undefined) {
    parts.push(`dailyLossLimit ${pct(l.dailyLossLimit)} → ${l.lossAction ?? "reducing"}`);
  }
  if (l.priceBand !== undefined) parts.push(`priceBand ±${pct(l.priceBand)}`);
  if (l.maxOrderNotional !== undefined) {
    parts.push(
      `maxOrderNotional ${amount(l.maxOrderNotional)}${
        l.notionalAction === "clip" ? " (clip)" : ""
      }`,
    );
  }
  if (l.maxPositionWeight !== undefined) {
    parts.push(`maxPositionWeight ${pct(l.maxPositionWeight)}`);
  }
  if (l.maxGrossExposure !== undefined) {
    parts.push(`maxGrossExposure ${amount(l.maxGrossExposure)}×`);
  }
  if (l.maxOrdersPerSecond !== undefined) parts.push(`maxOrdersPerSecond ${l.maxOrdersPerSecond}`);
  if (l.maxOrdersPerDay !== undefined) parts.push(`maxOrdersPerDay ${l.maxOrdersPerDay}`);
  return parts.length === 0 ? "risk: no limits" : `risk: ${parts.join(", ")}`;
}

/**
 * Counts the blocked orders per rule, every rule present (0 when it blocked nothing),
 * for a run summary's "blocked by each overlay".
 * @param decisions Decisions of one or more {@linkcode applyRiskOverlays} calls.
 * @returns Rule → number of orders it blocked, in {@linkcode RISK_RULES} order.
 * @example
 * ```ts
 * // ctx as in applyRiskOverlays' example; three orders, one allowed per day
 * const { decisions } = applyRiskOverlays(threeOrders, ctx, { maxOrdersPerDay: 1 });
 * countBlocked(decisions).maxOrdersPerDay; // 2
 * countBlocked(decisions).priceBand; // 0
 * ```
 */
export function countBlocked(decisions: readonly RiskDecision[]): Record<RiskRule, number> {
  const counts: Record<RiskRule, number> = {
    manualHalt: 0,
    maxDrawdown: 0,
    dailyLossLimit: 0,
    tradingState: 0,
    priceBand: 0,
    maxOrderNotional: 0,
    maxPositionWeight: 0,
    maxGrossExposure: 0,
    maxOrdersPerSecond: 0,
    maxOrdersPerDay: 0,
  };
  for (const d of decisions) if (!d.allowed && d.rule !== undefined) counts[d.rule]++;
  return counts;
}
