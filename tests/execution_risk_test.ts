import assert from "node:assert/strict";
import {
  applyRiskOverlays,
  countBlocked,
  DEFAULT_RISK_LIMITS,
  describeRiskLimits,
  type OrderRequest,
  parseRiskLimits,
  RISK_RULES,
  type RiskContext,
  type RiskLimits,
} from "@lib/execution/mod.ts";

const T = Date.UTC(2018, 0, 2, 14, 30);

function ctx(over: Partial<RiskContext> = {}): RiskContext {
  return {
    time: T,
    equity: 100_000,
    peakEquity: 100_000,
    dayStartEquity: 100_000,
    positions: {},
    lastClose: { AAPL: 100, MSFT: 50, SPY: 200 },
    ordersToday: 0,
    recentOrderTimes: [],
    state: "active",
    manualHalt: false,
    ...over,
  };
}

let n = 0;
function order(
  symbol: string,
  side: "BUY" | "SELL",
  quantity: number,
  limitPrice?: number,
): OrderRequest {
  n++;
  return limitPrice === undefined
    ? { ref: `tt:1:${n}:${symbol}`, symbol, side, quantity, type: "MOO" }
    : { ref: `tt:1:${n}:${symbol}`, symbol, side, quantity, type: "LMT", limitPrice };
}

const run = (
  orders: OrderRequest[],
  limits: RiskLimits,
  over: Partial<RiskContext> = {},
  price?: (o: OrderRequest) => number,
) => applyRiskOverlays(orders, ctx(over), limits, price);

// ---- maxOrderNotional ----

Deno.test("applyRiskOverlays() maxOrderNotional blocks an order above the limit and names the numbers", () => {
  const r = run([order("AAPL", "BUY", 300)], { maxOrderNotional: 25_000 }, {
    lastClose: { AAPL: 170 },
  });
  assert.equal(r.decisions[0].allowed, false);
  assert.equal(r.decisions[0].rule, "maxOrderNotional");
  assert.equal(
    r.decisions[0].reason,
    "maxOrderNotional: BUY 300 AAPL ≈ 51,000.00 > limit 25,000.00",
  );
  assert.deepEqual(r.orders, []);
  assert.equal(r.state, "active");
});

Deno.test("applyRiskOverlays() maxOrderNotional passes an order exactly at the limit", () => {
  const o = order("AAPL", "BUY", 250);
  const r = run([o], { maxOrderNotional: 25_000 });
  assert.equal(r.decisions[0].allowed, true);
  assert.equal(r.decisions[0].rule, undefined);
  assert.equal(r.decisions[0].reason, "passed: maxOrderNotional");
  assert.deepEqual(r.orders, [o]);
  assert.equal(run([order("AAPL", "BUY", 251)], { maxOrderNotional: 25_000 }).orders.length, 0);
});

Deno.test("applyRiskOverlays() maxOrderNotional with clip cuts to whole shares under the limit, or blocks if none fit", () => {
  const o = order("AAPL", "BUY", 300);
  const r = run([o], { maxOrderNotional: 25_000, notionalAction: "clip" }, {
    lastClose: { AAPL: 170 },
  });
  const d = r.decisions[0];
  assert.equal(d.allowed, true);
  assert.equal(d.rule, "maxOrderNotional");
  assert.equal(d.adjustedQuantity, 147); // 147 × 170 = 24,990 ≤ 25,000 < 148 × 170
  assert.equal(
    d.reason,
    "maxOrderNotional: BUY 300 AAPL ≈ 51,000.00 > limit 25,000.00: clipped to 147 shares ≈ 24,990.00",
  );
  assert.deepEqual(r.orders, [{ ...o, quantity: 147 }]);
  assert.equal(o.quantity, 300, "the input order is not mutated");

  const none = run([order("AAPL", "BUY", 3)], { maxOrderNotional: 150, notionalAction: "clip" }, {
    lastClose: { AAPL: 170 },
  });
  assert.equal(none.decisions[0].allowed, false);
  assert.match(none.decisions[0].reason, /one share ≈ 170\.00 does not fit/);
});

