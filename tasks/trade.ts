/**
 * `deno task trade`: trades a saved model through a broker on the one trading cycle
 * (`lib/execution/cycle.ts`): a historical replay bar by bar through the paper broker
 * (`--start`/`--end`), or one live paper cycle on the newest stored bars (no dates; the
 * paper account's state is kept in the store between runs, for a daily schedule), and
 * the manual kill switch (`--halt`, `--resume-trading`). `--broker ibkr` is a
 * constructor choice (`TradeOptions.makeBroker`), wired with the IBKR broker.
 *
 * @module
 */
import { openStore } from "@lib/db/mod.ts";
import { FEE_MODELS, type FeeModel } from "@lib/env/mod.ts";
import { PAPER_ACCOUNT_TYPES, type PaperAccountType } from "@lib/execution/mod.ts";
import {
  BACKEND_NAMES,
  type BackendName,
  cycleSummary,
  type EvaluationCosts,
  replaySummary,
  replayTrading,
  setModelTradingHalt,
  tradeOnce,
  type TradeOptions,
  UniverseMismatchError,
} from "@lib/pipeline/mod.ts";
import {
  type CommandSpec,
  DB_URL_OPTION,
  listArg,
  numberArg,
  parseCommand,
  Progress,
  runTask,
  UsageError,
} from "@lib/util/mod.ts";

const SPEC: CommandSpec = {
  name: "trade",
  summary:
    "Trades a saved model through a broker with the same decision and order logic in every mode. " +
    "With --start (and --end): a historical replay bar by bar through the paper broker; its equity " +
    "follows `deno task evaluate` over the same range and costs within whole-share rounding. Without " +
    "dates: one live paper cycle on the newest stored bars (run it once a day; the paper account is " +
    "kept in the store). Before trading the broker's positions and open orders are reconciled with " +
    "the store; a mismatch halts with a report. --halt / --resume-trading set the model's kill switch. " +
    "--watch (repeat at each new bar) is not implemented yet: schedule the command instead.",
  options: {
    model: {
      type: "string",
      valueName: "ID|NAME@vN|DIR",
      description: "The model (required)",
    },
    broker: {
      type: "string",
      valueName: "NAME",
      description: "Broker",
      choices: ["paper", "ibkr"],
      default: "paper",
    },
    start: { type: "string", valueName: "DATE", description: "Replay: first date" },
    end: {
      type: "string",
      valueName: "DATE",
      description: "Replay: last date (default: last bar)",
    },
    symbols: {
      type: "string",
      valueName: "A,B",
      description: "Instruments (per-asset models: any; mlp: the model's)",
    },
    account: { type: "string", valueName: "ID", description: "Broker account id" },
    "dry-run": { type: "boolean", description: "Record the orders, send nothing" },
    fractional: { type: "boolean", description: "Paper: fractional shares (default whole)" },
    "account-type": {
      type: "string",
      valueName: "KIND",
      description: "Paper account: margin (shorts, leverage 2) or cash",
      choices: PAPER_ACCOUNT_TYPES,
      default: "margin",
    },
    "max-volume-share": {
      type: "string",
      valueName: "F",
      description: "Paper: largest share of a bar's volume one order fills in it",
      default: "0.1",
    },
    "cost-bps": {
      type: "string",
      valueName: "BPS",
      description: "Commission, bps of notional",
      default: "10",
    },
    "slippage-bps": {
      type: "string",
      valueName: "BPS",
      description: "Slippage, bps of notional",
      default: "5",
    },
    "fee-model": {
      type: "string",
      valueName: "NAME",
      description: "Commission schedule",
      choices: FEE_MODELS,
      default: "bps",
    },
    "impact-k": {
      type: "string",
      valueName: "K",
      description: "Square-root impact coefficient",
      default: "0",
    },
    backend: {
      type: "string",
      valueName: "NAME",
      description: "Network backend (default: the trained one)",
      choices: BACKEND_NAMES,
    },
    halt: { type: "boolean", description: "Set the model's kill switch: nothing goes out" },
    "resume-trading": { type: "boolean", description: "Clear the kill switch (and halted runs)" },
    reason: { type: "string", valueName: "TEXT", description: "Why (with --halt)" },
    watch: { type: "boolean", description: "Repeat at each new bar (not implemented yet)" },
    "db-url": DB_URL_OPTION,
    json: { type: "boolean", description: "Print one JSON line" },
  },
  examples: [
    "deno task trade --model 1 --broker paper --start 2017-01-03 --end 2018-05-11 --json",
    "deno task trade --model 1 --broker paper",
    "deno task trade --model 1 --halt --reason 'broker maintenance'",
    "deno task trade --model 1 --resume-trading",
  ],
};

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const money = (x: number) => x.toLocaleString("en-US", { maximumFractionDigits: 0 });
const pct = (x: number | null | undefined) =>
  x === null || x === undefined || !Number.isFinite(x) ? "n/a" : `${(x * 100).toFixed(2)} %`;

