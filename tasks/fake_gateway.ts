/**
 * `deno task fake-gateway`: a loopback TWS / IB Gateway speaking the TWS API wire
 * protocol, serving bars from CSV files (or generated ones), so the IBKR ingest can be
 * tried without an IB account, and orders can be sent to it (`deno task trade --broker ibkr`).
 * Ctrl-C prints its counters (with how often each orderRef arrived) and stops.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { listArg, numberArg, parseCommand, runTask, UsageError } from "@lib/util/mod.ts";
import {
  clockFromEnv,
  type GatewayFaults,
  LoopbackGateway,
  readWatchlist,
  scaledClock,
} from "@lib/data/ibkr/mod.ts";
import { PROJECT_ROOT } from "@lib/util/paths.ts";

const SHARED = join(PROJECT_ROOT, "..", "shared", "data");
const DEFAULT_DATA = [join(SHARED, "daily_sp41"), join(SHARED, "hourly_33")].filter((d) =>
  existsSync(d)
);

const SPEC = {
  name: "fake-gateway",
  summary:
    "A loopback IB Gateway (TWS API protocol, server version 176) for trying `deno task ingest --source ibkr`\n" +
    "without an IB account. Serves daily/hourly bars from CSV files (DA-<SYM>-….csv daily, <SYM>_1h.csv hourly,\n" +
    "<SYM>.csv daily) and deterministic generated bars for any other symbol. Counts pacing violations by IB's rules\n" +
    "(and answers them with error 162, as IB does). Accepts orders (MKT, LMT, MOO = MKT with tif OPG, MOC) and\n" +
    "answers as IB does (openOrder, orderStatus, execDetails, commissionReport, positions, account summary, P&L),\n" +
    "filling from its daily bars as the market moves on (--advance-every); keeps the book while it runs. Can inject\n" +
    "data faults and order faults (rejections, partial fills, a disconnect on an order, duplicate ids, delayed fills).",
  options: {
    port: { type: "string", valueName: "N", description: "TCP port", default: "4002" },
    host: {
      type: "string",
      valueName: "HOST",
      description: "Address to listen on",
      default: "127.0.0.1",
    },
    data: {
      type: "string",
      valueName: "DIR[,DIR]",
      description: `CSV directories to serve [default: ${DEFAULT_DATA.join(",") || "none found"}]`,
    },
    "no-generate": {
      type: "boolean",
      description: "Refuse symbols without a CSV file (error 200)",
    },
    watchlist: {
      type: "string",
      valueName: "FILE",
      description: "Take primary exchanges from a watchlist (others: NASDAQ)",
      default: "lib/data/ibkr/watchlist_us50.txt",
    },
    "require-primary": {
      type: "string",
      valueName: "A,B",
      description:
        "Answer 200 'No security definition' for these symbols unless asked with their primary exchange",
    },
    ambiguous: {
      type: "string",
      valueName: "A,B",
      description: "Give these symbols a second SMART/USD listing",
    },
    listing: {
      type: "string",
      valueName: "SYM=DATE,…",
      description: "First available date per symbol (head timestamp)",
    },
    "pacing-errors": {
      type: "string",
      valueName: "N",
      description: "Answer the first N historical requests with 162",
    },
    "disconnect-after": {
      type: "string",
      valueName: "N",
      description: "Drop the connection once after N messages",
    },
    "delay-ms": {
      type: "string",
      valueName: "MS",
      description: "Delay each historical answer (clock ms)",
    },
    "time-scale": {
      type: "string",
      valueName: "X",
      description:
        "Run the pacing clock X times faster (give the ingest TT_IBKR_TIME_SCALE=X and the same origin)",
    },
    "never-answer": {
      type: "boolean",
      description:
        "Accept the connection, then leave every request unanswered (a gateway not logged in)",
    },
    account: {
      type: "string",
      valueName: "ID",
      description:
        "Account id to report (a U… id looks live: the broker refuses it without --live)",
      default: "DU0000000",
    },
    cash: { type: "string", valueName: "USD", description: "Starting cash", default: "1000000" },
    "slippage-bps": {
      type: "string",
      valueName: "BPS",
      description: "Slippage against each fill",
      default: "0",
    },
    "per-share": {
      type: "string",
      valueName: "USD",
      description: "Commission per share (IBKR fixed; min 1 USD, max 1% of value)",
      default: "0.005",
    },
    leverage: {
      type: "string",
      valueName: "X",
      description: "Buying power as a multiple of net liquidation",
      default: "1",
    },
    fractional: { type: "boolean", description: "Accept fractional share quantities" },
    "market-start": {
      type: "string",
      valueName: "DATE",
      description:
        "Market day the order book starts at (fills come from the next days' bars) [default: today]",
    },
    "advance-every": {
      type: "string",
      valueName: "MS",
      description: "Move the market one day on every MS real ms, filling working orders (0: never)",
      default: "1000",
    },
    reject: {
      type: "string",
      valueName: "A,B",
      description: "Reject every order for these symbols (error 201 unless --reject-code)",
    },
    "reject-refs": {
      type: "string",
      valueName: "R,R",
      description: "Reject orders with these refs",
    },
    "reject-code": { type: "string", valueName: "N", description: "Error code of a rejection" },
    "reject-message": {
      type: "string",
      valueName: "TEXT",
      description: "Message of a rejection",
    },
    "max-fill": {
      type: "string",
      valueName: "N",
      description: "Fill at most N shares of an order per market day (partial fills)",
    },
    "duplicate-ids": {
      type: "string",
      valueName: "N",
      description: "Answer the first N orders with error 103 (duplicate order id)",
    },
    "disconnect-on-order": {
      type: "string",
      valueName: "N",
      description: "Drop the client when its Nth order arrives, before the acknowledgement",
    },
    "fill-delay-ms": {
      type: "string",
      valueName: "MS",
      description: "Send fills MS clock ms after the market moves",
    },
    quiet: { type: "boolean", description: "Do not log requests" },
  },
  examples: [
    "deno task fake-gateway --port 4002",
    "deno task fake-gateway --port 4002 --data ../shared/data/daily_sp41 --require-primary MSFT --listing NEWCO=2024-06-03",
    "deno task fake-gateway --port 4002 --never-answer   # then: deno task ingest --source ibkr … --request-timeout 5",
    "deno task fake-gateway --port 4002 --market-start 2018-01-02 --slippage-bps 5 --max-fill 100",
    "deno task fake-gateway --port 4001 --account U1234567   # a live-looking account: refused without --live",
  ],
} as const;

/** Runs the gateway until Ctrl-C. */
export async function main(args: string[] = Deno.args): Promise<void> {
  const a = parseCommand(SPEC, args);
  const port = numberArg(a, "port", { min: 0, max: 65535, integer: true })!;
  const dataDirs = listArg(a.data) ?? DEFAULT_DATA;
  for (const d of dataDirs) if (!existsSync(d)) throw new UsageError(`--data: no directory ${d}`);
  const primaryExchanges: Record<string, string> = {};
  if (typeof a.watchlist === "string") {
    const path = isAbsolute(a.watchlist) || existsSync(a.watchlist)
      ? a.watchlist
      : join(PROJECT_ROOT, a.watchlist);
    for (const w of await readWatchlist(path)) {
      if (w.primaryExchange) primaryExchanges[w.symbol] = w.primaryExchange;
    }
  }
  const listings: Record<string, string> = {};
  for (const item of listArg(a.listing) ?? []) {
    const m = /^([A-Za-z0-9.]+)=(\d{4}-\d{2}-\d{2})$/.exec(item);
    if (!m) throw new UsageError(`--listing wants SYM=YYYY-MM-DD; got "${item}"`);
    listings[m[1].toUpperCase()] = m[2];
  }
  const faults: GatewayFaults = {
    requirePrimaryExchange: listArg(a["require-primary"])?.map((s) => s.toUpperCase()),
    ambiguous: listArg(a.ambiguous)?.map((s) => s.toUpperCase()),
    listings,
    pacingErrors: numberArg(a, "pacing-errors", { min: 0, integer: true }),
    disconnectAfterMessages: numberArg(a, "disconnect-after", { min: 0, integer: true }),
    answerDelayMs: numberArg(a, "delay-ms", { min: 0 }),
    neverAnswer: a["never-answer"] === true,
    rejectSymbols: listArg(a.reject)?.map((s) => s.toUpperCase()),
    rejectRefs: listArg(a["reject-refs"]),
    rejectCode: numberArg(a, "reject-code", { min: 1, integer: true }),
    rejectMessage: typeof a["reject-message"] === "string" ? a["reject-message"] : undefined,
    maxFillPerTick: numberArg(a, "max-fill", { min: 1 }),
    duplicateOrderIds: numberArg(a, "duplicate-ids", { min: 0, integer: true }),
    disconnectOnOrder: numberArg(a, "disconnect-on-order", { min: 1, integer: true }),
    fillDelayMs: numberArg(a, "fill-delay-ms", { min: 0 }),
  };
  const marketStart = typeof a["market-start"] === "string" ? a["market-start"] : undefined;
  if (marketStart !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(marketStart)) {
    throw new UsageError(`--market-start wants YYYY-MM-DD; got "${marketStart}"`);
  }
  const scale = numberArg(a, "time-scale", { min: 1 });
  const quiet = a.quiet === true;
  const gw = new LoopbackGateway({
    hostname: String(a.host),
    port,
    dataDirs,
    generate: a["no-generate"] !== true,
    primaryExchanges,
    faults,
    account: String(a.account),
    cash: numberArg(a, "cash", { min: 0 }),
    slippageBps: numberArg(a, "slippage-bps", { min: 0 }),
    commission: { perShare: numberArg(a, "per-share", { min: 0 }) },
    leverage: numberArg(a, "leverage", { min: 0 }),
    fractional: a.fractional === true,
    marketStart,
    autoAdvanceMs: numberArg(a, "advance-every", { min: 0 }),
    clock: scale
      ? scaledClock(scale, Number(Deno.env.get("TT_IBKR_TIME_ORIGIN") ?? Date.now()))
      : clockFromEnv(),
    log: quiet ? undefined : (line) => console.log(`[gateway] ${line}`),
  });
  for (const line of gw.describe()) console.log(line);
  const addr = gw.start();
  console.log(`listening on ${addr.hostname}:${addr.port} (Ctrl-C to stop)`);
  console.log(
    `try: deno task ingest --source ibkr --watchlist lib/data/ibkr/watchlist_us50.txt --start 2020-01-01 --end 2020-12-31 --port ${addr.port}`,
  );
  const done = Promise.withResolvers<void>();
  const stop = () => done.resolve();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  let reported = 0;
  const ticker = setInterval(() => {
    if (quiet || gw.requests.length === reported) return;
    reported = gw.requests.length;
    const s = gw.stats;
    console.log(
      `[gateway] ${s.historicalRequests} historical, ${s.headTimestampRequests} head-timestamp requests, ` +
        `${s.pacingViolations} pacing violations`,
    );
  }, 10_000);
  await done.promise;
  clearInterval(ticker);
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  await gw.stop();
  console.log(JSON.stringify({
    ...gw.stats,
    violations: gw.stats.violations.slice(0, 20),
    trading: gw.trading,
    orderRefs: gw.refCounts(),
    cash: gw.book().cash,
  }));
}

if (import.meta.main) await runTask(main);
