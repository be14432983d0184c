import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { openStore, readPrices, type Store } from "@lib/db/mod.ts";
import {
  barSizeSpec,
  ConnectionLostError,
  GatewayUnreachableError,
  IbClient,
  type IbkrIngestOptions,
  ingestIbkr,
  LOOPBACK_SERVER_VERSION,
  LoopbackGateway,
  type LoopbackGatewayOptions,
  NoAnswerError,
  parseIbTime,
  parseRange,
  parseWatchlist,
  planChunks,
  readWatchlist,
  scaledClock,
  stockContract,
  type WatchlistEntry,
} from "@lib/data/ibkr/mod.ts";
import { PROJECT_ROOT } from "@lib/util/paths.ts";
import { createTempDatabase, storeFactories, TEST_DATABASE_URL } from "./support/stores.ts";

const DAY = 86_400_000;
const SHARED = join(PROJECT_ROOT, "..", "shared", "data");
const DATA_DIRS = [join(SHARED, "daily_sp41"), join(SHARED, "hourly_33")].filter((d) =>
  existsSync(d)
);
if (DATA_DIRS.length < 2) {
  console.log(
    `note: ${SHARED} is absent: the loopback gateway serves generated bars instead of the real CSV files`,
  );
}
const WATCHLIST = join(PROJECT_ROOT, "lib", "data", "ibkr", "watchlist_us50.txt");

// Compressed time shared by the gateway's pacing counters and the ingest's limiter:
// 10 minutes of IB's pacing window pass in 6 s. The client's safety margin (100 s of
// compressed time = 1 s real) covers socket, send-queue and event-loop delays, which
// compression magnifies a hundredfold.
const SCALE = 100;
const ORIGIN = Date.now();
const clock = scaledClock(SCALE, ORIGIN);
const CLIENT_PACING = { marginMs: 100_000 };
const INTEGRATION = { sanitizeOps: false, sanitizeResources: false };

function gateway(options: LoopbackGatewayOptions = {}): { gw: LoopbackGateway; port: number } {
  const gw = new LoopbackGateway({ dataDirs: DATA_DIRS, clock, ...options });
  const { port } = gw.start();
  return { gw, port };
}

function ingestOptions(port: number, o: Partial<IbkrIngestOptions>): IbkrIngestOptions {
  return {
    symbols: [],
    start: "2020-01-01",
    end: "2020-12-31",
    barSize: "1 day",
    mode: "advanced",
    host: "127.0.0.1",
    port,
    clientId: 11,
    silent: true,
    clock,
    pacing: CLIENT_PACING,
    ...o,
  };
}

type Row = [number, number, number, number, number, number];

/** Stored bars per symbol as tuples. */
async function stored(
  store: Store,
  symbols: string[],
  barSize: string,
  start: number,
  end: number,
) {
  const b = await readPrices(store, {
    instruments: symbols,
    barSize,
    start: new Date(start),
    end: new Date(end - 1),
  });
  const out = new Map<string, Row[]>(symbols.map((s) => [s, []]));
  for (let i = 0; i < b.timestamp.length; i++) {
    out.get(b.instrument[i])!.push([
      b.timestamp[i],
      b.open[i],
      b.high[i],
      b.low[i],
      b.close[i],
      b.volume[i],
    ]);
  }
  return out;
}

/** Asserts the store holds exactly the gateway's series for `[start, end)`, and that it is what was sent. */
async function assertRowsEqualServed(
  store: Store,
  gw: LoopbackGateway,
  symbols: string[],
  barSize: string,
  start: number,
  end: number,
) {
  const have = await stored(store, symbols, barSize, start, end);
  let total = 0;
  for (const s of symbols) {
    const want = gw.seriesFor(s, barSize, start, end).map((
      b,
    ): Row => [b.time, b.open, b.high, b.low, b.close, b.volume]);
    assert.ok(want.length > 0, `the gateway serves ${s} ${barSize}`);
    assert.deepEqual(have.get(s), want, `${s} ${barSize}: stored bars equal the gateway's series`);
    const served = gw.served.get(`${s}|${barSize}`)!;
    for (const r of have.get(s)!) {
      const b = served.get(r[0]);
      assert.deepEqual(
        b && [b.time, b.open, b.high, b.low, b.close, b.volume],
        r,
        `${s} bar ${new Date(r[0]).toISOString()} was served`,
      );
    }
    total += want.length;
  }
  return total;
}

async function countRows(store: Store, sql: string, params: unknown[] = []): Promise<number> {
  const [r] = await store.query<{ n: number }>(sql, params);
  return Number(r.n);
}

// ---------------------------------------------------------------- planning and parsing

