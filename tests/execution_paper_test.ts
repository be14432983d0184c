/**
 * The paper broker: next-bar fills with the one cost model (known answers, and the
 * simulator's own arithmetic when given the simulator's units), partial fills against a
 * share of volume, rejections, idempotent refs, cash and margin rules, IBKR fixed
 * commission per order across partial fills, and a state that survives serialisation.
 */
import assert from "node:assert/strict";
import { MarketSimulator, prepareMarket, resolveCostOptions } from "@lib/env/mod.ts";
import { type BrokerEvent, type PaperBar, PaperBroker } from "@lib/execution/mod.ts";
import { syntheticPrices } from "./support/env_panels.ts";

const D = (d: number) => Date.UTC(2018, 0, d);
const bar = (o: number, c: number, volume = 1e6): PaperBar => ({
  open: o,
  high: Math.max(o, c) + 1,
  low: Math.min(o, c) - 1,
  close: c,
  volume,
});

Deno.test("PaperBroker fills a MOO order at the next bar's open with bps commission and slippage", async () => {
  const b = new PaperBroker({
    initialCash: 100_000,
    costs: { costPerTurnBps: 10, slippageBps: 5 },
  });
  b.onBar(D(2), { A: bar(99, 100) });
  const s = await b.submit({ ref: "r1", symbol: "A", side: "BUY", quantity: 100, type: "MOO" });
  assert.equal(s.status, "submitted");
  assert.equal((await b.executions()).length, 0, "nothing fills before the next bar");
  const [f] = b.onBar(D(3), { A: bar(101, 102) });
  // Notional 10,100; slippage 5 bps = 5.05 (in the price), commission 10 bps = 10.10.
  assert.equal(f.quantity, 100);
  assert.ok(Math.abs(f.slippage - 5.05) < 1e-9);
  assert.ok(Math.abs(f.price - (101 + 5.05 / 100)) < 1e-12);
  assert.ok(Math.abs(f.commission - 10.1) < 1e-9);
  const a = await b.account();
  assert.ok(Math.abs(a.cash - (100_000 - 10_100 - 5.05 - 10.1)) < 1e-9);
  assert.ok(Math.abs(a.netLiquidation - (a.cash + 100 * 102)) < 1e-9);
  assert.equal((await b.order("r1"))!.status, "filled");
  const [p] = await b.positions();
  assert.deepEqual([p.symbol, p.quantity, p.marketPrice], ["A", 100, 102]);
});

Deno.test("PaperBroker given the simulator's units reproduces the simulator's cash and net worth", async () => {
  const prices = syntheticPrices(3, 40, 7);
  const costs = resolveCostOptions({ costPerTurnBps: 10, slippageBps: 5, impactK: 0.5 });
  const market = prepareMarket(prices, costs.impactLookback);
  const sim = new MarketSimulator(market, { executeAt: "open", costs, initialCash: 1e6 });
  const b = new PaperBroker({
    initialCash: 1e6,
    costs,
    fractional: true,
    maxVolumeShare: 1,
    symbols: prices.instruments,
  });
  const n = 3;
  const barsAt = (t: number) =>
    Object.fromEntries(prices.instruments.map((s, i) => {
      const k = t * n + i;
      return [s, {
        open: prices.open[k],
        high: prices.high[k],
        low: prices.low[k],
        close: prices.close[k],
        volume: prices.volume[k],
      }];
    }));
  const start = 25;
  for (let t = 0; t <= start; t++) b.onBar(prices.timestamps[t], barsAt(t));
  sim.reset(start);
  const targets = [[0.5, 0.3, 0.2], [0.2, -0.3, 0.6], [0.4, 0.4, 0.1], [0, 0.9, -0.2]];
  for (let s = 0; s < 12; s++) {
    const t = start + s;
    const { state, execution } = sim.step(targets[s % targets.length]);
    for (let i = 0; i < n; i++) {
      const u = execution.units[i];
      if (u === 0) continue;
      await b.submit({
        ref: `x:${t}:${i}`,
        symbol: prices.instruments[i],
        side: u > 0 ? "BUY" : "SELL",
        quantity: Math.abs(u),
        type: "MOO",
      });
    }
    b.onBar(prices.timestamps[t + 1], barsAt(t + 1));
    const a = await b.account();
    assert.ok(
      Math.abs(a.cash - state.cash) < 1e-6 * 1e6,
      `step ${s}: cash ${a.cash} vs ${state.cash}`,
    );
    assert.ok(
      Math.abs(a.netLiquidation / state.netWorth - 1) < 1e-12,
      `step ${s}: net liquidation ${a.netLiquidation} vs the simulator's ${state.netWorth}`,
    );
  }
});

Deno.test("PaperBroker fills at most maxVolumeShare of a bar's volume; the rest keeps working", async () => {
  const b = new PaperBroker({ maxVolumeShare: 0.1, costs: { costPerTurnBps: 0, slippageBps: 0 } });
  b.onBar(D(2), { A: bar(10, 10, 1000) });
  const events: BrokerEvent[] = [];
  b.on((e) => events.push(e));
  await b.submit({ ref: "big", symbol: "A", side: "BUY", quantity: 250, type: "MKT" });
  b.onBar(D(3), { A: bar(10, 11, 1000) });
  let o = (await b.order("big"))!;
  assert.deepEqual([o.status, o.filled, o.remaining], ["partially-filled", 100, 150]);
  b.onBar(D(4), { A: bar(12, 12, 1000) });
  b.onBar(D(5), { A: bar(13, 13, 1000) });
  o = (await b.order("big"))!;
  assert.deepEqual([o.status, o.filled, o.remaining], ["filled", 250, 0]);
  assert.ok(Math.abs(o.avgFillPrice - (100 * 10 + 100 * 12 + 50 * 13) / 250) < 1e-12);
  assert.deepEqual(
    events.filter((e) => e.type === "order").map((e) => e.type === "order" && e.order.status),
    ["submitted", "partially-filled", "partially-filled", "filled"],
  );
  assert.equal(events.filter((e) => e.type === "fill").length, 3);
});