Deno.test("applyRiskOverlays() maxOrderNotional fails closed without a reference price", () => {
  const r = run([order("ZZZ", "BUY", 1)], { maxOrderNotional: 1e9 });
  assert.equal(r.decisions[0].rule, "maxOrderNotional");
  assert.match(r.decisions[0].reason, /no reference price for ZZZ/);
});

// ---- maxPositionWeight ----

Deno.test("applyRiskOverlays() maxPositionWeight blocks a post-trade weight above the limit, passes one at it", () => {
  const limits = { maxPositionWeight: 0.2 };
  const over = run([order("AAPL", "BUY", 101)], limits, { positions: { AAPL: 100 } });
  assert.equal(over.decisions[0].rule, "maxPositionWeight");
  assert.equal(
    over.decisions[0].reason,
    "maxPositionWeight: BUY 101 AAPL takes AAPL to long 201 ≈ 20,100.00 = 20.10% of equity 100,000.00 > limit 20.00%",
  );
  const at = run([order("AAPL", "BUY", 100)], limits, { positions: { AAPL: 100 } });
  assert.equal(at.decisions[0].allowed, true); // 200 × 100 / 100,000 = 20 %
  // A short counts by its absolute value.
  assert.equal(run([order("AAPL", "SELL", 201)], limits).decisions[0].rule, "maxPositionWeight");
});

Deno.test("applyRiskOverlays() maxPositionWeight always passes an order that shrinks |position|", () => {
  // Long 500 ≈ 50 % of equity; selling 100 leaves 40 %, still above the 20 % limit.
  const r = run([order("AAPL", "SELL", 100)], { maxPositionWeight: 0.2 }, {
    positions: { AAPL: 500 },
  });
  assert.equal(r.decisions[0].allowed, true);
  // A flip that grows |position| (long 100 → short 300) is checked.
  const flip = run([order("AAPL", "SELL", 400)], { maxPositionWeight: 0.2 }, {
    positions: { AAPL: 100 },
  });
  assert.equal(flip.decisions[0].rule, "maxPositionWeight");
});

Deno.test("applyRiskOverlays() maxPositionWeight counts earlier orders of the same call on the same symbol", () => {
  const r = run([order("AAPL", "BUY", 150), order("AAPL", "BUY", 60), order("AAPL", "BUY", 50)], {
    maxPositionWeight: 0.2,
  });
  assert.deepEqual(r.decisions.map((d) => d.allowed), [true, false, true]); // 15 %, 21 %, 20 %
});

// ---- maxGrossExposure ----

Deno.test("applyRiskOverlays() maxGrossExposure blocks gross above the limit, passes gross at it", () => {
  const positions = { MSFT: 1_000, SPY: -100 }; // 50,000 + 20,000 = 70 %
  const over = run([order("AAPL", "BUY", 301)], { maxGrossExposure: 1 }, { positions });
  assert.equal(over.decisions[0].rule, "maxGrossExposure");
  assert.equal(
    over.decisions[0].reason,
    "maxGrossExposure: BUY 301 AAPL takes gross exposure to 100,100.00 = 100.10% of equity 100,000.00 > limit 100.00%",
  );
  const at = run([order("AAPL", "BUY", 300)], { maxGrossExposure: 1 }, { positions });
  assert.equal(at.decisions[0].allowed, true);
});

Deno.test("applyRiskOverlays() maxGrossExposure always passes an order that shrinks exposure, even above the limit", () => {
  const r = run([order("MSFT", "SELL", 500)], { maxGrossExposure: 1 }, {
    positions: { MSFT: 3_000 }, // 150 %
  });
  assert.equal(r.decisions[0].allowed, true);
});