Deno.test("planChunks() splits 1 hour bars into 30-day requests, newest first", () => {
  const plan = planChunks(Date.UTC(2025, 0, 1), Date.UTC(2025, 1, 1), "1 hour");
  assert.deepEqual(plan.map((c) => [c.duration, c.endDateTime, new Date(c.start).toISOString()]), [
    ["30 D", "20250131-23:59:59", "2025-01-02T00:00:00.000Z"],
    ["1 D", "20250101-23:59:59", "2025-01-01T00:00:00.000Z"],
  ]);
});

Deno.test("planChunks() uses calendar years for daily bars in advanced mode and one request in lean mode", () => {
  const start = Date.UTC(2022, 0, 1), end = Date.UTC(2025, 0, 1);
  assert.deepEqual(planChunks(start, end, "1 day").map((c) => c.duration), ["1 Y", "1 Y", "1 Y"]);
  assert.deepEqual(planChunks(start, end, "1 day", { mode: "lean" }).map((c) => c.duration), [
    "3 Y",
  ]);
  assert.deepEqual(planChunks(Date.UTC(2024, 5, 3), end, "1 day").map((c) => c.duration), [
    "212 D",
  ]);
  assert.deepEqual(
    planChunks(start, Date.UTC(2022, 1, 1), "1 day", { mode: "lean" }).map((c) => c.duration),
    ["31 D"],
  );
});

Deno.test("planChunks() keeps 5 mins requests within a week and 1 min requests within a day (seconds)", () => {
  const end = Date.UTC(2025, 2, 11);
  assert.deepEqual(planChunks(end - 10 * DAY, end, "5 mins").map((c) => c.duration), [
    "7 D",
    "3 D",
  ]);
  assert.deepEqual(planChunks(end - 2 * 3600_000, end, "1 min").map((c) => c.duration), ["7200 S"]);
  assert.deepEqual(planChunks(end - 2.5 * DAY, end, "1 min").map((c) => c.duration), [
    "1 D",
    "1 D",
    "43200 S",
  ]);
  for (const size of ["1 secs", "30 secs", "1 min", "5 mins", "1 hour", "1 day"]) {
    const plan = planChunks(end - 40 * DAY, end, size);
    const max = barSizeSpec(size).maxDurationSeconds * 1000;
    assert.ok(
      plan.every((c) => c.end - c.start <= Math.min(max, 366 * DAY)),
      `${size} chunks within IB's limit`,
    );
    assert.equal(
      plan.reduce((s, c) => s + (c.end - c.start), 0),
      40 * DAY,
      `${size} chunks tile the range`,
    );
  }
  assert.throws(() => barSizeSpec("2 days"), RangeError);
});

Deno.test("parseIbTime() reads daily dates, epoch seconds, UTC and zoned times", () => {
  assert.equal(parseIbTime("20250102"), Date.UTC(2025, 0, 2));
  assert.equal(parseIbTime("1735828200"), Date.UTC(2025, 0, 2, 14, 30));
  assert.equal(parseIbTime("20250102-14:30:00"), Date.UTC(2025, 0, 2, 14, 30));
  assert.equal(parseIbTime("20250102 09:30:00 US/Eastern"), Date.UTC(2025, 0, 2, 14, 30));
  assert.equal(parseIbTime("20250702 09:30:00 America/New_York"), Date.UTC(2025, 6, 2, 13, 30));
  assert.throws(() => parseIbTime("20250102 09:30:00"), SyntaxError);
  assert.throws(() => parseIbTime("yesterday"), SyntaxError);
});

Deno.test("parseRange() includes the whole end date and refuses an empty range", () => {
  assert.deepEqual(parseRange("2025-01-01", "2025-01-31"), [
    Date.UTC(2025, 0, 1),
    Date.UTC(2025, 1, 1),
  ]);
  assert.throws(() => parseRange("2025-02-01", "2025-01-01"), RangeError);
  assert.throws(() => parseRange("2025-13-45", "2026-01-01"), RangeError);
});

Deno.test("parseWatchlist() reads symbols, primary exchanges and comments; names the bad line", () => {
  assert.deepEqual(parseWatchlist("# header\naapl\n\nSPY, arca  # ETF\r\nBRK B,NYSE\n"), [
    { symbol: "AAPL" },
    { symbol: "SPY", primaryExchange: "ARCA" },
    { symbol: "BRK B", primaryExchange: "NYSE" },
  ]);
  assert.throws(() => parseWatchlist("AAPL\nMSFT,NASDAQ,X\n", "w.txt"), /w\.txt line 2/);
  assert.throws(
    () => parseWatchlist("AAPL\nMSFT\naapl\n", "w.txt"),
    /line 3: AAPL is already listed on line 1/,
  );
  assert.throws(() => parseWatchlist("x'; drop table tt_prices;--\n", "w.txt"), SyntaxError);
});

