// Source of notebooks/09_paper_trading.ipynb (build: deno run -A notebooks/_build.ts).
/// <reference lib="deno.unstable" />

// %% [markdown]
// # 09 · Paper trading: the replay follows `evaluate`, orders in the store, risk limits, the kill switch
//
// A saved model trades through a **broker** with the same decision code as `evaluate`: at each
// close the trading cycle (`runTradingCycle`, `lib/execution/cycle.ts`) observes exactly as the
// env does, turns the policy's target weights into whole-share orders, runs the **risk
// overlays**, sends what passes and records orders, fills, positions and the account per bar.
// `replayTrading` runs it bar by bar over history against the `PaperBroker`; `tradeOnce` runs one
// live cycle on the newest bars (`deno task trade --model ID --broker paper`), computing the
// features over the newest bars only.
//
// The two differ from the simulator in one way, on purpose: the cycle sizes orders at the
// decision close (what a trader knows when the order goes out), the simulator at the execution
// bar. So the replay's equity **follows** evaluate's, within that and whole-share rounding.

// %%
import pl from "nodejs-polars";
import {
  readAccountCurve,
  readFills,
  readOrders,
  readPositions,
  readRiskDecisions,
} from "@lib/db/mod.ts";
import { ingestSample } from "@lib/data/mod.ts";
import { applyRiskOverlays, DEFAULT_RISK_LIMITS, type OrderRequest } from "@lib/execution/mod.ts";
import { listModelSummaries } from "@lib/models/mod.ts";
import {
  evaluateModel,
  openSampleStore,
  replayTrading,
  setModelTradingHalt,
  storedRanges,
  tradeOnce,
  trainModel,
} from "@lib/pipeline/mod.ts";
import { equityChart, showChart, showTable } from "@lib/viz/mod.ts";

// %%
// The notebooks' own store and models (data/notebooks/…), never yours (01_ingest explains it).
const { store, modelsDir } = await openSampleStore("notebooks");
const stored = new Set((await storedRanges(store)).map((r) => r.instrument));
if (!stored.has("AAPL") || !stored.has("SPX")) await ingestSample(store, { silent: true });

// %% [markdown]
// ## A tiny model
//
// 2048 steps on AAPL and SPX 2013–2016 (far too few to trade; enough to have orders to look at).
// A second run of the notebook reuses it.

// %%
const name = "paper-demo";
let [summary] = await listModelSummaries(store, { name });
if (!summary) {
  await trainModel(store, {
    name,
    symbols: ["AAPL", "SPX"],
    start: "2013-05-13",
    end: "2016-12-30",
    featureSet: "basic",
    policy: "mlp",
    steps: 2048,
    seed: 3,
    ppo: { nSteps: 64 },
    modelsDir,
  });
  [summary] = await listModelSummaries(store, { name });
}
const model = String(summary.id);
console.log(`model ${model} = ${summary.name}@v${summary.version}`);

// %% [markdown]
// ## Evaluate, then replay through the paper broker
//
// The same range and costs (the evaluator's defaults: 10 bps commission + 5 bps slippage,
// 1,000,000 of cash). The paper broker fills each order at the next bar's open, as the env does.

// %%
const range = { start: "2017-01-03", end: "2018-05-11" };
const ev = await evaluateModel(store, { model, ...range, logBenchmark: false });
const replay = await replayTrading(store, { model, ...range });
const gaps = replay.equity.map((x, i) => Math.abs(x / ev.trace.netWorth[i] - 1));
const worst = gaps.indexOf(Math.max(...gaps));
console.log(
  `same bars: ${replay.timestamps.join() === ev.trace.equityTimestamps.join()}; ` +
    `largest gap ${(gaps[worst] * 100).toFixed(3)} % on ${new Date(replay.timestamps[worst]).toISOString().slice(0, 10)}; ` +
    `final equity ${replay.equity.at(-1)!.toFixed(2)} (replay) vs ${ev.trace.netWorth.at(-1)!.toFixed(2)} (evaluate)`,
);
await showTable(pl.readRecords([
  { series: "evaluate", totalReturn: ev.comparison.strategy.totalReturn, sharpe: ev.comparison.strategy.sharpe, maxDrawdown: ev.comparison.strategy.maxDrawdown, turnover: ev.comparison.strategy.turnover },
  { series: "paper replay", totalReturn: replay.metrics.totalReturn, sharpe: replay.metrics.sharpe, maxDrawdown: replay.metrics.maxDrawdown, turnover: replay.metrics.turnover },
]));

// %%
await showChart(equityChart({
  strategy: { name: "paper replay", timestamps: replay.timestamps, equity: replay.equity },
  benchmark: { name: "evaluate", timestamps: ev.trace.equityTimestamps, equity: ev.trace.netWorth },
  title: "Replay through the paper broker vs evaluate (growth of 1)",
}));