Deno.test("applyRiskOverlays() maxGrossExposure sequences orders: the ones let through together stay under the limit", () => {
  const limits = { maxGrossExposure: 1 };
  // Three buys of 40 % each: the third would take gross to 120 %.
  const r = run(
    [order("AAPL", "BUY", 400), order("MSFT", "BUY", 800), order("SPY", "BUY", 200)],
    limits,
  );
  assert.deepEqual(r.decisions.map((d) => d.allowed), [true, true, false]);
  assert.match(r.decisions[2].reason, /gross exposure to 120,000\.00 = 120\.00%/);
  // A sale earlier in the call makes room for a later buy.
  const swap = run([order("MSFT", "SELL", 1_000), order("AAPL", "BUY", 500)], limits, {
    positions: { MSFT: 2_000 }, // 100 %
  });
  assert.deepEqual(swap.decisions.map((d) => d.allowed), [true, true]);
  const noSwap = run([order("AAPL", "BUY", 500), order("MSFT", "SELL", 1_000)], limits, {
    positions: { MSFT: 2_000 },
  });
  assert.deepEqual(noSwap.decisions.map((d) => d.allowed), [false, true]);
});

Deno.test("applyRiskOverlays() maxGrossExposure fails closed when a held position has no price", () => {
  const r = run([order("AAPL", "BUY", 1)], { maxGrossExposure: 2 }, { positions: { ZZZ: 10 } });
  assert.equal(r.decisions[0].rule, "maxGrossExposure");
  assert.match(r.decisions[0].reason, /no price to value the ZZZ position \(long 10\)/);
});

// ---- maxOrdersPerDay / maxOrdersPerSecond ----

Deno.test("applyRiskOverlays() maxOrdersPerDay lets orders through up to the limit, counting this call's orders", () => {
  const r = run([order("AAPL", "BUY", 1), order("MSFT", "BUY", 1), order("SPY", "BUY", 1)], {
    maxOrdersPerDay: 10,
  }, { ordersToday: 8 });
  assert.deepEqual(r.decisions.map((d) => d.allowed), [true, true, false]);
  assert.equal(r.decisions[2].rule, "maxOrdersPerDay");
  assert.equal(r.decisions[2].reason, "maxOrdersPerDay: 10 sent today + this one = 11 > limit 10");
});

Deno.test("applyRiskOverlays() rate limits do not count an order another rule blocked", () => {
  const r = run(
    [order("AAPL", "BUY", 1, 150), order("MSFT", "BUY", 1), order("SPY", "BUY", 1)],
    { maxOrdersPerDay: 1, priceBand: 0.1 },
  );
  assert.deepEqual(r.decisions.map((d) => d.rule), ["priceBand", undefined, "maxOrdersPerDay"]);
});

Deno.test("applyRiskOverlays() maxOrdersPerSecond counts orders in (time − 1 s, time] and earlier ones of the call", () => {
  const recentOrderTimes = [T - 5_000, T - 1_000, T - 999, T];
  const limits = { maxOrdersPerSecond: 4 };
  const r = run(
    [order("AAPL", "BUY", 1), order("MSFT", "BUY", 1), order("SPY", "BUY", 1)],
    limits,
    {
      recentOrderTimes,
    },
  );
  // T − 999 and T count (2); T − 1000 and T − 5000 are older than a second.
  assert.deepEqual(r.decisions.map((d) => d.allowed), [true, true, false]);
  assert.equal(
    r.decisions[2].reason,
    "maxOrdersPerSecond: 4 orders in the last second + this one = 5 > limit 4",
  );
  assert.equal(run([order("AAPL", "BUY", 1)], limits, { recentOrderTimes: [] }).orders.length, 1);
});

// ---- priceBand ----