Deno.test("readWatchlist() loads the sample watchlist of 50 US equities", async () => {
  const list = await readWatchlist(WATCHLIST);
  assert.equal(list.length, 50);
  assert.ok(list.filter((w) => w.primaryExchange).length >= 40);
  await assert.rejects(
    () => readWatchlist(join(PROJECT_ROOT, "no_such_watchlist.txt")),
    /Cannot read watchlist/,
  );
});

// ---------------------------------------------------------------- the wire protocol

Deno.test({
  name:
    "IbClient speaks @stoqey/ib's protocol with the loopback gateway: handshake, details, head timestamp, bars, errors",
  ...INTEGRATION,
  async fn() {
    const { gw, port } = gateway({
      primaryExchanges: { IBM: "NYSE" },
      faults: { requirePrimaryExchange: ["IBM"] },
    });
    const ib = new IbClient({ host: "127.0.0.1", port, clientId: 5 });
    try {
      assert.equal(await ib.connect(), LOOPBACK_SERVER_VERSION);
      const [d] = await ib.contractDetails(
        stockContract({ symbol: "IBM", primaryExchange: "NYSE" }),
      );
      assert.equal(d.contract.symbol, "IBM");
      assert.equal(d.contract.primaryExch, "NYSE");
      assert.equal(d.contract.exchange, "SMART");
      assert.ok(d.contract.conId! > 0);
      assert.equal(d.longName, "IBM INC");
      assert.equal(d.stockType, "COMMON");
      await assert.rejects(
        () => ib.contractDetails(stockContract({ symbol: "IBM" })),
        (e: Error & { code?: number }) => e.code === 200,
      );
      const head = await ib.headTimestamp(
        stockContract({ symbol: "IBM", primaryExchange: "NYSE" }),
        "TRADES",
        true,
      );
      assert.equal(head, gw.seriesFor("IBM", "1 day", 0, Date.UTC(2100, 0, 1))[0].time);
      const bars = await ib.historicalBars(
        stockContract({ symbol: "IBM", conId: d.contract.conId }),
        {
          endDateTime: "20201231-23:59:59",
          duration: "10 D",
          barSize: "1 day",
          whatToShow: "TRADES",
          useRTH: true,
        },
      );
      const want = gw.seriesFor("IBM", "1 day", Date.UTC(2020, 11, 22), Date.UTC(2021, 0, 1));
      assert.deepEqual(bars, want.map((b) => ({ ...b })));
      await assert.rejects(
        () =>
          ib.historicalBars(stockContract({ symbol: "IBM", conId: d.contract.conId }), {
            endDateTime: "20201231-23:59:59",
            duration: "400 D",
            barSize: "1 day",
            whatToShow: "TRADES",
            useRTH: true,
          }),
        (e: Error & { code?: number }) => e.code === 321 && /must be made in years/.test(e.message),
      );
      // A second client with the same id is refused (IB error 326).
      const twin = new IbClient({ host: "127.0.0.1", port, clientId: 5, connectTimeoutMs: 3000 });
      await assert.rejects(
        () => twin.connect(),
        (e: Error) => e instanceof ConnectionLostError && /code 326/.test(e.message),
      );
      twin.disconnect();
      assert.ok(ib.notices.some((n) => n.code === 2104), "farm status info arrives as a notice");
      assert.deepEqual(
        ib.notices.filter((n) => n.code === 505),
        [],
        "the client decoded every message without leftovers",
      );
    } finally {
      ib.disconnect();
      await gw.stop();
    }
  },
});

// ---------------------------------------------------------------- ingest runs