// %% [markdown]
// ## Orders, fills and positions in the store
//
// Every order carries a deterministic reference `tt:<run>:<decision bar>:<symbol>` (a rerun
// after a crash finds it known and never sends it twice). Fills are recorded once per
// execution id; positions and the account are kept per bar (`deno task account` prints them).

// %%
const orders = await readOrders(store, replay.runId);
console.log(`run ${replay.runId}: ${orders.length} orders`, JSON.stringify(replay.orders));
await showTable(pl.readRecords(orders.slice(0, 6).map((o) => ({
  ref: o.ref,
  side: o.side,
  quantity: o.quantity,
  type: o.type,
  status: o.status,
  filled: o.filled ?? 0,
  avgPrice: o.avgPrice ?? NaN,
}))));

// %%
const fills = await readFills(store, replay.runId);
await showTable(pl.readRecords(fills.slice(0, 6).map((f) => ({
  time: new Date(f.time).toISOString().slice(0, 10),
  symbol: f.symbol,
  side: f.side,
  quantity: f.quantity,
  price: f.price,
  commission: f.commission,
  slippage: f.slippage,
}))));
const book = await readPositions(store, replay.runId);
console.log(`positions at ${new Date(book.bar!).toISOString().slice(0, 10)}:`);
await showTable(pl.readRecords(book.positions.map((p) => ({
  symbol: p.symbol,
  quantity: p.quantity,
  avgCost: p.avgCost,
  marketValue: p.marketValue,
  unrealizedPnl: p.unrealizedPnl,
  realizedPnl: p.realizedPnl,
}))));
const curve = await readAccountCurve(store, replay.runId);
console.log(`account curve: ${curve.length} bars, last net liquidation ${curve.at(-1)!.netLiquidation.toFixed(2)}`);

// %% [markdown]
// ## A risk limit blocks an order
//
// The overlays (`applyRiskOverlays`, `lib/execution/risk.ts`) see each order with the account
// and decide: pass, adjust, or block with the rule and a reason. One order on its own first
// (over a notional limit), then a replay whose overlay lets one order a day through
// (`maxOrdersPerDay: 1`): the day's second order is blocked and stored with its rule.

// %%
const order: OrderRequest = { ref: "tt:0:201801020000:AAPL", symbol: "AAPL", side: "BUY", quantity: 600, type: "MOO" };
const verdict = applyRiskOverlays([order], {
  time: Date.UTC(2018, 0, 2, 21),
  equity: 1_000_000,
  peakEquity: 1_000_000,
  dayStartEquity: 1_000_000,
  positions: {},
  lastClose: { AAPL: 172.26 },
  ordersToday: 0,
  recentOrderTimes: [],
  state: "active",
  manualHalt: false,
}, { maxOrderNotional: 50_000 });
console.log(verdict.decisions[0].allowed, verdict.decisions[0].rule, "·", verdict.decisions[0].reason);

// %%
const limited = await replayTrading(store, {
  model,
  start: "2018-01-02",
  end: "2018-05-11",
  accountId: "PAPER-LIMITS",
  risk: { ...DEFAULT_RISK_LIMITS, maxOrdersPerDay: 1 },
});
console.log("blocked per rule:", JSON.stringify(limited.orders.blocked), "· sent:", limited.orders.sent);
await showTable(pl.readRecords((await readRiskDecisions(store, limited.runId)).filter((d) => !d.allowed).slice(0, 4).map((d) => ({
  bar: new Date(d.bar).toISOString().slice(0, 10),
  symbol: d.symbol,
  rule: d.rule ?? "",
  reason: d.reason,
}))));

// %% [markdown]
// ## The kill switch
//
// `deno task trade --model ID --halt` sets the model's manual halt: every run of the model then
// sends nothing; each order it would have sent is recorded as blocked by `manualHalt`. One live paper
// cycle on the newest bars shows it (a fresh paper account, so the notebook can run again), then
// trading is resumed (`--resume-trading`).

// %%
await setModelTradingHalt(store, model, true, "notebook: kill switch");
const halted = await tradeOnce(store, { model, accountId: `PAPER-HALT-${Date.now()}` });
console.log(
  `bar ${new Date(halted.cycle.bar).toISOString().slice(0, 10)}: state ${halted.cycle.tradingState} ` +
    `(${halted.cycle.stateReason}); sent ${halted.cycle.sent.length}, blocked ${halted.cycle.blocked.length}: ` +
    JSON.stringify(halted.orders.blocked),
);
await setModelTradingHalt(store, model, false);
await store.close();