Deno.test("applyRiskOverlays() priceBand passes a limit price at the band and blocks one beyond it", () => {
  const limits = { priceBand: 0.1 };
  assert.equal(run([order("AAPL", "BUY", 1, 110)], limits).decisions[0].allowed, true);
  assert.equal(run([order("AAPL", "SELL", 1, 90)], limits).decisions[0].allowed, true);
  const r = run([order("AAPL", "BUY", 1, 110.5)], limits);
  assert.equal(r.decisions[0].rule, "priceBand");
  assert.equal(
    r.decisions[0].reason,
    "priceBand: BUY 1 AAPL at 110.50 is 10.50% from last close 100.00 > band 10.00%",
  );
  // A market order is referenced at the last close unless the caller gives a quote.
  assert.equal(run([order("AAPL", "BUY", 1)], limits).decisions[0].allowed, true);
  const quoted = run([order("AAPL", "BUY", 1)], limits, {}, () => 80);
  assert.equal(quoted.decisions[0].rule, "priceBand");
});

Deno.test("applyRiskOverlays() priceBand blocks an order without a last close", () => {
  const r = run([order("ZZZ", "BUY", 1, 10)], { priceBand: 0.1 });
  assert.equal(r.decisions[0].rule, "priceBand");
  assert.equal(r.decisions[0].reason, "priceBand: no last close for ZZZ; BUY 1 ZZZ not sent");
  assert.equal(
    run([order("AAPL", "BUY", 1)], { priceBand: 0.1 }, { lastClose: { AAPL: Number.NaN } })
      .decisions[0].rule,
    "priceBand",
  );
});

Deno.test("applyRiskOverlays() blocks with the first refusing rule in RISK_RULES order", () => {
  // Violates priceBand, maxOrderNotional and maxPositionWeight: priceBand is checked first.
  const r = run([order("AAPL", "BUY", 1_000, 200)], {
    maxPositionWeight: 0.1,
    maxOrderNotional: 1_000,
    priceBand: 0.1,
  });
  assert.equal(r.decisions[0].rule, "priceBand");
  const rules = RISK_RULES.slice(4);
  assert.deepEqual(rules, [
    "priceBand",
    "maxOrderNotional",
    "maxPositionWeight",
    "maxGrossExposure",
    "maxOrdersPerSecond",
    "maxOrdersPerDay",
  ]);
});

// ---- trading state ----

Deno.test("applyRiskOverlays() dailyLossLimit at the limit switches to reducing; just above the limit stays active", () => {
  const limits = { dailyLossLimit: 0.03 };
  const hit = run([], limits, { equity: 97_000 });
  assert.equal(hit.state, "reducing");
  assert.equal(hit.stateRule, "dailyLossLimit");
  assert.equal(
    hit.stateReason,
    "dailyLossLimit: equity 97,000.00 is 3.00% below day start 100,000.00 ≥ limit 3.00% → reducing",
  );
  const ok = run([order("AAPL", "BUY", 1)], limits, { equity: 97_001 });
  assert.equal(ok.state, "active");
  assert.equal(ok.stateReason, undefined);
  assert.equal(ok.decisions[0].allowed, true);
});

Deno.test("applyRiskOverlays() reducing lets a sell of a long through and blocks a buy", () => {
  const r = run([order("AAPL", "SELL", 50), order("MSFT", "BUY", 10), order("SPY", "BUY", 5)], {
    dailyLossLimit: 0.03,
  }, { equity: 96_000, positions: { AAPL: 100, SPY: -10 } });
  assert.equal(r.state, "reducing");
  assert.deepEqual(r.decisions.map((d) => d.allowed), [true, false, true]); // SPY: covers a short
  assert.equal(r.decisions[1].rule, "dailyLossLimit");
  assert.equal(
    r.decisions[1].reason,
    "dailyLossLimit: trading is reducing (equity 96,000.00 is 4.00% below day start 100,000.00 ≥ limit 3.00% → reducing); BUY 10 MSFT would grow |MSFT| from 0 to 10 shares",
  );
  assert.deepEqual(r.orders.map((o) => o.symbol), ["AAPL", "SPY"]);
});