for (const factory of storeFactories()) {
  Deno.test({
    name:
      `ingestIbkr() [${factory.name}] 50 symbols × 1 year daily: rows equal what the gateway served, > 60 requests without a pacing wait or violation`,
    ...INTEGRATION,
    async fn() {
      const list = await readWatchlist(WATCHLIST);
      const primaryExchanges = Object.fromEntries(
        list.filter((w) => w.primaryExchange).map((w) => [w.symbol, w.primaryExchange!]),
      );
      const { gw, port } = gateway({ primaryExchanges });
      const store = await factory.open();
      try {
        const summary = await ingestIbkr(store, ingestOptions(port, { symbols: list }));
        assert.deepEqual(summary.symbolsSkipped, []);
        assert.equal(summary.requests, 100, "50 head timestamps + 50 one-year requests");
        assert.equal(
          gw.stats.historicalRequests + gw.stats.headTimestampRequests,
          summary.requests,
        );
        assert.equal(
          gw.stats.pacingViolations,
          0,
          `gateway saw violations: ${gw.stats.violations.join("; ")}`,
        );
        // IB's 60-per-10-minutes rule is for bars of 30 secs or less: daily bars do not wait.
        assert.equal(summary.pacingWaits, 0, "no pacing wait for daily bars");
        const times = gw.requests.map((r) => r.time);
        assert.ok(
          Math.max(...times) - Math.min(...times) < 600_000,
          "100 requests within less than 10 minutes",
        );
        const symbols = list.map((w) => w.symbol);
        const total = await assertRowsEqualServed(
          store,
          gw,
          symbols,
          "1 day",
          Date.UTC(2020, 0, 1),
          Date.UTC(2021, 0, 1),
        );
        assert.equal(summary.rowsWritten, total);
        assert.equal(await countRows(store, "SELECT count(*) AS n FROM tt_prices"), total);
        assert.equal(
          await countRows(
            store,
            "SELECT count(*) AS n FROM tt_instruments WHERE primary_exchange IS NOT NULL AND con_id IS NOT NULL AND first_bar IS NOT NULL",
          ),
          50,
        );
        const [run] = await store.query<{ source: string; status: string; rows_written: number }>(
          "SELECT source, status, rows_written FROM tt_ingest_runs WHERE id = $1",
          [summary.runId],
        );
        assert.deepEqual({ ...run }, { source: "ibkr", status: "ok", rows_written: total });
        // Every bar carries the run that wrote it (tt_prices.ingest_run_id, issue 11 item 15).
        assert.equal(
          await countRows(
            store,
            "SELECT count(*) AS n FROM tt_prices WHERE ingest_run_id = $1",
            [summary.runId],
          ),
          total,
        );
      } finally {
        await store.close();
        await gw.stop();
      }
    },
  });

  Deno.test({
    name:
      `ingestIbkr() [${factory.name}] 5 symbols × 1 month hourly land with bar_size "1 hour" beside daily bars`,
    ...INTEGRATION,
    async fn() {
      const symbols = ["AAPL", "MSFT", "NVDA", "JPM", "XOM"];
      const { gw, port } = gateway();
      const store = await factory.open();
      try {
        const entries = symbols.map((symbol) => ({ symbol }));
        const daily = await ingestIbkr(
          store,
          ingestOptions(port, {
            symbols: entries,
            start: "2020-07-01",
            end: "2020-07-31",
            mode: "lean",
          }),
        );
        const hourly = await ingestIbkr(
          store,
          ingestOptions(port, {
            symbols: entries,
            start: "2025-07-01",
            end: "2025-07-31",
            barSize: "1 hour",
            clientId: 12,
          }),
        );
        assert.deepEqual(hourly.symbolsSkipped, []);
        const from = Date.UTC(2025, 6, 1), to = Date.UTC(2025, 7, 1);
        const n = await assertRowsEqualServed(store, gw, symbols, "1 hour", from, to);
        assert.equal(hourly.rowsWritten, n);
        await assertRowsEqualServed(
          store,
          gw,
          symbols,
          "1 day",
          Date.UTC(2020, 6, 1),
          Date.UTC(2020, 7, 1),
        );
        assert.equal(
          await countRows(store, "SELECT count(*) AS n FROM tt_prices WHERE bar_size = '1 day'"),
          daily.rowsWritten,
        );
        assert.equal(
          await countRows(store, "SELECT count(*) AS n FROM tt_prices WHERE bar_size = '1 hour'"),
          n,
        );
        // Regular-session bars only, stored in UTC: 13:30 … 19:30 in July (EDT).
        const hours = await store.query<{ h: string }>(
          "SELECT DISTINCT to_char(timestamp AT TIME ZONE 'UTC', 'HH24:MI') AS h FROM tt_prices WHERE bar_size = '1 hour' ORDER BY 1",
        );
        assert.ok(
          hours.every((r) => r.h >= "13:30" && r.h <= "19:30"),
          `RTH hours: ${hours.map((r) => r.h).join(",")}`,
        );
        assert.equal(gw.stats.pacingViolations, 0);
      } finally {
        await store.close();
        await gw.stop();
      }
    },
  });
}

