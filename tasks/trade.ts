/**
 * `deno task trade`: trades a saved model through a broker on the one trading cycle
 * (`lib/execution/cycle.ts`): a historical replay bar by bar through the paper broker
 * (`--start`/`--end`), or one live paper cycle on the newest stored bars (no dates; the
 * paper account's state is kept in the store between runs, for a daily schedule), and
 * the manual kill switch (`--halt`, `--resume-trading`). `--broker ibkr` is a
 * constructor choice (`TradeOptions.makeBroker` → `IbkrBroker.connect`): the same cycle
 * routes to TWS / IB Gateway (or `deno task fake-gateway`). `--watch` repeats the live
 * cycle at each new bar. Risk limits: `DEFAULT_RISK_LIMITS`, then `--risk FILE.json`, then
 * the limit flags.
 *
 * Test hook: `TT_TRADE_KILL_AT=STEP[:N]` (`planned`, `submitted:N`, `recorded`) makes the
 * process kill itself with SIGKILL at that step of the cycle (the kill -9 test).
 *
 * @module
 */
import { openStore, type Store } from "@lib/db/mod.ts";
import {
  describeTriggerRetraining,
  parseTriggerList,
  type TriggerList,
  triggerRetraining,
  triggersSummary,
} from "@lib/jobs/mod.ts";
import { lookupModel } from "@lib/models/mod.ts";
import { FEE_MODELS, type FeeModel } from "@lib/env/mod.ts";
import {
  CYCLE_STEPS,
  type CycleInput,
  DEFAULT_RISK_LIMITS,
  describeRiskLimits,
  IbkrBroker,
  LiveAccountRefusedError,
  PAPER_ACCOUNT_TYPES,
  type PaperAccountType,
  parseRiskLimits,
  type RiskLimits,
} from "@lib/execution/mod.ts";
import {
  BACKEND_NAMES,
  type BackendName,
  cycleSummary,
  type EvaluationCosts,
  replayShadow,
  replaySummary,
  replayTrading,
  setModelTradingHalt,
  shadowSummary,
  tradeOnce,
  type TradeOnceResult,
  type TradeOptions,
  tradeShadowOnce,
  UniverseMismatchError,
  watchTrading,
} from "@lib/pipeline/mod.ts";
import {
  type CommandSpec,
  DB_URL_OPTION,
  listArg,
  numberArg,
  parseCommand,
  type ParsedArgs,
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
    "dates: one live cycle on the newest stored bars (run it once a day, or --watch), through the " +
    "paper broker (its account is kept in the store) or IB (--broker ibkr --port 4002; a live " +
    "account is refused unless --live and --account name it). Before trading the broker's positions " +
    "and open orders are reconciled with the store; a mismatch halts with a report. Every order " +
    "passes the risk overlays (defaults: price band ±10 %, gross exposure ≤ 2×; --risk FILE.json " +
    "and the limit flags change them); a blocked order is recorded with its rule. --halt / " +
    "--resume-trading set the model's kill switch.",
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
    account: {
      type: "string",
      valueName: "ID",
      description: "Broker account id (IB: the account to trade; required with --live)",
    },
    "dry-run": { type: "boolean", description: "Print and record the orders, send nothing" },
    port: { type: "string", valueName: "N", description: "IB: API port (4002 paper gateway)" },
    host: {
      type: "string",
      valueName: "HOST",
      description: "IB: TWS / Gateway host",
      default: "127.0.0.1",
    },
    "client-id": { type: "string", valueName: "N", description: "IB: API client id", default: "1" },
    live: {
      type: "boolean",
      description: "IB: allow a live (real-money) account (with --account)",
    },
    risk: {
      type: "string",
      valueName: "FILE",
      description: "Risk limits as JSON (RiskLimits fields; null turns a default off)",
    },
    "max-order-notional": {
      type: "string",
      valueName: "USD",
      description: "Risk: largest order notional",
    },
    "max-position-weight": {
      type: "string",
      valueName: "F",
      description: "Risk: largest |position| / equity after the trade",
    },
    "max-gross": {
      type: "string",
      valueName: "X",
      description: "Risk: largest gross exposure / equity (default 2)",
    },
    "max-orders-per-day": { type: "string", valueName: "N", description: "Risk: orders per day" },
    "max-orders-per-second": {
      type: "string",
      valueName: "N",
      description: "Risk: orders per second",
    },
    "price-band": {
      type: "string",
      valueName: "F",
      description: "Risk: largest |price − last close| / last close (default 0.1)",
    },
    "daily-loss-limit": {
      type: "string",
      valueName: "F",
      description: "Risk: day's loss fraction that switches to reducing",
    },
    "max-drawdown": {
      type: "string",
      valueName: "F",
      description: "Risk: drawdown from the peak that halts",
    },
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
    shadow: {
      type: "string",
      valueName: "REF",
      description:
        "A/B: a challenger deciding on the same bars in its own paper book (never sent to IB)",
    },
    split: {
      type: "string",
      valueName: "F",
      description: "A/B in paper: the champion's share of capital (the challenger gets the rest)",
    },
    watch: { type: "boolean", description: "Live: repeat the cycle at each new bar until SIGINT" },
    poll: {
      type: "string",
      valueName: "S",
      description: "With --watch: seconds between looks for a new bar",
      default: "60",
    },
    triggers: {
      type: "string",
      valueName: "LIST",
      description:
        "Live: after the cycle evaluate the model's retraining rules (every=N, feature-drift, performance-drift, " +
        "auto-promote; job windows train-bars=N, holdout-bars=N, steps=N) and enqueue the retraining when one " +
        "fires: on a PostgreSQL server for deno task worker, on PGlite run here (see deno task models triggers)",
    },
    "db-url": DB_URL_OPTION,
    json: { type: "boolean", description: "Print one JSON line" },
  },
  examples: [
    "deno task trade --model 1 --broker paper --start 2017-01-03 --end 2018-05-11 --json",
    "deno task trade --model 1 --broker paper",
    "deno task trade --model 1 --broker paper --max-drawdown 0.2 --max-order-notional 50000",
    "deno task trade --model 1 --broker ibkr --port 4002 --dry-run",
    "deno task trade --model 1 --broker ibkr --port 4001 --live --account U1234567",
    "deno task trade --model 1 --watch --poll 300",
    "deno task trade --model 1 --halt --reason 'broker maintenance'",
    "deno task trade --model 1 --resume-trading",
    "deno task trade --model ppo@champion --shadow ppo@challenger --start 2017-01-03 --json",
    "deno task trade --model ppo@champion --shadow ppo@challenger --split 0.8",
  ],
};

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const money = (x: number) => x.toLocaleString("en-US", { maximumFractionDigits: 0 });
const pct = (x: number | null | undefined) =>
  x === null || x === undefined || !Number.isFinite(x) ? "n/a" : `${(x * 100).toFixed(2)} %`;