Deno.test("applyRiskOverlays() reducing cuts an order that would flip a position to closing it, in sequence", () => {
  const r = run([order("AAPL", "SELL", 10), order("AAPL", "SELL", 15), order("AAPL", "SELL", 1)], {
    dailyLossLimit: 0.03,
  }, { equity: 90_000, positions: { AAPL: 15 } });
  assert.deepEqual(r.decisions.map((d) => d.allowed), [true, true, false]);
  assert.equal(r.decisions[1].adjustedQuantity, 5);
  assert.equal(r.decisions[1].rule, "dailyLossLimit");
  assert.match(
    r.decisions[1].reason,
    /SELL 15 AAPL would flip long 5 to short 10: cut to 5, closing the position$/,
  );
  assert.deepEqual(r.orders.map((o) => o.quantity), [10, 5]);
  assert.match(r.decisions[2].reason, /would grow \|AAPL\| from 0 to 1 shares/);
});

Deno.test("applyRiskOverlays() maxDrawdown at the limit halts: nothing passes, not even a reducing sell", () => {
  const limits = { maxDrawdown: 0.2 };
  const r = run([order("AAPL", "SELL", 10)], limits, {
    peakEquity: 200_000,
    equity: 160_000,
    positions: { AAPL: 10 },
  });
  assert.equal(r.state, "halted");
  assert.equal(r.stateRule, "maxDrawdown");
  assert.equal(r.decisions[0].rule, "maxDrawdown");
  assert.equal(
    r.decisions[0].reason,
    "maxDrawdown: trading is halted (equity 160,000.00 is 20.00% below peak 200,000.00 ≥ limit 20.00% → halted); SELL 10 AAPL not sent",
  );
  assert.deepEqual(r.orders, []);
  const ok = run([order("AAPL", "SELL", 10)], limits, {
    peakEquity: 200_000,
    equity: 160_001,
    positions: { AAPL: 10 },
  });
  assert.equal(ok.state, "active");
  assert.equal(ok.orders.length, 1);
});

Deno.test("applyRiskOverlays() lossAction and drawdownAction choose the state each limit switches to", () => {
  assert.equal(
    run([], { dailyLossLimit: 0.03, lossAction: "halted" }, { equity: 90_000 }).state,
    "halted",
  );
  const dd = run([order("AAPL", "SELL", 5)], { maxDrawdown: 0.1, drawdownAction: "reducing" }, {
    peakEquity: 120_000,
    positions: { AAPL: 5 },
  });
  assert.equal(dd.state, "reducing");
  assert.equal(dd.decisions[0].allowed, true);
  // Both triggered: the stricter state wins and both causes are reported.
  const both = run([], { dailyLossLimit: 0.03, maxDrawdown: 0.1 }, {
    equity: 90_000,
    peakEquity: 120_000,
  });
  assert.equal(both.state, "halted");
  assert.equal(both.stateRule, "maxDrawdown");
  assert.match(both.stateReason ?? "", /^maxDrawdown: .*; dailyLossLimit: /);
});

Deno.test("applyRiskOverlays() manual kill switch halts with no limits configured", () => {
  const r = applyRiskOverlays(
    [order("AAPL", "SELL", 1)],
    ctx({ manualHalt: true, positions: { AAPL: 1 } }),
    {},
  );
  assert.equal(r.state, "halted");
  assert.equal(r.stateRule, "manualHalt");
  assert.equal(r.decisions[0].rule, "manualHalt");
  assert.equal(
    r.decisions[0].reason,
    "manualHalt: trading is halted (the manual kill switch is on); SELL 1 AAPL not sent",
  );
});