// Fault scenarios share one embedded store (opening PGlite is the slow part); each uses
// its own symbols, its own gateway (fresh counters) and its own client id.
Deno.test({
  name: "ingestIbkr() scenarios: faults, fallback, listing date, 5-minute bars",
  ...INTEGRATION,
  async fn(t) {
    const store = await openStore({ dataDir: "memory://" });
    const y2020: [number, number] = [Date.UTC(2020, 0, 1), Date.UTC(2021, 0, 1)];
    const rowsOf = (symbols: string[]) =>
      countRows(store, "SELECT count(*) AS n FROM tt_prices WHERE instrument = ANY($1::text[])", [
        symbols,
      ]);
    try {
      await t.step("injected pacing errors (162) are retried and no bar is lost", async () => {
        const symbols = ["AAPL", "KO", "PEP", "WMT", "CVX", "T"];
        const { gw, port } = gateway({ faults: { pacingErrors: 3 } });
        try {
          const summary = await ingestIbkr(
            store,
            ingestOptions(port, {
              symbols: symbols.map((symbol) => ({ symbol })),
              mode: "lean",
              clientId: 31,
            }),
          );
          assert.equal(gw.stats.injected162, 3);
          assert.equal(summary.retries, 3);
          assert.deepEqual(summary.symbolsSkipped, []);
          assert.equal(gw.stats.pacingViolations, 0, gw.stats.violations.join("; "));
          assert.equal(summary.requests, symbols.length + 3);
          const total = await assertRowsEqualServed(store, gw, symbols, "1 day", ...y2020);
          assert.equal(await rowsOf(symbols), total);
        } finally {
          await gw.stop();
        }
      });

      await t.step(
        "a second run counts the requests the first run sent (pacing across processes)",
        async () => {
          const { gw, port } = gateway();
          const names = (prefix: string, n: number) =>
            Array.from({ length: n }, (_, i) => ({ symbol: `${prefix}${i}` }));
          try {
            // 40 + 21 lean requests for 30 secs bars (one session each) within a minute: the
            // 61st may only go 10 minutes after the first.
            const small = {
              mode: "lean" as const,
              barSize: "30 secs",
              start: "2020-03-02T14:30:00Z",
              end: "2020-03-02T20:00:00Z",
            };
            const a = await ingestIbkr(
              store,
              ingestOptions(port, { symbols: names("PA", 40), ...small, clientId: 39 }),
            );
            const b = await ingestIbkr(
              store,
              ingestOptions(port, { symbols: names("PB", 21), ...small, clientId: 40 }),
            );
            // (>= rather than ==: a port the OS reuses from an earlier step brings its history along.)
            assert.ok(
              b.earlierRequests >= a.earlierRequests + 40,
              "the second run knew the first run's requests",
            );
            assert.ok(b.pacingWaits >= 1, "the 61st request waited");
            assert.equal(gw.stats.historicalRequests, 61);
            assert.equal(gw.stats.pacingViolations, 0, gw.stats.violations.join("; "));
            const times = gw.requests.map((r) => r.time);
            assert.ok(
              times[60] - times[0] >= 600_000,
              "the 61st request came 10 minutes after the first",
            );
          } finally {
            await gw.stop();
          }
        },
      );

      await t.step(
        "a 40-symbol daily run then a 21-symbol hourly run: no pacing wait, no violation (large bars)",
        async () => {
          const { gw, port } = gateway();
          const names = (prefix: string, n: number) =>
            Array.from({ length: n }, (_, i) => ({ symbol: `${prefix}${i}` }));
          try {
            const daily = await ingestIbkr(
              store,
              ingestOptions(port, { symbols: names("DA", 40), mode: "lean", clientId: 41 }),
            );
            const hourly = await ingestIbkr(
              store,
              ingestOptions(port, {
                symbols: names("HB", 21),
                mode: "lean",
                barSize: "1 hour",
                start: "2020-03-02",
                end: "2020-03-06",
                clientId: 42,
              }),
            );
            assert.ok(hourly.earlierRequests >= 40, "the hourly run knew the daily run's requests");
            assert.equal(daily.pacingWaits + hourly.pacingWaits, 0, "nobody waited for pacing");
            assert.equal(gw.stats.historicalRequests, 61);
            assert.equal(gw.stats.pacingViolations, 0, gw.stats.violations.join("; "));
            const times = gw.requests.map((r) => r.time);
            assert.ok(times[60] - times[0] < 600_000, "the 61st request did not wait 10 minutes");
            assert.deepEqual(hourly.symbolsSkipped, []);
          } finally {
            await gw.stop();
          }
        },
      );

      await t.step(
        "a gateway that connects but never answers stops the run at the first-answer timeout",
        async () => {
          const { gw, port } = gateway({ faults: { neverAnswer: true } });
          try {
            for (const mode of ["advanced", "lean"] as const) {
              const t0 = performance.now();
              await assert.rejects(
                () =>
                  ingestIbkr(
                    store,
                    ingestOptions(port, {
                      symbols: ["SIL1", "SIL2", "SIL3"].map((symbol) => ({ symbol })),
                      mode,
                      clientId: mode === "lean" ? 44 : 43,
                      firstAnswerTimeoutMs: 300,
                    }),
                  ),
                (e: Error) =>
                  e instanceof NoAnswerError &&
                  e.message ===
                    `connected to 127.0.0.1:${port} but no historical-data request was answered in 0.3 s: is the gateway logged in and the API enabled?`,
              );
              const ms = performance.now() - t0;
              assert.ok(ms < 5_000, `${mode}: stopped after ${ms.toFixed(0)} ms`);
              const [last] = await store.query<{ status: string; message: string }>(
                "SELECT status, message FROM tt_ingest_runs ORDER BY id DESC LIMIT 1",
              );
              assert.equal(last.status, "failed");
              assert.match(last.message, /no historical-data request was answered/);
            }
            assert.ok(gw.stats.unanswered >= 2);
            assert.equal(gw.stats.historicalRequests, 0);
          } finally {
            await gw.stop();
          }
        },
      );

      await t.step(
        "a slow first answer within the timeout is not an error; later requests keep the long timeout",
        async () => {
          // 30 s of compressed time = 0.3 s real per answer, under a 5 s first-answer timeout.
          const { gw, port } = gateway({ faults: { answerDelayMs: 30_000 } });
          try {
            const summary = await ingestIbkr(
              store,
              ingestOptions(port, {
                symbols: [{ symbol: "SLOW1" }, { symbol: "SLOW2" }],
                mode: "lean",
                clientId: 45,
                firstAnswerTimeoutMs: 5_000,
              }),
            );
            assert.deepEqual(summary.symbolsSkipped, []);
            assert.equal(summary.retries, 0);
            assert.ok(summary.rowsWritten > 0);
          } finally {
            await gw.stop();
          }
        },
      );

      await t.step(
        "a connection dropped mid-run is reconnected and the run resumes without gaps",
        async () => {
          const symbols = ["MSFT", "IBM", "INTC", "CSCO", "ORCL", "QCOM", "ADBE", "AMGN"];
          // 5 messages follow the handshake, then 4 per symbol (details, end, head, bars): drop inside the 4th symbol.
          const { gw, port } = gateway({ faults: { disconnectAfterMessages: 5 + 4 * 3 + 2 } });
          try {
            const summary = await ingestIbkr(
              store,
              ingestOptions(port, { symbols: symbols.map((symbol) => ({ symbol })), clientId: 32 }),
            );
            assert.equal(gw.stats.disconnects, 1);
            assert.ok(gw.stats.connections >= 2, "the client connected again");
            assert.equal(summary.reconnects, 1);
            assert.ok(summary.retries >= 1);
            assert.deepEqual(summary.symbolsSkipped, []);
            assert.equal(gw.stats.pacingViolations, 0, gw.stats.violations.join("; "));
            const total = await assertRowsEqualServed(store, gw, symbols, "1 day", ...y2020);
            assert.equal(await rowsOf(symbols), total);
          } finally {
            await gw.stop();
          }
        },
      );

      await t.step(
        "5 mins bars over 10 days are split into week-long requests the gateway accepts",
        async () => {
          const symbols = ["FIVEA", "FIVEB"];
          const { gw, port } = gateway();
          try {
            const summary = await ingestIbkr(
              store,
              ingestOptions(port, {
                symbols: symbols.map((symbol) => ({ symbol })),
                start: "2025-03-03",
                end: "2025-03-12",
                barSize: "5 mins",
                clientId: 38,
              }),
            );
            assert.deepEqual(summary.symbolsSkipped, []);
            const hist = gw.requests.filter((r) => r.kind === "historical");
            assert.deepEqual(hist.map((r) => r.duration).sort(), ["3 D", "3 D", "7 D", "7 D"]);
            assert.ok(hist.every((r) => r.answer === "bars"));
            const n = await assertRowsEqualServed(
              store,
              gw,
              symbols,
              "5 mins",
              Date.UTC(2025, 2, 3),
              Date.UTC(2025, 2, 13),
            );
            // 8 weekdays × 78 regular-session bars (09:30–16:00 New York) per symbol.
            assert.equal(n, 2 * 8 * 78);
          } finally {
            await gw.stop();
          }
        },
      );

      await t.step(
        "a gateway gone for good stops the run with GatewayUnreachableError, lineage 'failed'",
        async () => {
          const symbols = ["HD", "MCD", "NKE", "DIS", "BA", "GE"];
          const { gw, port } = gateway({ faults: { answerDelayMs: 50_000 } });
          const run = ingestIbkr(
            store,
            ingestOptions(port, {
              symbols: symbols.map((symbol) => ({ symbol })),
              clientId: 37,
              maxReconnects: 2,
            }),
          );
          const failed = assert.rejects(run, GatewayUnreachableError);
          while (gw.served.size < 1) await new Promise((r) => setTimeout(r, 10));
          await gw.stop();
          await failed;
          const [last] = await store.query<{ status: string; message: string }>(
            "SELECT status, message FROM tt_ingest_runs ORDER BY id DESC LIMIT 1",
          );
          assert.equal(last.status, "failed");
          assert.match(last.message, /unreachable after 3 reconnect attempts/);
        },
      );

      await t.step(
        "advanced mode falls back to SMART + primary exchange on 'no security definition' and ambiguity",
        async () => {
          const { gw, port } = gateway({
            primaryExchanges: { NVDA: "NASDAQ", AMBG: "NYSE", NOPE: "NYSE" },
            faults: { requirePrimaryExchange: ["NVDA", "NOPE"], ambiguous: ["AMBG"] },
          });
          try {
            const list: WatchlistEntry[] = [
              { symbol: "NVDA", primaryExchange: "NASDAQ" },
              { symbol: "AMBG", primaryExchange: "NYSE" },
              { symbol: "NOPE" },
            ];
            const adv = await ingestIbkr(
              store,
              ingestOptions(port, { symbols: list, clientId: 33 }),
            );
            assert.deepEqual(adv.symbolsSkipped.map((s) => s.symbol), ["NOPE"]);
            assert.match(
              adv.symbolsSkipped[0].reason,
              /no security definition.*no primary exchange/i,
            );
            await assertRowsEqualServed(store, gw, ["NVDA", "AMBG"], "1 day", ...y2020);
            const inst = await store.query<
              { symbol: string; exchange: string; primary_exchange: string }
            >(
              "SELECT symbol, exchange, primary_exchange FROM tt_instruments WHERE symbol IN ('NVDA', 'AMBG', 'NOPE') ORDER BY symbol",
            );
            assert.deepEqual(inst.map((r) => [r.symbol, r.exchange, r.primary_exchange]), [
              ["AMBG", "SMART", "NYSE"],
              ["NVDA", "SMART", "NASDAQ"],
            ]);
            const paced = gw.requests.filter((r) => r.symbol !== "NOPE");
            assert.equal(paced.length, 4);
            for (const r of paced) {
              assert.equal(r.exchange, "SMART");
              assert.ok(
                r.primaryExch && r.conId,
                `${r.symbol} ${r.kind} asked with primary exchange and conId`,
              );
            }
            // Lean mode asks Stock(symbol, "SMART", "USD") as given: without a primary exchange IB refuses it.
            const lean = await ingestIbkr(
              store,
              ingestOptions(port, { symbols: [{ symbol: "NOPE" }], mode: "lean", clientId: 34 }),
            );
            assert.match(lean.symbolsSkipped[0]?.reason ?? "", /IB error 200/);
            assert.equal(await rowsOf(["NOPE"]), 0);
          } finally {
            await gw.stop();
          }
        },
      );

      await t.step(
        "advanced mode never asks for bars before the head timestamp; lean asks once, same bars",
        async () => {
          // NEWCO is fetched in advanced mode, its twin NEWCP (same listing date) in lean mode.
          const { gw, port } = gateway({
            faults: { listings: { NEWCO: "2024-06-03", NEWCP: "2024-06-03" } },
          });
          const head = Date.UTC(2024, 5, 3);
          const range = { start: "2022-01-01", end: "2024-12-31" };
          const from = Date.UTC(2022, 0, 1), to = Date.UTC(2025, 0, 1);
          try {
            await ingestIbkr(
              store,
              ingestOptions(port, { ...range, symbols: [{ symbol: "NEWCO" }], clientId: 35 }),
            );
            const hist = gw.requests.filter((r) => r.kind === "historical");
            assert.equal(hist.length, 1, "one request instead of three yearly ones");
            assert.ok(
              hist[0].windowStart! >= head - DAY,
              `window starts ${new Date(hist[0].windowStart!).toISOString()}`,
            );
            assert.equal(hist[0].duration, "212 D");
            assert.equal(gw.stats.requestsBeforeHead, 0);
            const [inst] = await store.query<{ first_bar: Date }>(
              "SELECT first_bar FROM tt_instruments WHERE symbol = 'NEWCO'",
            );
            assert.equal(new Date(inst.first_bar).getTime(), head);
            const n = await assertRowsEqualServed(store, gw, ["NEWCO"], "1 day", from, to);
            assert.equal((await readPrices(store, { instruments: ["NEWCO"] })).timestamp[0], head);

            await ingestIbkr(
              store,
              ingestOptions(port, {
                ...range,
                symbols: [{ symbol: "NEWCP" }],
                mode: "lean",
                clientId: 36,
              }),
            );
            const leanHist = gw.requests.filter((r) =>
              r.kind === "historical" && r.symbol === "NEWCP"
            );
            assert.deepEqual(leanHist.map((r) => r.duration), ["3 Y"]);
            assert.ok(leanHist[0].windowStart! < head, "lean mode does not know the listing date");
            assert.equal(await assertRowsEqualServed(store, gw, ["NEWCP"], "1 day", from, to), n);
          } finally {
            await gw.stop();
          }
        },
      );
    } finally {
      await store.close();
    }
  },
});

