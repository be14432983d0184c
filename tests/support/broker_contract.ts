/**
 * The broker contract suite: the behaviour every {@linkcode Broker} must show, run
 * against each implementation (`tests/execution_broker_contract_test.ts`):
 * acknowledgement, fills after the market moves, partial fills, cancels, rejections,
 * idempotent resubmits, positions and account after fills (the cash identity),
 * executions with commissions, the order of events, and terminal orders that never
 * change.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Broker, BrokerEvent, Fill, OrderRequest, OrderState } from "@lib/execution/broker.ts";
import { TERMINAL_STATUSES } from "@lib/execution/broker.ts";
import { IbkrBroker, type IbkrBrokerOptions } from "@lib/execution/ibkr_broker.ts";
import { LoopbackGateway, type LoopbackGatewayOptions } from "@lib/data/ibkr/mod.ts";

/** What a broker implementation hands the contract suite. */
export interface BrokerHarness {
  broker: Broker;
  /** Reference prices the harness's market is at (symbol → price), for sizing limit orders. At least two symbols. */
  prices: Record<string, number>;
  /** Makes the market move on so that pending marketable orders fill (paper: next bar; gateway: its next fill tick). */
  advance(): Promise<void>;
  close(): Promise<void>;
  /**
   * A quantity (of the first symbol) that this harness's broker fills in more than one
   * step (e.g. above the bar-volume share or the gateway's per-tick cap), while the
   * suite's ordinary orders (≤ 10 shares) fill in one. Needed by the partial-fill case.
   */
  partialFillQuantity?: number;
}

const OPTS = { sanitizeOps: false, sanitizeResources: false };

/**
 * Polls until `check` returns a value (not `undefined`) or `ms` pass.
 * @param what Described in the timeout error.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  ms = 5_000,
): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 15));
  }
}

/** Waits until the order of `ref` reaches one of `statuses`. */
async function until(
  broker: Broker,
  ref: string,
  statuses: string[],
  h?: BrokerHarness,
): Promise<OrderState> {
  let n = 0;
  return await waitFor(`${ref} to be ${statuses.join("/")}`, async () => {
    const o = await broker.order(ref);
    if (o && statuses.includes(o.status)) return o;
    if (h && ++n % 20 === 0) await h.advance(); // a harness whose fills need more ticks
    return undefined;
  });
}

function symbols(h: BrokerHarness): [string, string] {
  const s = Object.keys(h.prices);
  assert.ok(s.length >= 2, "the harness must give prices for at least two symbols");
  return [s[0], s[1]];
}

let seq = 0;
function ref(name: string): string {
  return `tt:contract:${Date.now().toString(36)}${(seq++).toString(36)}:${name}`;
}

function mkt(r: string, symbol: string, side: "BUY" | "SELL", quantity: number): OrderRequest {
  return { ref: r, symbol, side, quantity, type: "MKT" };
}

function sumFills(fills: Fill[], r: string): number {
  return fills.filter((f) => f.ref === r).reduce((a, f) => a + f.quantity, 0);
}

