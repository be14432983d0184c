/**
 * The execution records (`1200_execution.sql`, `lib/db/execution_repo.ts`) on PGlite and,
 * with `TEST_DATABASE_URL`, on a PostgreSQL server: runs, orders with their events, fills
 * recorded once, per-bar snapshots, risk decisions, the kill switch and paper state.
 */
import assert from "node:assert/strict";
import {
  fillBook,
  findTradingRun,
  loadPaperState,
  readAccountCurve,
  readFills,
  readOrderEvents,
  readOrders,
  readPositions,
  readRiskDecisions,
  readTradingHalt,
  readTradingRun,
  recordBarSnapshot,
  recordFills,
  recordOrderEvents,
  recordOrders,
  recordRiskDecisions,
  registerModel,
  savePaperState,
  setTradingHalt,
  startTradingRun,
  updateTradingRun,
} from "@lib/db/mod.ts";
import { storeFactories } from "./support/stores.ts";

const BAR = Date.UTC(2018, 0, 2);
const NEXT = Date.UTC(2018, 0, 3);

for (const factory of storeFactories()) {
  Deno.test(`execution_repo on ${factory.name}: a run's orders, fills, book and snapshots`, async () => {
    const store = await factory.open();
    try {
      const runId = await startTradingRun(store, {
        modelId: null,
        brokerKind: "paper",
        accountId: "PAPER-T",
        mode: "paper",
        settings: { costs: { costPerTurnBps: 10 } },
      });
      const run = await findTradingRun(store, {
        modelId: null,
        mode: "paper",
        accountId: "PAPER-T",
      });
      assert.equal(run!.id, runId);
      assert.equal(run!.status, "running");
      assert.equal(run!.tradingState, "active");
      await updateTradingRun(store, runId, {
        tradingState: "halted",
        stateReason: "drawdown 12 % > 10 %",
        cycle: { steps: 3 },
        lastBar: BAR,
      });
      const r2 = (await readTradingRun(store, runId))!;
      assert.deepEqual([r2.tradingState, r2.stateReason, r2.cycle], [
        "halted",
        "drawdown 12 % > 10 %",
        { steps: 3 },
      ]);
      assert.equal(r2.lastBar!.getTime(), BAR);

      const base = {
        runId,
        decisionBar: BAR,
        side: "BUY" as const,
        type: "MOO" as const,
      };
      await recordOrders(store, [
        { ...base, ref: "tt:1:a", symbol: "A", quantity: 10, status: "planned" },
        {
          ...base,
          ref: "tt:1:b",
          symbol: "B",
          quantity: 5,
          status: "blocked",
          blockedRule: "maxOrderNotional",
          reason: "notional 60,000 > 50,000",
        },
      ]);
      await recordOrders(store, [{
        ...base,
        ref: "tt:1:a",
        symbol: "A",
        quantity: 10,
        status: "filled",
        filled: 10,
        avgPrice: 101.5,
        brokerOrderId: 7,
      }]);
      await recordOrderEvents(store, [
        { ref: "tt:1:a", time: BAR, status: "submitted", filled: 0, remaining: 10 },
        { ref: "tt:1:a", time: NEXT, status: "filled", filled: 10, remaining: 0, avgPrice: 101.5 },
      ]);
      const orders = await readOrders(store, runId);
      assert.deepEqual(orders.map((o) => [o.ref, o.status, o.filled]), [
        ["tt:1:a", "filled", 10],
        ["tt:1:b", "blocked", 0],
      ]);
      assert.equal(orders[1].blockedRule, "maxOrderNotional");
      assert.equal(orders[0].brokerOrderId, 7);
      assert.deepEqual(
        (await readOrders(store, runId, { statuses: ["blocked"] })).map((o) => o.ref),
        ["tt:1:b"],
      );
      assert.deepEqual((await readOrderEvents(store, "tt:1:a")).map((e) => e.status), [
        "submitted",
        "filled",
      ]);

      const fill = {
        execId: "tt:1:a#1",
        runId,
        ref: "tt:1:a",
        brokerOrderId: 7,
        symbol: "A",
        side: "BUY" as const,
        quantity: 10,
        price: 101.5,
        commission: 1.015,
        slippage: 0.5,
        time: NEXT,
      };
      assert.deepEqual(await recordFills(store, [fill]), ["tt:1:a#1"]);
      assert.deepEqual(await recordFills(store, [fill]), [], "an exec id is recorded once");
      assert.equal((await readFills(store, runId)).length, 1);
      assert.equal((await readFills(store, runId, { from: NEXT + 1 })).length, 0);
      assert.deepEqual([...await fillBook(store, runId)], [["A", 10]]);

      for (const [bar, nl] of [[BAR, 100_000], [NEXT, 100_050]] as const) {
        await recordBarSnapshot(store, runId, bar, {
          netLiquidation: nl,
          cash: 98_984,
          grossPositionValue: 1066,
          buyingPower: 199_000,
          realizedPnl: 0,
          unrealizedPnl: 50,
          dailyPnl: NaN,
          pnl: nl - 100_000,
          commission: 1.015,
        }, [{
          symbol: "A",
          quantity: 10,
          avgCost: 101.5,
          marketPrice: 106.6,
          marketValue: 1066,
          unrealizedPnl: 51,
          realizedPnl: 0,
          pnl: 51,
        }]);
      }
      const curve = await readAccountCurve(store, runId);
      assert.deepEqual(curve.map((c) => [c.bar, c.netLiquidation, c.pnl]), [
        [BAR, 100_000, 0],
        [NEXT, 100_050, 50],
      ]);
      assert.ok(Number.isNaN(curve[0].dailyPnl), "an unknown value reads back as NaN");
      const pos = await readPositions(store, runId);
      assert.equal(pos.bar, NEXT);
      assert.deepEqual(pos.positions.map((p) => [p.symbol, p.quantity, p.pnl]), [["A", 10, 51]]);

      await recordRiskDecisions(store, [{
        runId,
        bar: BAR,
        ref: "tt:1:b",
        symbol: "B",
        allowed: false,
        rule: "maxOrderNotional",
        reason: "notional 60,000 > 50,000",
        tradingState: "active",
      }]);
      const [d] = await readRiskDecisions(store, runId);
      assert.deepEqual([d.allowed, d.rule], [false, "maxOrderNotional"]);

      await savePaperState(store, "PAPER-T", { version: 1, cash: 5 });
      await savePaperState(store, "PAPER-T", { version: 1, cash: 6 });
      assert.deepEqual(await loadPaperState(store, "PAPER-T"), { version: 1, cash: 6 });
      assert.equal(await loadPaperState(store, "NOPE"), null);
    } finally {
      await store.close();
    }
  });

  Deno.test(`execution_repo on ${factory.name}: the kill switch per model`, async () => {
    const store = await factory.open();
    try {
      const { id } = await registerModel(store, { name: "m", path: "/tmp/m", config: {} });
      assert.equal((await readTradingHalt(store, Number(id))).halted, false);
      await setTradingHalt(store, Number(id), true, "manual");
      assert.deepEqual(
        [
          (await readTradingHalt(store, Number(id))).halted,
          (await readTradingHalt(store, Number(id))).reason,
        ],
        [true, "manual"],
      );
      await setTradingHalt(store, Number(id), false);
      assert.equal((await readTradingHalt(store, Number(id))).halted, false);
    } finally {
      await store.close();
    }
  });
}