Deno.test({
  name:
    "deno run tasks/ingest.ts --source ibkr killed with SIGKILL mid-run: the rerun resumes and completes, no bar lost or duplicated",
  ...INTEGRATION,
  async fn() {
    const symbols = [
      "AAPL",
      "MSFT",
      "IBM",
      "INTC",
      "CSCO",
      "ORCL",
      "QCOM",
      "ADBE",
      "KO",
      "PEP",
      "XOM",
      "CVX",
    ];
    // Slow answers (100 s of compressed time = 1 s real): 4 symbols at a time take ~2 s,
    // so killing 0.8 s after the first 4 were served lands between two batches.
    const { gw, port } = gateway({ faults: { answerDelayMs: 100_000 } });
    const dir = await Deno.makeTempDir({ prefix: "tt_ibkr_kill_" });
    const args = [
      "run",
      "-A",
      join(PROJECT_ROOT, "tasks", "ingest.ts"),
      "--source",
      "ibkr",
      "--symbols",
      symbols.join(","),
      "--start",
      "2020-01-01",
      "--end",
      "2020-12-31",
      "--port",
      String(port),
      "--client-id",
      "21",
      "--json",
    ];
    // The server when there is one (opening a fresh PGlite directory three times is slow).
    const server = TEST_DATABASE_URL ? await createTempDatabase() : undefined;
    const env = {
      TT_DATA_DIR: dir,
      DATABASE_URL: server?.url ?? "",
      TT_IBKR_TIME_SCALE: String(SCALE),
      TT_IBKR_TIME_ORIGIN: String(ORIGIN),
    };
    try {
      const child = new Deno.Command(Deno.execPath(), {
        args,
        env,
        stdout: "piped",
        stderr: "piped",
        cwd: PROJECT_ROOT,
      }).spawn();
      const deadline = Date.now() + 60_000;
      while (gw.served.size < 4 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(gw.served.size >= 4, "the first run got some bars before the kill");
      await new Promise((r) => setTimeout(r, 800)); // let the served chunks commit
      child.kill("SIGKILL");
      const killed = await child.output();
      assert.equal(killed.signal, "SIGKILL");
      assert.ok(gw.served.size < symbols.length, "killed before the end");

      const rerun = await new Deno.Command(Deno.execPath(), { args, env, cwd: PROJECT_ROOT })
        .output();
      const err = new TextDecoder().decode(rerun.stderr);
      assert.equal(rerun.code, 0, err);
      const summary = JSON.parse(new TextDecoder().decode(rerun.stdout).trim().split("\n").at(-1)!);
      assert.deepEqual(summary.symbolsSkipped, []);
      assert.ok(
        summary.chunksSkipped >= 1,
        "the rerun skipped requests the killed run had committed",
      );

      const store = await openStore(
        server ? { url: server.url } : { dataDir: join(dir, "pgdata") },
      );
      try {
        const total = await assertRowsEqualServed(
          store,
          gw,
          symbols,
          "1 day",
          Date.UTC(2020, 0, 1),
          Date.UTC(2021, 0, 1),
        );
        assert.equal(
          await countRows(store, "SELECT count(*) AS n FROM tt_prices"),
          total,
          "no extra rows",
        );
        const runs = await store.query<{ status: string }>(
          "SELECT status FROM tt_ingest_runs ORDER BY id",
        );
        assert.deepEqual(
          runs.map((r) => r.status),
          ["running", "ok"],
          "the killed run never finished; the rerun did",
        );
      } finally {
        await store.close();
      }
    } finally {
      await gw.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await server?.drop();
    }
  },
});

Deno.test({
  name: "deno task fake-gateway serves bars on a port, stops on SIGTERM and prints its counters",
  ...INTEGRATION,
  async fn() {
    const help = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", join(PROJECT_ROOT, "tasks", "fake_gateway.ts"), "--help"],
    }).output();
    assert.equal(help.code, 0);
    assert.match(new TextDecoder().decode(help.stdout), /--require-primary/);
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        join(PROJECT_ROOT, "tasks", "fake_gateway.ts"),
        "--port",
        "0",
        "--quiet",
        "--no-generate",
      ],
      stdout: "piped",
      stderr: "piped",
      cwd: PROJECT_ROOT,
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!/listening on [\d.]+:(\d+)/.test(out)) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    const port = Number(/listening on [\d.]+:(\d+)/.exec(out)?.[1]);
    assert.ok(port > 0, out);
    const ib = new IbClient({ host: "127.0.0.1", port, clientId: 1 });
    await ib.connect();
    const bars = await ib.historicalBars(
      stockContract({ symbol: DATA_DIRS.length ? "AAPL" : "NOSUCH" }),
      {
        endDateTime: "20201231-23:59:59",
        duration: "1 Y",
        barSize: "1 day",
        whatToShow: "TRADES",
        useRTH: true,
      },
    ).catch((e) => e as Error);
    ib.disconnect();
    if (DATA_DIRS.length) assert.equal((bars as unknown[]).length, 253);
    else assert.match((bars as Error).message, /IB error 200/);
    child.kill("SIGTERM");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    const status = await child.status;
    await child.stderr.cancel();
    assert.equal(status.code, 0);
    const stats = JSON.parse(out.trim().split("\n").at(-1)!);
    assert.equal(stats.historicalRequests, 1);
    assert.equal(stats.pacingViolations, 0);
  },
});