Deno.test("applyRiskOverlays() never relaxes the state it is given; a stricter trigger takes over", () => {
  const carried = run([order("AAPL", "BUY", 1)], {}, { state: "halted" });
  assert.equal(carried.state, "halted");
  assert.equal(carried.decisions[0].rule, "tradingState");
  assert.equal(carried.stateReason, "tradingState: halted carried in from an earlier cycle");
  // Reducing carried in, loss recovered: still reducing.
  assert.equal(run([], { dailyLossLimit: 0.03 }, { state: "reducing" }).state, "reducing");
  // Reducing carried in, drawdown now: halted by maxDrawdown.
  const worse = run([], { maxDrawdown: 0.1 }, { state: "reducing", peakEquity: 200_000 });
  assert.equal(worse.state, "halted");
  assert.equal(worse.stateRule, "maxDrawdown");
  // Halted carried in, a loss limit that only reduces: still halted, by the carried state.
  const kept = run([], { dailyLossLimit: 0.03 }, { state: "halted", equity: 90_000 });
  assert.equal(kept.state, "halted");
  assert.equal(kept.stateRule, "tradingState");
});

// ---- general ----

Deno.test("applyRiskOverlays() with no limits passes every order unchanged and is pure", () => {
  const c = ctx({ positions: { AAPL: 5 } });
  const orders = [order("AAPL", "BUY", 3), order("MSFT", "SELL", 2)];
  const r = applyRiskOverlays(orders, c, {});
  assert.deepEqual(r.orders, orders);
  assert.deepEqual(r.decisions.map((d) => d.reason), [
    "passed: no order limits set",
    "passed: no order limits set",
  ]);
  assert.deepEqual(c.positions, { AAPL: 5 });
  assert.deepEqual(applyRiskOverlays(orders, c, {}), r);
});

Deno.test("applyRiskOverlays() refuses invalid limits, orders and context fields a rule needs", () => {
  assert.throws(() => run([], { maxOrderNotional: Number.NaN }), RangeError);
  assert.throws(
    () => run([order("AAPL", "BUY", 0)], {}),
    /orders\[0\] \("tt:1:\d+:AAPL"\)\.quantity must be a positive number, got 0/,
  );
  assert.throws(
    () => run([], { dailyLossLimit: 0.05 }, { dayStartEquity: 0 }),
    /ctx\.dayStartEquity must be a positive number \(dailyLossLimit is on\), got 0/,
  );
  assert.throws(() => run([], { maxOrdersPerDay: 5 }, { ordersToday: -1 }), /ctx\.ordersToday/);
  // A field no configured rule needs is not required.
  assert.equal(run([], {}, { dayStartEquity: Number.NaN }).state, "active");
});

// ---- parseRiskLimits / DEFAULT_RISK_LIMITS / describeRiskLimits / countBlocked ----

Deno.test("parseRiskLimits() reads every limit and refuses unknown keys and bad values by name", () => {
  const all = {
    maxOrderNotional: 25_000,
    notionalAction: "clip",
    maxPositionWeight: 0.2,
    maxGrossExposure: 1.5,
    maxOrdersPerDay: 100,
    maxOrdersPerSecond: 10,
    priceBand: 0.05,
    dailyLossLimit: 0.03,
    lossAction: "halted",
    maxDrawdown: 0.25,
    drawdownAction: "reducing",
  };
  assert.deepEqual(parseRiskLimits(JSON.parse(JSON.stringify(all))), all);
  assert.throws(
    () => parseRiskLimits({ maxOrdersPerDai: 5 }, "risk.json"),
    (e) =>
      e instanceof TypeError &&
      e.message.startsWith(
        "risk.json.maxOrdersPerDai is not a risk limit (known: maxOrderNotional,",
      ),
  );
  assert.throws(
    () => parseRiskLimits({ dailyLossLimit: 3 }),
    (e) =>
      e instanceof RangeError &&
      e.message === "risk.dailyLossLimit must be a fraction in (0, 1], got 3",
  );
  assert.throws(
    () => parseRiskLimits({ maxOrdersPerDay: 2.5 }),
    /risk\.maxOrdersPerDay must be a positive integer, got 2\.5/,
  );
  assert.throws(
    () => parseRiskLimits({ maxOrderNotional: "25000" }),
    (e) =>
      e instanceof TypeError &&
      /maxOrderNotional must be a positive finite number, got "25000"/.test(e.message),
  );
  assert.throws(() => parseRiskLimits({ priceBand: -0.1 }), RangeError);
  assert.throws(
    () => parseRiskLimits({ lossAction: "stop" }),
    /risk\.lossAction must be one of "reducing", "halted", got "stop"/,
  );
  assert.throws(() => parseRiskLimits({ notionalAction: "cut" }), /one of "block", "clip"/);
  assert.throws(() => parseRiskLimits([]), /risk must be an object of risk limits, got \[\]/);
  assert.throws(() => parseRiskLimits(null, "cfg"), /cfg must be an object/);
});