function blockedText(b: Record<string, number>): string {
  const e = Object.entries(b);
  return e.length ? e.map(([k, v]) => `${k} ${v}`).join(", ") : "none";
}

async function main() {
  const args = parseCommand(SPEC);
  const model = typeof args.model === "string" ? args.model : undefined;
  if (!model) throw new UsageError("--model ID is required (see deno task trade --help)");
  for (const k of ["start", "end"]) {
    const v = args[k];
    if (typeof v === "string" && !DATE.test(v)) {
      throw new UsageError(`--${k} must be a date YYYY-MM-DD; got "${v}"`);
    }
  }
  if (args.end && !args.start) throw new UsageError("--end needs --start (a replay range)");
  if (args.watch) {
    throw new UsageError(
      "--watch is not implemented yet: run `deno task trade --model ID` once per new bar (cron)",
    );
  }
  if (args.halt && args["resume-trading"]) {
    throw new UsageError("--halt and --resume-trading contradict each other: give one");
  }
  if (args.broker === "ibkr") {
    throw new UsageError(
      "--broker ibkr is not wired in this build yet (TradeOptions.makeBroker takes the IBKR broker); use --broker paper",
    );
  }
  const store = await openStore({ url: args["db-url"] as string | undefined });
  try {
    if (args.halt || args["resume-trading"]) {
      const halted = args.halt === true;
      const id = await setModelTradingHalt(store, model, halted, args.reason as string | undefined);
      const line = { modelId: id, halted };
      console.log(
        args.json ? JSON.stringify(line) : `model ${id}: trading ${halted ? "HALTED" : "resumed"}`,
      );
      return;
    }
    const costs: EvaluationCosts = {
      costPerTurnBps: numberArg(args, "cost-bps", { min: 0 }),
      slippageBps: numberArg(args, "slippage-bps", { min: 0 }),
      impactK: numberArg(args, "impact-k", { min: 0 }),
      feeModel: args["fee-model"] as FeeModel,
    };
    const options: TradeOptions = {
      model,
      symbols: listArg(args.symbols),
      backend: args.backend as BackendName | undefined,
      costs,
      accountId: args.account as string | undefined,
      dryRun: args["dry-run"] === true,
      fractional: args.fractional === true,
      accountType: args["account-type"] as PaperAccountType,
      maxVolumeShare: numberArg(args, "max-volume-share", { min: 0 }),
    };
    const usage = (e: unknown): never => {
      if (e instanceof UniverseMismatchError) throw new UsageError(e.message);
      throw e;
    };
    if (typeof args.start === "string") {
      const bar = new Progress("replay", { unit: "bars", silent: args.json === true });
      const r = await replayTrading(store, {
        ...options,
        start: args.start,
        end: args.end as string | undefined,
        onProgress: (done, total, ts) => {
          bar.setTotal(total);
          bar.tick(1, new Date(ts).toISOString().slice(0, 10));
          if (done === total) bar.finish();
        },
      }).catch(usage);
      if (args.json) {
        console.log(JSON.stringify(replaySummary(r)));
        return;
      }
      const o = r.orders;
      console.log(
        `replay run ${r.runId} of model ${r.model.manifest.modelId ?? r.model.dir} on ${
          r.instruments.join(", ")
        } ${r.range.start}..${r.range.end}: ` +
          `orders sent ${o.sent}, filled ${o.filled}, rejected ${o.rejected}, blocked ${
            blockedText(o.blocked)
          }; ` +
          `turnover/yr ${pct(r.metrics.annualizedTurnover)}, costs ${
            money(r.costsPaid.commission + r.costsPaid.slippage)
          }, ` +
          `return ${pct(r.metrics.totalReturn)}, Sharpe ${
            r.metrics.sharpe?.toFixed(2) ?? "n/a"
          }, equity ${money(r.equity[r.equity.length - 1])}` +
          (r.tradingState !== "active"
            ? ` — ${r.tradingState.toUpperCase()}: ${r.stateReason}`
            : ""),
      );
      return;
    }
    const r = await tradeOnce(store, options).catch(usage);
    if (args.json) {
      console.log(JSON.stringify(cycleSummary(r)));
      return;
    }
    const c = r.cycle;
    const o = r.orders;
    console.log(
      `${r.mode} cycle of run ${r.runId} (${r.accountId}) at ${
        new Date(c.bar).toISOString().slice(0, 10)
      }: ` +
        (c.reconciliation.ok
          ? ""
          : `RECONCILIATION FAILED (${c.reconciliation.differences.join("; ")}); `) +
        `orders planned ${c.planned.length}, sent ${o.sent}, rejected ${o.rejected}, blocked ${
          blockedText(o.blocked)
        }` +
        (c.alreadyKnown.length ? `, already at the broker ${c.alreadyKnown.length}` : "") +
        `; equity ${money(c.equity)}, cash ${money(c.account.cash)}` +
        (c.tradingState !== "active" ? ` — ${c.tradingState.toUpperCase()}: ${c.stateReason}` : ""),
    );
  } finally {
    await store.close();
  }
}

if (import.meta.main) await runTask(main);