function blockedText(b: Record<string, number>): string {
  const e = Object.entries(b).filter(([, v]) => v > 0);
  return e.length ? e.map(([k, v]) => `${k} ${v}`).join(", ") : "none";
}

const LIMIT_FLAGS: [flag: string, key: keyof RiskLimits][] = [
  ["max-order-notional", "maxOrderNotional"],
  ["max-position-weight", "maxPositionWeight"],
  ["max-gross", "maxGrossExposure"],
  ["max-orders-per-day", "maxOrdersPerDay"],
  ["max-orders-per-second", "maxOrdersPerSecond"],
  ["price-band", "priceBand"],
  ["daily-loss-limit", "dailyLossLimit"],
  ["max-drawdown", "maxDrawdown"],
];

/** `DEFAULT_RISK_LIMITS`, then `--risk FILE.json`, then the limit flags. */
async function riskLimits(args: Record<string, unknown>): Promise<RiskLimits> {
  let limits: RiskLimits = { ...DEFAULT_RISK_LIMITS };
  const file = args.risk;
  if (typeof file === "string") {
    let json: unknown;
    try {
      json = JSON.parse(await Deno.readTextFile(file));
    } catch (e) {
      throw new UsageError(
        `--risk ${file}: cannot read it as JSON (${e instanceof Error ? e.message : e})`,
      );
    }
    limits = usageOf(() => parseRiskLimits(json, file, limits));
  }
  const flags: Record<string, number> = {};
  for (const [flag, key] of LIMIT_FLAGS) {
    const v = numberArg(args as Parameters<typeof numberArg>[0], flag);
    if (v !== undefined) flags[key] = v;
  }
  return usageOf(() => parseRiskLimits(flags, "the risk flags", limits));
}

function usageOf<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof TypeError || e instanceof RangeError) throw new UsageError(e.message);
    throw e;
  }
}