function close(a: number, b: number, tol: number, what: string): void {
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tolerance ${tol})`);
}

/**
 * Registers the contract cases for one broker implementation.
 * @param name Shown in each test name, e.g. `"ibkr"`.
 * @param make A fresh harness per case (a new market and account).
 * @example
 * ```ts
 * brokerContract("paper", async () => ({ broker, prices: { AAA: 10, BBB: 20 }, advance, close }));
 * ```
 */
export function brokerContract(name: string, make: () => Promise<BrokerHarness>): void {
  const test = (title: string, fn: (h: BrokerHarness) => Promise<void>) =>
    Deno.test({
      name: `broker contract (${name}): ${title}`,
      ...OPTS,
      fn: async () => {
        const h = await make();
        try {
          await fn(h);
        } finally {
          await h.close();
        }
      },
    });

  test("submit is acknowledged as submitted and listed as open", async (h) => {
    const [a] = symbols(h);
    const r = ref("ack");
    const s = await h.broker.submit(mkt(r, a, "BUY", 5));
    assert.equal(s.ref, r);
    assert.equal(s.status, "submitted");
    assert.equal(s.filled, 0);
    assert.equal(s.remaining, 5);
    assert.ok(Number.isInteger(s.brokerOrderId), `a broker order id: ${s.brokerOrderId}`);
    assert.deepEqual(
      { ...s.request },
      { ref: r, symbol: a, side: "BUY", quantity: 5, type: "MKT" },
    );
    assert.deepEqual((await h.broker.order(r))?.status, "submitted");
    const open = await h.broker.openOrders();
    assert.deepEqual(open.map((o) => o.ref), [r]);
    assert.equal(await h.broker.order("tt:contract:never-sent"), undefined);
  });

  test("a market order fills after the market moves", async (h) => {
    const [a] = symbols(h);
    const r = ref("fill");
    await h.broker.submit(mkt(r, a, "BUY", 7));
    await h.advance();
    const s = await until(h.broker, r, ["filled"], h);
    assert.equal(s.filled, 7);
    assert.equal(s.remaining, 0);
    assert.ok(Number.isFinite(s.avgFillPrice) && s.avgFillPrice > 0, `avg ${s.avgFillPrice}`);
    close(s.avgFillPrice, h.prices[a], h.prices[a] * 0.5, "fill price near the market");
    const fills = await h.broker.executions();
    assert.equal(sumFills(fills, r), 7);
    const pos = await h.broker.positions();
    assert.equal(pos.find((p) => p.symbol === a)?.quantity, 7);
    assert.deepEqual(await h.broker.openOrders(), []);
    for (const type of ["MOO", "MOC"] as const) {
      const r2 = ref(type);
      const s2 = await h.broker.submit({ ref: r2, symbol: a, side: "BUY", quantity: 1, type });
      assert.equal(s2.request.type, type);
      await h.advance();
      assert.equal((await until(h.broker, r2, ["filled"], h)).filled, 1, `${type} fills`);
    }
  });

  test("a large order fills partly, then completely", async (h) => {
    const [a] = symbols(h);
    const q = h.partialFillQuantity;
    assert.ok(
      q !== undefined && q > 1,
      "the harness must give partialFillQuantity (a quantity its broker fills in steps)",
    );
    const r = ref("partial");
    const seen: string[] = [];
    h.broker.on((e) => {
      if (e.type === "order" && e.order.ref === r) seen.push(e.order.status);
    });
    await h.broker.submit(mkt(r, a, "BUY", q));
    await h.advance();
    const part = await until(h.broker, r, ["partially-filled"]);
    assert.ok(part.filled > 0 && part.filled < q, `partial: ${part.filled} of ${q}`);
    assert.equal(part.remaining, q - part.filled);
    assert.ok((await h.broker.openOrders()).some((o) => o.ref === r), "still open");
    for (let i = 0; i < 50 && (await h.broker.order(r))?.status !== "filled"; i++) {
      await h.advance();
    }
    const done = await until(h.broker, r, ["filled"]);
    assert.equal(done.filled, q);
    assert.equal(sumFills(await h.broker.executions(), r), q);
    const fills = (await h.broker.executions()).filter((f) => f.ref === r);
    assert.ok(fills.length >= 2, `several executions (${fills.length})`);
    const vwap = fills.reduce((a, f) => a + f.price * f.quantity, 0) / q;
    close(done.avgFillPrice, vwap, 1e-6 * vwap, "average fill price is the VWAP of the executions");
    assert.ok(seen.indexOf("partially-filled") < seen.lastIndexOf("filled"), seen.join(","));
  });

  test("a working limit order can be cancelled", async (h) => {
    const [a] = symbols(h);
    const r = ref("cancel");
    const limit = Math.round(h.prices[a] * 0.3 * 100) / 100;
    const s = await h.broker.submit({
      ref: r,
      symbol: a,
      side: "BUY",
      quantity: 3,
      type: "LMT",
      limitPrice: limit,
    });
    assert.equal(s.status, "submitted");
    assert.equal(s.request.limitPrice, limit);
    await h.advance();
    assert.equal((await h.broker.order(r))?.status, "submitted", "a far limit does not fill");
    const c = await h.broker.cancel(r);
    assert.equal(c.status, "cancelled");
    assert.equal(c.filled, 0);
    assert.equal(c.remaining, 0);
    assert.deepEqual(await h.broker.openOrders(), []);
    assert.deepEqual(await h.broker.cancel(r), c, "cancelling a terminal order returns it as is");
    await assert.rejects(() => h.broker.cancel("tt:contract:unknown"), /unknown|no order/i);
  });

  test("an order beyond buying power is rejected with a reason", async (h) => {
    const [a] = symbols(h);
    const acct = await h.broker.account();
    const r = ref("reject");
    const q = Math.ceil((acct.netLiquidation * 20) / h.prices[a]);
    const s = await h.broker.submit(mkt(r, a, "BUY", q));
    assert.equal(s.status, "rejected");
    assert.equal(s.filled, 0);
    assert.equal(s.remaining, 0);
    assert.ok(s.reason && s.reason.length > 3, `a reason: ${s.reason}`);
    assert.deepEqual(await h.broker.openOrders(), []);
    await h.advance();
    assert.equal((await h.broker.order(r))?.status, "rejected");
    assert.equal(sumFills(await h.broker.executions(), r), 0);
  });

  test("a known ref is never sent twice", async (h) => {
    const [a] = symbols(h);
    const r = ref("idem");
    const [x, y] = await Promise.all([
      h.broker.submit(mkt(r, a, "BUY", 4)),
      h.broker.submit(mkt(r, a, "BUY", 4)),
    ]);
    assert.equal(x.brokerOrderId, y.brokerOrderId);
    const z = await h.broker.submit(mkt(r, a, "BUY", 9)); // same ref, other quantity
    assert.equal(z.brokerOrderId, x.brokerOrderId);
    assert.equal(z.request.quantity, 4);
    assert.equal((await h.broker.openOrders()).length, 1);
    await h.advance();
    await until(h.broker, r, ["filled"], h);
    const again = await h.broker.submit(mkt(r, a, "BUY", 4));
    assert.equal(again.status, "filled");
    await h.advance();
    assert.equal(sumFills(await h.broker.executions(), r), 4);
    assert.equal((await h.broker.positions()).find((p) => p.symbol === a)?.quantity, 4);
  });

  test("positions and account follow the fills (cash identity)", async (h) => {
    const [a, b] = symbols(h);
    const before = await h.broker.account();
    const ra = ref("pa"), rb = ref("pb"), rs = ref("ps");
    await h.broker.submit(mkt(ra, a, "BUY", 10));
    await h.broker.submit(mkt(rb, b, "SELL", 3)); // a short
    await h.advance();
    await until(h.broker, ra, ["filled"], h);
    await until(h.broker, rb, ["filled"], h);
    await h.broker.submit(mkt(rs, a, "SELL", 4));
    await h.advance();
    await until(h.broker, rs, ["filled"], h);
    const fills = await waitFor("commissions", async () => {
      const f = (await h.broker.executions()).filter((x) => [ra, rb, rs].includes(x.ref));
      return f.every((x) => Number.isFinite(x.commission)) ? f : undefined;
    });
    const after = await h.broker.account();
    const flow = fills.reduce(
      (s, f) => s - (f.side === "BUY" ? 1 : -1) * f.quantity * f.price - f.commission,
      0,
    );
    close(after.cash - before.cash, flow, 1e-6 * Math.max(1, Math.abs(flow)), "cash change");
    assert.equal(after.accountId, h.broker.accountId);
    const pos = await h.broker.positions();
    const qa = pos.find((p) => p.symbol === a), qb = pos.find((p) => p.symbol === b);
    assert.equal(qa?.quantity, 6);
    assert.equal(qb?.quantity, -3);
    assert.ok(qa!.avgCost > 0 && qb!.avgCost > 0);
    const buyA = fills.find((f) => f.ref === ra)!;
    close(qa!.avgCost, buyA.price, buyA.price * 0.01, "avg cost of the remaining long");
    assert.ok(pos.every((p) => p.quantity !== 0), "zero positions omitted");
    const mv = pos.reduce((s, p) => s + p.marketValue, 0);
    if (Number.isFinite(mv)) {
      close(after.netLiquidation, after.cash + mv, 1e-6 * after.netLiquidation, "NLV = cash + MV");
      close(
        after.grossPositionValue,
        pos.reduce((s, p) => s + Math.abs(p.marketValue), 0),
        1e-3,
        "gross",
      );
    }
  });

  test("executions carry commissions, unique ids and their refs", async (h) => {
    const [a, b] = symbols(h);
    const events: BrokerEvent[] = [];
    h.broker.on((e) => events.push(e));
    const r1 = ref("e1"), r2 = ref("e2");
    const t0 = Date.now() - 24 * 3600_000 * 365 * 20;
    await h.broker.submit(mkt(r1, a, "BUY", 2));
    await h.broker.submit(mkt(r2, b, "BUY", 3));
    await h.advance();
    await until(h.broker, r1, ["filled"], h);
    await until(h.broker, r2, ["filled"], h);
    const fills = await waitFor("commissions", async () => {
      const f = await h.broker.executions();
      return f.length >= 2 && f.every((x) => Number.isFinite(x.commission)) ? f : undefined;
    });
    assert.equal(new Set(fills.map((f) => f.execId)).size, fills.length, "unique exec ids");
    for (const f of fills) {
      assert.ok([r1, r2].includes(f.ref), `ref ${f.ref}`);
      assert.ok(f.commission >= 0, `commission ${f.commission}`);
      assert.ok(f.price > 0 && f.quantity > 0);
      assert.equal(f.symbol, f.ref === r1 ? a : b);
    }
    for (let i = 1; i < fills.length; i++) assert.ok(fills[i - 1].time <= fills[i].time);
    assert.equal((await h.broker.executions(t0)).length, fills.length);
    const latest = Math.max(...fills.map((f) => f.time));
    assert.deepEqual(await h.broker.executions(latest + 1), []);
    const fillIds = events.filter((e) => e.type === "fill").map((e) =>
      (e as { fill: Fill }).fill.execId
    );
    const commissionIds = events.filter((e) => e.type === "commission").map((e) =>
      (e as { execId: string }).execId
    );
    assert.deepEqual([...fillIds].sort(), fills.map((f) => f.execId).sort());
    for (const id of commissionIds) {
      assert.ok(
        fillIds.indexOf(id) < events.findIndex((e) => e.type === "commission" && e.execId === id),
      );
    }
  });

  test("events come in order: submitted, fills, then the state that counts them", async (h) => {
    const [a] = symbols(h);
    const events: BrokerEvent[] = [];
    h.broker.on((e) => events.push(e));
    const r = ref("ev");
    await h.broker.submit(mkt(r, a, "BUY", 6));
    await h.advance();
    await until(h.broker, r, ["filled"], h);
    const mine = events.filter((e) =>
      (e.type === "order" && e.order.ref === r) || (e.type === "fill" && e.fill.ref === r)
    );
    assert.ok(mine.length >= 3, JSON.stringify(mine));
    assert.equal(mine[0].type, "order");
    assert.equal((mine[0] as { order: OrderState }).order.status, "submitted");
    let filled = 0;
    let terminal = false;
    for (const e of mine) {
      assert.ok(!terminal, "no event after a terminal state");
      if (e.type === "fill") filled += e.fill.quantity;
      if (e.type === "order") {
        assert.ok(e.order.filled <= filled, `state counts ${e.order.filled} > fills ${filled}`);
        terminal = TERMINAL_STATUSES.has(e.order.status);
      }
    }
    assert.ok(terminal, "ends terminal");
    assert.equal(filled, 6);
  });

  test("terminal orders never change", async (h) => {
    const [a] = symbols(h);
    const rf = ref("tf"), rc = ref("tc"), rr = ref("tr");
    await h.broker.submit(mkt(rf, a, "BUY", 2));
    await h.broker.submit({
      ref: rc,
      symbol: a,
      side: "BUY",
      quantity: 2,
      type: "LMT",
      limitPrice: Math.round(h.prices[a] * 30) / 100,
    });
    await h.broker.cancel(rc);
    const acct = await h.broker.account();
    await h.broker.submit(mkt(rr, a, "BUY", Math.ceil((acct.netLiquidation * 20) / h.prices[a])));
    await h.advance();
    await until(h.broker, rf, ["filled"], h);
    const snap = await Promise.all([rf, rc, rr].map((r) => h.broker.order(r)));
    assert.deepEqual(snap.map((s) => s?.status), ["filled", "cancelled", "rejected"]);
    const changes: BrokerEvent[] = [];
    h.broker.on((e) => e.type === "order" && changes.push(e));
    for (let i = 0; i < 3; i++) await h.advance();
    for (const r of [rf, rc, rr]) {
      assert.deepEqual(await h.broker.cancel(r), snap.find((s) => s?.ref === r));
      assert.deepEqual(await h.broker.submit(mkt(r, a, "SELL", 1)), snap.find((s) => s?.ref === r));
    }
    assert.deepEqual(await Promise.all([rf, rc, rr].map((r) => h.broker.order(r))), snap);
    assert.deepEqual(changes, []);
  });
}

/** A loopback gateway with an {@linkcode IbkrBroker} connected to it. */
export interface LoopbackHarness extends BrokerHarness {
  broker: IbkrBroker;
  gateway: LoopbackGateway;
  port: number;
}

/**
 * The IBKR harness: a fresh loopback gateway (generated bars, market from 2020-01-06,
 * at most 50 shares of an order filled per tick) and a broker on a real socket.
 * @param gateway Gateway options over the defaults.
 * @param broker Broker options over the defaults.
 * @example
 * ```ts
 * brokerContract("ibkr", () => loopbackHarness());
 * ```
 */
export async function loopbackHarness(
  gateway: LoopbackGatewayOptions = {},
  broker: Partial<IbkrBrokerOptions> = {},
): Promise<LoopbackHarness> {
  const gw = new LoopbackGateway({
    marketStart: "2020-01-06",
    cash: 100_000,
    slippageBps: 5,
    ...gateway,
    faults: { maxFillPerTick: 50, ...gateway.faults },
  });
  const { port } = gw.start();
  let b: IbkrBroker;
  try {
    b = await IbkrBroker.connect({ port, clientId: 7, requestTimeoutMs: 5_000, ...broker });
  } catch (e) {
    await gw.stop();
    throw e;
  }
  const prices: Record<string, number> = {};
  for (const s of ["AAPL", "MSFT"]) prices[s] = gw.markPrice(s)!;
  return {
    broker: b,
    gateway: gw,
    port,
    prices,
    partialFillQuantity: 120,
    async advance() {
      await gw.advance();
      if (b.connected) await b.openOrders(); // a round trip: every fill sent before is processed
    },
    async close() {
      await b.close();
      await gw.stop();
    },
  };
}