Deno.test("parseRiskLimits() takes absent fields from base and turns a limit off with null", () => {
  assert.deepEqual(parseRiskLimits({}), {}, "absent is off by default");
  const l = parseRiskLimits(
    { maxGrossExposure: null, maxDrawdown: 0.2, priceBand: undefined },
    "risk",
    DEFAULT_RISK_LIMITS,
  );
  assert.equal(l.maxGrossExposure, undefined);
  assert.equal("maxGrossExposure" in l, false);
  assert.equal(l.priceBand, 0.1);
  assert.equal(l.maxDrawdown, 0.2);
  assert.deepEqual(parseRiskLimits({}, "risk", DEFAULT_RISK_LIMITS), { ...DEFAULT_RISK_LIMITS });
});

Deno.test("DEFAULT_RISK_LIMITS keeps a band and the Reg T gross cap on and leaves strategy-sized limits off", () => {
  assert.deepEqual({ ...DEFAULT_RISK_LIMITS }, {
    priceBand: 0.1,
    maxGrossExposure: 2,
    notionalAction: "block",
    lossAction: "reducing",
    drawdownAction: "halted",
  });
  assert.ok(Object.isFrozen(DEFAULT_RISK_LIMITS));
  // An unlevered equal-weight rebalance of three names passes the defaults.
  const r = run(
    [order("AAPL", "BUY", 333), order("MSFT", "BUY", 666), order("SPY", "BUY", 166)],
    DEFAULT_RISK_LIMITS,
  );
  assert.equal(r.orders.length, 3);
});

Deno.test("describeRiskLimits() summarises the limits on one line", () => {
  assert.equal(describeRiskLimits({}), "risk: no limits");
  assert.equal(
    describeRiskLimits(DEFAULT_RISK_LIMITS),
    "risk: priceBand ±10.00%, maxGrossExposure 2.00×",
  );
  assert.equal(
    describeRiskLimits({
      maxDrawdown: 0.2,
      dailyLossLimit: 0.03,
      lossAction: "halted",
      maxOrderNotional: 25_000,
      notionalAction: "clip",
      maxPositionWeight: 0.25,
      maxOrdersPerSecond: 5,
      maxOrdersPerDay: 100,
    }),
    "risk: maxDrawdown 20.00% → halted, dailyLossLimit 3.00% → halted, maxOrderNotional 25,000.00 (clip), maxPositionWeight 25.00%, maxOrdersPerSecond 5, maxOrdersPerDay 100",
  );
});

Deno.test("countBlocked() counts blocked orders per rule with every rule present", () => {
  const r = run(
    [
      order("AAPL", "BUY", 1, 150),
      order("MSFT", "BUY", 1),
      order("SPY", "BUY", 1),
      order("SPY", "BUY", 1),
    ],
    { maxOrdersPerDay: 2, priceBand: 0.1 },
  );
  const counts = countBlocked(r.decisions);
  assert.deepEqual(Object.keys(counts), [...RISK_RULES]);
  assert.equal(counts.priceBand, 1);
  assert.equal(counts.maxOrdersPerDay, 1);
  assert.equal(Object.values(counts).reduce((a, b) => a + b, 0), 2);
});