/** `TT_TRADE_KILL_AT=STEP[:N]`: SIGKILL this process at that cycle step (tests). */
function killHook(): CycleInput["onStep"] | undefined {
  const at = Deno.env.get("TT_TRADE_KILL_AT");
  if (!at) return undefined;
  const [step, n] = at.split(":");
  if (!(CYCLE_STEPS as readonly string[]).includes(step) || (n !== undefined && !(+n >= 1))) {
    throw new UsageError(
      `TT_TRADE_KILL_AT must be STEP[:N] with STEP one of ${CYCLE_STEPS.join(", ")}; got "${at}"`,
    );
  }
  return (s, d) => {
    if (s === step && d.count >= (n === undefined ? 0 : Number(n))) {
      Deno.kill(Deno.pid, "SIGKILL");
    }
  };
}

function cycleLine(r: TradeOnceResult): string {
  const c = r.cycle;
  const o = r.orders;
  return `${r.mode} cycle of run ${r.runId} (${r.accountId}) at ${
    new Date(c.bar).toISOString().slice(0, 10)
  }: ` +
    (c.reconciliation.ok
      ? ""
      : `RECONCILIATION FAILED (${c.reconciliation.differences.join("; ")}); `) +
    `orders planned ${c.planned.length}, sent ${o.sent}, filled ${o.filled}, rejected ${o.rejected}, ` +
    `blocked ${blockedText(o.blocked)}` +
    (o.dryRun ? `, dry run ${o.dryRun} (nothing sent)` : "") +
    (c.alreadyKnown.length ? `, already at the broker ${c.alreadyKnown.length}` : "") +
    (c.reconciliation.newFills ? `, fills recorded ${c.reconciliation.newFills}` : "") +
    `; equity ${money(c.equity)}, cash ${money(c.account.cash)}` +
    (c.tradingState !== "active" ? ` — ${c.tradingState.toUpperCase()}: ${c.stateReason}` : "");
}

function printDryRun(r: TradeOnceResult): void {
  const c = r.cycle;
  console.log(`dry run: ${c.outgoing.length} orders would go out (none sent):`);
  for (const o of c.outgoing) {
    console.log(
      `  ${o.side.padEnd(4)} ${String(o.quantity).padStart(8)} ${
        o.symbol.padEnd(6)
      } ${o.type}  ${o.ref}`,
    );
  }
  for (const b of c.blocked) console.log(`  blocked ${b.order.ref}: ${b.reason}`);
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
  if (args.watch && args.start) {
    throw new UsageError("--watch repeats the live cycle: it takes no --start/--end");
  }
  if (args.halt && args["resume-trading"]) {
    throw new UsageError("--halt and --resume-trading contradict each other: give one");
  }
  const ibkr = args.broker === "ibkr";
  const port = numberArg(args, "port", { min: 1, max: 65535, integer: true });
  const clientId = numberArg(args, "client-id", { min: 0, integer: true });
  if (ibkr && port === undefined && !args.halt && !args["resume-trading"]) {
    throw new UsageError("--broker ibkr needs --port (4002: IB Gateway paper, 7497: TWS paper)");
  }
  if (ibkr && args.start) {
    throw new UsageError("a replay (--start) runs through the paper broker; drop --broker ibkr");
  }
  if (!ibkr && (args.live || port !== undefined)) {
    throw new UsageError("--port and --live are for --broker ibkr");
  }
  if (args.live && typeof args.account !== "string") {
    throw new UsageError(
      "--live needs --account ID, the live account IB reports (so the wrong account is never traded)",
    );
  }
  let triggers: TriggerList | undefined;
  if (typeof args.triggers === "string") {
    if (args.start || args.shadow || args.halt || args["resume-trading"]) {
      throw new UsageError("--triggers follows a live cycle: drop --start/--shadow/--halt");
    }
    triggers = usageOf(() => parseTriggerList(args.triggers as string));
  }
  const risk = await riskLimits(args);
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
      risk,
      onCycleStep: killHook(),
      makeBroker: ibkr
        ? () =>
          IbkrBroker.connect({
            port: port!,
            host: args.host as string,
            clientId,
            live: args.live === true,
            account: args.account as string | undefined,
            fractional: args.fractional === true,
          })
        : undefined,
    };
    const usage = (e: unknown): never => {
      if (e instanceof UniverseMismatchError || e instanceof LiveAccountRefusedError) {
        throw new UsageError(e.message);
      }
      throw e;
    };
    if (typeof args.shadow === "string") {
      await abTrade(store, options, args, usage);
      return;
    }
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
      if (r.inSampleOverlap.length) {
        console.error(
          `WARNING: IN-SAMPLE replay: ${r.range.start}..${r.range.end} overlaps the model's training ` +
            `range ${r.inSampleOverlap.map((x) => `${x.start}..${x.end}`).join(", ")}; ` +
            `it checks the execution path, not the model's skill`,
        );
      }
      console.log(
        `${r.inSampleOverlap.length ? "IN-SAMPLE " : ""}replay run ${r.runId} of model ${
          r.model.manifest.modelId ?? r.model.dir
        } on ${r.instruments.join(", ")} ${r.range.start}..${r.range.end}: ` +
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
    const url = (args["db-url"] as string | undefined) ??
      (Deno.env.get("DATABASE_URL") || undefined);
    const report = async (r: TradeOnceResult) => {
      const t = triggers ? await retrainAfterCycle(store, r, triggers, url) : undefined;
      if (args.json) {
        console.log(JSON.stringify({ ...cycleSummary(r), ...(t ? { triggers: t.json } : {}) }));
      } else {
        if (options.dryRun) printDryRun(r);
        console.log(cycleLine(r));
        if (t) console.log(`  ${t.line}`);
      }
    };
    if (!args.json) console.error(describeRiskLimits(risk));
    if (args.watch) {
      const pollMs = numberArg(args, "poll", { min: 0.01 })! * 1000;
      const stop = new AbortController();
      const onSignal = () => {
        if (!args.json) console.error("stopping after the current cycle (signal received)");
        stop.abort();
      };
      const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
      for (const sig of signals) Deno.addSignalListener(sig, onSignal);
      try {
        let reported = Promise.resolve();
        const done = await watchTrading(store, options, {
          pollMs,
          signal: stop.signal,
          onCycle: (r) => {
            reported = reported.then(() => report(r));
          },
          onWait: (last) => {
            if (!args.json) {
              console.error(`waiting for the bar after ${last} (every ${pollMs / 1000} s)`);
            }
          },
        }).catch(usage);
        await reported;
        if (!args.json) console.error(`watch stopped after ${done.length} cycles`);
      } finally {
        for (const sig of signals) Deno.removeSignalListener(sig, onSignal);
      }
      return;
    }
    await report(await tradeOnce(store, options).catch(usage));
  } finally {
    await store.close();
  }
}