Deno.test("PaperBroker rejects bad orders with the reason and returns a known ref unchanged", async () => {
  const b = new PaperBroker({ initialCash: 10_000, accountType: "cash" });
  b.onBar(D(2), { A: bar(100, 100) });
  const rej = async (o: Partial<Parameters<PaperBroker["submit"]>[0]>, re: RegExp) => {
    const s = await b.submit({
      ref: `r${Math.random()}`,
      symbol: "A",
      side: "BUY",
      quantity: 1,
      type: "MKT",
      ...o,
    });
    assert.equal(s.status, "rejected", JSON.stringify(o));
    assert.match(s.reason!, re);
  };
  await rej({ symbol: "ZZZ" }, /unknown symbol/);
  await rej({ quantity: 0 }, /positive/);
  await rej({ quantity: -3 }, /positive/);
  await rej({ quantity: NaN }, /positive/);
  await rej({ quantity: 1.5 }, /fractional/);
  await rej({ type: "LMT" }, /limit price/);
  await rej({ quantity: 200 }, /insufficient buying power/);
  await rej({ side: "SELL" }, /cannot sell short/);
  const ok = await b.submit({ ref: "k", symbol: "A", side: "BUY", quantity: 10, type: "MOO" });
  assert.equal(ok.status, "submitted");
  const again = await b.submit({ ref: "k", symbol: "A", side: "SELL", quantity: 99, type: "MKT" });
  assert.deepEqual(again, ok, "a known ref returns the existing order");
  assert.equal((await b.openOrders()).length, 1);
  // Working buys reserve cash.
  const more = await b.submit({ ref: "k2", symbol: "A", side: "BUY", quantity: 95, type: "MOO" });
  assert.match(more.reason ?? "", /insufficient buying power/);
  assert.equal((await b.cancel("k")).status, "cancelled");
});

Deno.test("PaperBroker margin account: shorts allowed up to leverage × net liquidation", async () => {
  const b = new PaperBroker({ initialCash: 10_000, leverage: 2 });
  b.onBar(D(2), { A: bar(100, 100) });
  const short = await b.submit({ ref: "s", symbol: "A", side: "SELL", quantity: 150, type: "MOO" });
  assert.equal(short.status, "submitted");
  const over = await b.submit({ ref: "s2", symbol: "A", side: "SELL", quantity: 60, type: "MOO" });
  assert.equal(over.status, "rejected");
  assert.match(over.reason!, /leverage 2/);
  b.onBar(D(3), { A: bar(100, 90) });
  const [p] = await b.positions();
  assert.equal(p.quantity, -150);
  assert.ok(p.unrealizedPnl > 0, "a short gains when the price falls");
});

Deno.test("PaperBroker IBKR fixed commission: one order's minimum once across partial fills", async () => {
  const b = new PaperBroker({
    costs: { feeModel: "ibkr-fixed", slippageBps: 0 },
    maxVolumeShare: 0.5,
  });
  b.onBar(D(2), { A: bar(50, 50, 100) });
  await b.submit({ ref: "i", symbol: "A", side: "BUY", quantity: 100, type: "MKT" });
  b.onBar(D(3), { A: bar(50, 50, 100) });
  b.onBar(D(4), { A: bar(50, 50, 100) });
  const fills = await b.executions();
  assert.equal(fills.length, 2);
  // 100 shares at 50: max(0.5, 1) = USD 1 for the order, however many fills.
  assert.ok(Math.abs(fills[0].commission + fills[1].commission - 1) < 1e-12);
});

Deno.test("PaperBroker state survives toState → JSON → fromState and goes on identically", async () => {
  const mk = () =>
    new PaperBroker({ initialCash: 50_000, costs: { impactK: 1 }, maxVolumeShare: 0.01 });
  const a = mk();
  for (let d = 2; d < 30; d++) {
    a.onBar(D(d), { A: bar(100 + d, 101 + d, 5000), B: bar(20, 20, NaN) });
  }
  await a.submit({ ref: "w", symbol: "A", side: "BUY", quantity: 120, type: "MOO" });
  a.onBar(D(30), { A: bar(130, 131, 5000), B: bar(20, 21, 1e6) });
  const b = PaperBroker.fromState(JSON.parse(JSON.stringify(a.toState())));
  assert.deepEqual(await b.order("w"), await a.order("w"));
  assert.equal((await b.order("w"))!.status, "partially-filled");
  for (const x of [a, b]) x.onBar(D(31), { A: bar(132, 133, 5000), B: bar(21, 21, 1e6) });
  assert.deepEqual(await b.account(), await a.account());
  assert.deepEqual(await b.executions(), await a.executions());
  assert.deepEqual(await b.positions(), await a.positions());
  assert.throws(
    () => PaperBroker.fromState({ ...a.toState(), cash: "lots" }),
    /cash must be a finite number/,
  );
});
