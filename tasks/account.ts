/**
 * `deno task account`: the book and the P&L of a trading run, from the store: positions
 * at the latest recorded bar (quantity, average cost, mark, value, unrealised, realised
 * and the bar's P&L), the account (net liquidation, cash, gross exposure, buying power),
 * the P&L of the last bar and since the start, the trading state and the order counts.
 *
 * @module
 */
import {
  listTradingRuns,
  openStore,
  readAccountCurve,
  readPositions,
  readTradingHalt,
  readTradingRun,
  TRADING_MODES,
  type TradingRunRecord,
} from "@lib/db/mod.ts";
import { orderCounts, resolveModel } from "@lib/pipeline/mod.ts";
import {
  type CommandSpec,
  DB_URL_OPTION,
  numberArg,
  parseCommand,
  runTask,
  UsageError,
} from "@lib/util/mod.ts";

const SPEC: CommandSpec = {
  name: "account",
  summary:
    "Prints the positions, account values and P&L of a trading run (deno task trade) from the store: " +
    "the latest run of --model (optionally of one --mode), or --run ID.",
  options: {
    model: { type: "string", valueName: "ID|NAME@vN|DIR", description: "The model" },
    run: { type: "string", valueName: "ID", description: "A trading run id (instead of --model)" },
    mode: {
      type: "string",
      valueName: "MODE",
      description: "Only runs of this mode",
      choices: TRADING_MODES,
    },
    "db-url": DB_URL_OPTION,
    json: { type: "boolean", description: "Print one JSON line" },
  },
  examples: [
    "deno task account --model 1",
    "deno task account --model 1 --mode paper --json",
    "deno task account --run 4",
  ],
};

const money = (x: number) =>
  Number.isFinite(x) ? x.toLocaleString("en-US", { maximumFractionDigits: 2 }) : "n/a";

async function main() {
  const args = parseCommand(SPEC);
  const runArg = numberArg(args, "run", { min: 1, integer: true });
  if (runArg === undefined && typeof args.model !== "string") {
    throw new UsageError("--model ID or --run ID is required (see deno task account --help)");
  }
  const store = await openStore({ url: args["db-url"] as string | undefined });
  try {
    let run: TradingRunRecord | null;
    if (runArg !== undefined) {
      run = await readTradingRun(store, runArg);
      if (!run) throw new UsageError(`No trading run ${runArg} in ${store.description}`);
    } else {
      const saved = await resolveModel(store, args.model as string);
      const id = saved.manifest.modelId;
      if (id === undefined || id === null) {
        throw new UsageError(`Model ${args.model} is not registered in ${store.description}`);
      }
      run = (await listTradingRuns(store, { modelId: id }))
        .find((r) => args.mode === undefined || r.mode === args.mode) ?? null;
      if (!run) {
        throw new UsageError(
          `Model ${id} has no ${
            args.mode ?? ""
          } trading run yet: start one with deno task trade --model ${id}`,
        );
      }
    }
    const curve = await readAccountCurve(store, run.id);
    const { bar, positions } = await readPositions(store, run.id);
    const last = curve[curve.length - 1];
    const first = curve[0];
    const orders = await orderCounts(store, run.id);
    const halt = run.modelId === null ? null : await readTradingHalt(store, run.modelId);
    const summary = {
      runId: run.id,
      modelId: run.modelId,
      mode: run.mode,
      broker: run.brokerKind,
      accountId: run.accountId,
      status: run.status,
      tradingState: run.tradingState,
      stateReason: run.stateReason,
      manualHalt: halt?.halted ?? false,
      bar: bar === null ? null : new Date(bar).toISOString().slice(0, 10),
      account: last ?? null,
      pnl: last
        ? { bar: last.pnl, daily: last.dailyPnl, total: last.netLiquidation - first.netLiquidation }
        : null,
      positions,
      orders,
    };
    if (args.json) {
      console.log(JSON.stringify(summary));
      return;
    }
    console.log(
      `run ${run.id} (${run.mode}, ${run.brokerKind} ${run.accountId}, model ${
        run.modelId ?? "?"
      }) ` +
        `${run.status}, trading ${run.tradingState}${
          run.stateReason ? ` (${run.stateReason})` : ""
        }` +
        (halt?.halted ? ", KILL SWITCH ON" : ""),
    );
    if (!last) {
      console.log("  no bar recorded yet");
      return;
    }
    console.log(
      `  at ${summary.bar}: net liquidation ${money(last.netLiquidation)}, cash ${
        money(last.cash)
      }, ` +
        `gross ${money(last.grossPositionValue)}, buying power ${money(last.buyingPower)}`,
    );
    console.log(
      `  P&L: bar ${money(last.pnl)}, day ${money(last.dailyPnl)}, since start ${
        money(last.netLiquidation - first.netLiquidation)
      }`,
    );
    const w = [8, 12, 12, 12, 14, 14, 14, 12];
    const head = [
      "symbol",
      "quantity",
      "avg cost",
      "mark",
      "value",
      "unrealised",
      "realised",
      "bar P&L",
    ];
    console.log("  " + head.map((h, i) => (i === 0 ? h.padEnd(w[i]) : h.padStart(w[i]))).join(""));
    for (const p of positions) {
      const cells = [
        p.symbol,
        String(p.quantity),
        money(p.avgCost),
        money(p.marketPrice),
        money(p.marketValue),
        money(p.unrealizedPnl),
        money(p.realizedPnl),
        money(p.pnl),
      ];
      console.log(
        "  " + cells.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join(""),
      );
    }
    console.log(
      `  orders: sent ${orders.sent}, filled ${orders.filled}, rejected ${orders.rejected}, ` +
        `cancelled ${orders.cancelled}, blocked ${
          Object.entries(orders.blocked).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`)
            .join(", ") || "none"
        }`,
    );
  } finally {
    await store.close();
  }
}

if (import.meta.main) await runTask(main);
