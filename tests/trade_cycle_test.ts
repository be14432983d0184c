/**
 * The trading cycle's safety: a crash between submitting and recording never sends an
 * order twice on the rerun, a book that differs from the store halts with a report, the
 * manual kill switch sends nothing, a live paper run keeps its broker state in the store
 * between processes, and the order rules (whole shares, never zero, sells first).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  loadPaperState,
  openStore,
  readOrders,
  readRiskDecisions,
  readTradingRun,
  readTradingStateChanges,
} from "@lib/db/mod.ts";
import { ingestSample } from "@lib/data/mod.ts";
import {
  type Broker,
  type OrderRequest,
  ordersForTargets,
  type OrderState,
  PaperBroker,
  type RiskLimits,
  type RiskRule,
} from "@lib/execution/mod.ts";
import { replayTrading, setModelTradingHalt, tradeOnce, trainModel } from "@lib/pipeline/mod.ts";

/** A broker in front of a paper broker that outlives "processes" (as IB's server does). */
class CountingBroker implements Broker {
  readonly kind = "ibkr" as const;
  readonly live = false;
  readonly fractional = false;
  readonly submits = new Map<string, number>();
  /** Throw after the n-th submit reached the broker (a crash before recording). */
  crashAfter = Infinity;
  #n = 0;
  constructor(readonly inner: PaperBroker) {}
  get accountId() {
    return this.inner.accountId;
  }
  async submit(o: OrderRequest): Promise<OrderState> {
    this.submits.set(o.ref, (this.submits.get(o.ref) ?? 0) + 1);
    const s = await this.inner.submit(o);
    if (++this.#n >= this.crashAfter) throw new Error("simulated kill -9 after submit");
    return s;
  }
  cancel(ref: string) {
    return this.inner.cancel(ref);
  }
  openOrders() {
    return this.inner.openOrders();
  }
  order(ref: string) {
    return this.inner.order(ref);
  }
  positions() {
    return this.inner.positions();
  }
  account() {
    return this.inner.account();
  }
  executions(since?: number) {
    return this.inner.executions(since);
  }
  on(l: Parameters<Broker["on"]>[0]) {
    return this.inner.on(l);
  }
  close() {
    return Promise.resolve();
  }
}

Deno.test("ordersForTargets(): whole shares, no zero quantity, sells first, held instruments skipped", () => {
  const o = ordersForTargets({
    runId: 3,
    bar: Date.UTC(2018, 0, 2),
    instruments: ["A", "B", "C", "D"],
    targetWeights: [0.5, 0.1, 0.3, 0.1],
    held: [0, 200, 0, 0],
    close: [10, 100, 33, 7],
    equity: 100_000,
    fractional: false,
    type: "MOO",
    hold: [0, 0, 0, 1],
  });
  assert.deepEqual(o.map((x) => [x.symbol, x.side, x.quantity]), [
    ["B", "SELL", 100],
    ["A", "BUY", 5000],
    ["C", "BUY", 909],
  ]);
  assert.equal(o[1].ref, "tt:3:201801020000:A");
  const none = ordersForTargets({
    runId: 3,
    bar: 0,
    instruments: ["A"],
    targetWeights: [0.00001],
    held: [0],
    close: [100],
    equity: 1000,
    fractional: false,
    type: "MOO",
  });
  assert.deepEqual(none, [], "a target under half a share gives no order, not a zero one");
});

Deno.test("trading cycle: crash after submit, reconciliation, kill switch, paper state between processes", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "tt_cycle_" });
  const store = await openStore({ dataDir: "memory://" });
  try {
    await ingestSample(store, { silent: true });
    const m = await trainModel(store, {
      symbols: ["AAPL", "SPX"],
      start: "2013-05-13",
      end: "2015-12-31",
      steps: 256,
      numEnvs: 2,
      policy: "mlp",
      seed: 2,
      out: join(dir, "model"),
    });
    const model = String(m.modelId);

    await t.step("a crash between submit and record: the rerun sends nothing twice", async () => {
      const inner = new PaperBroker({ accountId: "DU-CRASH", symbols: ["AAPL", "SPX"] });
      inner.onBar(Date.UTC(2018, 4, 10), {
        AAPL: { open: 190, high: 191, low: 189, close: 190, volume: 3e7 },
        SPX: { open: 2720, high: 2730, low: 2710, close: 2723, volume: 3e9 },
      });
      const broker = new CountingBroker(inner);
      broker.crashAfter = 1;
      await assert.rejects(
        tradeOnce(store, {
          model,
          accountId: "DU-CRASH",
          makeBroker: () => Promise.resolve(broker),
        }),
        /simulated kill -9/,
      );
      broker.crashAfter = Infinity;
      const r = await tradeOnce(store, {
        model,
        accountId: "DU-CRASH",
        makeBroker: () => Promise.resolve(broker),
      });
      assert.ok(r.cycle.reconciliation.ok, r.cycle.reconciliation.differences.join("; "));
      assert.ok(r.cycle.planned.length >= 1);
      assert.ok(
        [...broker.submits.values()].every((n) => n === 1),
        "each ref reached the broker once",
      );
      assert.deepEqual(
        [...broker.submits.keys()].sort(),
        r.cycle.planned.map((o) => o.ref).sort(),
      );
      assert.equal(r.cycle.alreadyKnown.length, 1, "the order sent before the crash is known");
      const stored = await readOrders(store, r.runId);
      assert.equal(stored.length, r.cycle.planned.length);
      assert.ok(stored.every((o) => o.status === "submitted"), JSON.stringify(stored));
    });

    await t.step(
      "a book that differs from the store halts with a report and sends nothing",
      async () => {
        const inner = new PaperBroker({ accountId: "DU-WRONG", symbols: ["AAPL", "SPX"] });
        const bars = {
          AAPL: { open: 190, high: 191, low: 189, close: 190, volume: 3e7 },
          SPX: { open: 2720, high: 2730, low: 2710, close: 2723, volume: 3e9 },
        };
        inner.onBar(Date.UTC(2018, 4, 9), bars);
        await inner.submit({
          ref: "manual-1",
          symbol: "AAPL",
          side: "BUY",
          quantity: 10,
          type: "MKT",
        });
        inner.onBar(Date.UTC(2018, 4, 10), bars);
        const broker = new CountingBroker(inner);
        const r = await tradeOnce(store, {
          model,
          accountId: "DU-WRONG",
          makeBroker: () => Promise.resolve(broker),
        });
        assert.equal(r.cycle.reconciliation.ok, false);
        assert.match(
          r.cycle.reconciliation.differences.join("\n"),
          /position AAPL: broker holds 10/,
        );
        assert.equal(r.cycle.tradingState, "halted");
        assert.equal(broker.submits.size, 0);
        const run = await readTradingRun(store, r.runId);
        assert.equal(run!.tradingState, "halted");
        assert.match(run!.stateReason!, /reconciliation failed/);
      },
    );

    await t.step("the kill switch: nothing goes out, orders are recorded as blocked", async () => {
      await setModelTradingHalt(store, model, true, "test");
      const r = await tradeOnce(store, { model, accountId: "PAPER-HALT" });
      assert.equal(r.cycle.tradingState, "halted");
      assert.equal(r.cycle.stateRule, "manualHalt");
      assert.equal(r.cycle.sent.length, 0);
      assert.ok(
        r.cycle.blocked.length > 0 && r.cycle.blocked.every((b) => b.rule === "manualHalt"),
      );
      assert.equal(r.orders.blocked.manualHalt, r.cycle.blocked.length);
      assert.deepEqual(
        (await readTradingStateChanges(store, r.runId)).map((c) => [c.from, c.to, c.rule]),
        [["active", "halted", "manualHalt"]],
      );
      await setModelTradingHalt(store, model, false);
      assert.equal((await readTradingRun(store, r.runId))!.tradingState, "active");
      assert.deepEqual(
        (await readTradingStateChanges(store, r.runId)).map((c) => [c.from, c.to, c.rule]),
        [["active", "halted", "manualHalt"], ["halted", "active", "resume"]],
      );
    });

    await t.step(
      "each order overlay: blocks what it should, stored with its rule and reason",
      async () => {
        const free = await tradeOnce(store, { model, accountId: "PAPER-FREE", dryRun: true });
        const planned = free.cycle.planned;
        assert.ok(planned.length >= 2, "the model trades both instruments from cash");
        const cases: [RiskRule, RiskLimits, number][] = [
          ["maxOrderNotional", { maxOrderNotional: 1_000 }, planned.length],
          ["maxPositionWeight", { maxPositionWeight: 0.0001 }, planned.length],
          ["maxGrossExposure", { maxGrossExposure: 0.0001 }, planned.length],
          ["maxOrdersPerDay", { maxOrdersPerDay: 1 }, planned.length - 1],
        ];
        for (const [rule, limits, blocked] of cases) {
          const r = await tradeOnce(store, { model, accountId: `PAPER-${rule}`, risk: limits });
          assert.equal(r.cycle.blocked.length, blocked, rule);
          assert.equal(r.orders.blocked[rule], blocked, rule);
          assert.equal(r.cycle.sent.length, planned.length - blocked, rule);
          const stored = await readOrders(store, r.runId, { statuses: ["blocked"] });
          assert.equal(stored.length, blocked);
          for (const o of stored) {
            assert.equal(o.blockedRule, rule);
            assert.ok(o.reason?.startsWith(`${rule}: `), o.reason ?? "no reason");
          }
          const decisions = await readRiskDecisions(store, r.runId);
          assert.equal(decisions.length, planned.length, "every decision stored, passes too");
          assert.equal(decisions.filter((d) => !d.allowed && d.rule === rule).length, blocked);
          assert.ok(decisions.filter((d) => d.allowed).every((d) => d.reason.startsWith("passed")));
        }
        // A wide limit passes the same orders.
        const wide = await tradeOnce(store, {
          model,
          accountId: "PAPER-WIDE",
          risk: {
            maxOrderNotional: 1e9,
            maxPositionWeight: 5,
            maxGrossExposure: 5,
            maxOrdersPerDay: 99,
          },
        });
        assert.equal(wide.cycle.blocked.length, 0);
        assert.equal(wide.cycle.sent.length, planned.length);
      },
    );

    await t.step("maxDrawdown → halted: no order goes out from the next cycle on", async () => {
      const r = await replayTrading(store, {
        model,
        start: "2018-01-02",
        end: "2018-03-01",
        risk: { maxDrawdown: 0.002 },
      });
      assert.equal(r.tradingState, "halted");
      const changes = await readTradingStateChanges(store, r.runId);
      assert.deepEqual(changes.map((c) => [c.from, c.to, c.rule]), [[
        "active",
        "halted",
        "maxDrawdown",
      ]]);
      assert.match(changes[0].reason, /below peak/);
      const haltedAt = changes[0].bar!;
      const orders = await readOrders(store, r.runId);
      const after = orders.filter((o) => o.decisionBar >= haltedAt);
      assert.ok(after.length > 5, "the policy kept wanting to trade");
      assert.ok(after.every((o) => o.status === "blocked"), "nothing went out once halted");
      assert.ok(orders.some((o) => o.decisionBar < haltedAt && o.status === "filled"));
      // Later cycles: halted carried in (or the drawdown again), never back to active.
      assert.ok(
        after.every((o) => o.blockedRule === "maxDrawdown" || o.blockedRule === "tradingState"),
      );
      assert.equal(r.orders.blocked.maxDrawdown + r.orders.blocked.tradingState, after.length);
    });

    await t.step("reducing (daily loss limit): a sell goes out, a buy is blocked", async () => {
      const r = await replayTrading(store, {
        model,
        start: "2018-01-02",
        end: "2018-03-01",
        risk: { dailyLossLimit: 0.002 },
      });
      const orders = new Map((await readOrders(store, r.runId)).map((o) => [o.ref, o]));
      const reducing = (await readRiskDecisions(store, r.runId)).filter((d) =>
        d.tradingState === "reducing"
      );
      const sells = reducing.filter((d) => d.allowed && orders.get(d.ref)!.side === "SELL");
      const buys = reducing.filter((d) => orders.get(d.ref)!.side === "BUY");
      assert.ok(sells.length > 0, "a sell of a long position passes while reducing");
      assert.ok(sells.every((d) => orders.get(d.ref)!.status === "filled"));
      assert.ok(buys.length > 0 && buys.every((d) => !d.allowed && d.rule === "dailyLossLimit"));
      const changes = await readTradingStateChanges(store, r.runId);
      assert.ok(changes.some((c) => c.to === "reducing" && c.rule === "dailyLossLimit"));
      assert.ok(
        changes.some((c) => c.from === "reducing" && c.to === "active" && c.rule === "newDay"),
      );
    });

    await t.step("--dry-run: the orders are recorded and printed, none sent", async () => {
      const inner = new PaperBroker({ accountId: "DU-DRY", symbols: ["AAPL", "SPX"] });
      inner.onBar(Date.UTC(2018, 4, 10), {
        AAPL: { open: 190, high: 191, low: 189, close: 190, volume: 3e7 },
        SPX: { open: 2720, high: 2730, low: 2710, close: 2723, volume: 3e9 },
      });
      const broker = new CountingBroker(inner);
      const r = await tradeOnce(store, {
        model,
        accountId: "DU-DRY",
        dryRun: true,
        makeBroker: () => Promise.resolve(broker),
      });
      assert.ok(r.cycle.outgoing.length > 0);
      assert.equal(broker.submits.size, 0);
      assert.equal(r.orders.dryRun, r.cycle.outgoing.length);
      assert.equal(r.orders.sent, 0);
    });
    await t.step("live paper: the broker state is kept in the store between cycles", async () => {
      const r1 = await tradeOnce(store, { model, accountId: "PAPER-LIVE" });
      assert.ok(r1.cycle.sent.length > 0);
      const saved = PaperBroker.fromState(await loadPaperState(store, "PAPER-LIVE"));
      for (const s of r1.cycle.sent) assert.equal((await saved.order(s.ref))?.status, "submitted");
      const r2 = await tradeOnce(store, { model, accountId: "PAPER-LIVE" });
      assert.equal(r2.runId, r1.runId);
      assert.ok(r2.cycle.reconciliation.ok);
      assert.equal(r2.cycle.planned.length, 0, "the same bar is not traded twice");
    });
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