/** `--triggers`: the model's retraining rules after a live cycle (lib/jobs/retrain_queue.ts). */
async function retrainAfterCycle(
  store: Store,
  r: TradeOnceResult,
  triggers: TriggerList,
  url: string | undefined,
): Promise<{ json: Record<string, unknown>; line: string }> {
  const id = r.model.manifest.modelId;
  if (id === undefined || id === null) {
    throw new UsageError("--triggers needs a registered model (--model ID or NAME@ALIAS)");
  }
  const model = await lookupModel(store, { kind: "id", id });
  const t = await triggerRetraining(store, model, triggers.rules, {
    ...triggers.window,
    run: true,
    url,
  });
  return { json: triggersSummary(t), line: describeTriggerRetraining(t, model.name) };
}

/** `--shadow` (and `--split`): champion and challenger on the same bars (lib/pipeline/shadow.ts). */
async function abTrade(
  store: Awaited<ReturnType<typeof openStore>>,
  options: TradeOptions,
  args: ParsedArgs,
  usage: (e: unknown) => never,
): Promise<void> {
  const split = args.split === undefined ? undefined : numberArg(args, "split", { min: 0, max: 1 });
  if (split !== undefined && !(split > 0 && split < 1)) {
    throw new UsageError(`--split must be strictly between 0 and 1; got ${split}`);
  }
  const ab = { ...options, champion: options.model, challenger: args.shadow as string, split };
  const r = typeof args.start === "string"
    ? await replayShadow(store, { ...ab, start: args.start, end: args.end as string | undefined })
      .catch(usage)
    : await tradeShadowOnce(store, ab).catch(usage);
  if (args.json) {
    console.log(JSON.stringify(shadowSummary(r)));
    return;
  }
  const s = shadowSummary(r);
  const line = (who: string, x: Record<string, unknown>) =>
    `  ${who.padEnd(10)} run ${x.runId} (model ${x.modelId}): equity ${money(Number(x.equity))}`;
  console.log(
    [
      `A/B pair ${r.pair.id} (${r.pair.mode}${split ? ` ${split}/${1 - split}` : ""}):`,
      line("champion", s.champion as Record<string, unknown>),
      line("challenger", s.challenger as Record<string, unknown>),
      `  compare: deno task models compare ${r.pair.championModelId} ${r.pair.challengerModelId}`,
    ].join("\n"),
  );
}

if (import.meta.main) await runTask(main);
