/**
 * The checked request of an IBKR ingest (`lib/data/ibkr/request.ts`): defaults,
 * watchlist filtering and the refusals, in the library and through `tasks/ingest.ts`.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  IBKR_REQUEST_DEFAULTS,
  ibkrIngestOptions,
  LoopbackGateway,
  selectWatchlist,
} from "@lib/data/ibkr/mod.ts";
import { PROJECT_ROOT } from "@lib/util/paths.ts";

const WATCHLIST = join(PROJECT_ROOT, "lib", "data", "ibkr", "watchlist_us50.txt");

Deno.test("ibkrIngestOptions() fills in the defaults: daily bars, advanced plan, 127.0.0.1:4002, client 1", async () => {
  const o = await ibkrIngestOptions({ start: "2024-01-01", end: "2024-12-31", symbols: ["AAPL"] });
  assert.deepEqual(o, {
    symbols: [{ symbol: "AAPL" }],
    start: "2024-01-01",
    end: "2024-12-31",
    barSize: "1 day",
    mode: "advanced",
    host: "127.0.0.1",
    port: 4002,
    clientId: 1,
    silent: false,
    firstAnswerTimeoutMs: 30_000,
  });
  assert.equal(IBKR_REQUEST_DEFAULTS.port, o.port);
});

Deno.test("ibkrIngestOptions() keeps the watchlist's primary exchanges and filters it to the symbols asked for", async () => {
  const all = await ibkrIngestOptions({
    start: "2024-01-01",
    end: "2024-01-31",
    watchlist: WATCHLIST,
  });
  assert.equal(all.symbols.length, 50);
  const some = await ibkrIngestOptions({
    start: "2024-01-01",
    end: "2024-01-31",
    watchlist: WATCHLIST,
    symbols: ["msft", "AAPL"],
    barSize: "1 hour",
    mode: "lean",
  });
  // Watchlist order, any case, with the exchange the watchlist gives.
  assert.deepEqual(some.symbols.map((s) => s.symbol), ["AAPL", "MSFT"]);
  assert.ok(some.symbols.every((s) => typeof s.primaryExchange === "string"));
  assert.equal(some.barSize, "1 hour");
  assert.equal(some.mode, "lean");
});

Deno.test("ibkrIngestOptions() refuses a bar size, mode or range IB cannot serve, naming the value", async () => {
  const base = { start: "2024-01-01", end: "2024-12-31", symbols: ["AAPL"] };
  await assert.rejects(
    () => ibkrIngestOptions({ ...base, barSize: "2 days" }),
    (e: Error) =>
      e instanceof RangeError && /Bar size "2 days" is not an IB bar size/.test(e.message),
  );
  await assert.rejects(
    () => ibkrIngestOptions({ ...base, mode: "fast" }),
    (e: Error) =>
      e instanceof RangeError && /mode "fast" is not one of lean, advanced/.test(e.message),
  );
  await assert.rejects(
    () => ibkrIngestOptions({ ...base, start: "2024-12-31", end: "2024-01-01" }),
    RangeError,
  );
});

Deno.test("selectWatchlist() refuses an empty selection and says which symbols were missing", () => {
  assert.throws(
    () => selectWatchlist([{ symbol: "AAPL" }], ["ZZZZ"], "list.txt"),
    (e: Error) =>
      e instanceof RangeError && e.message === "None of the symbols ZZZZ is in list.txt",
  );
  assert.throws(() => selectWatchlist(undefined, []), RangeError);
  assert.deepEqual(selectWatchlist(undefined, ["SPY"]), [{ symbol: "SPY" }]);
});

Deno.test("deno task ingest --source ibkr refuses a bad bar size with exit 2 before creating a store", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tt_ibkr_req_" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "tasks/ingest.ts",
        "--source",
        "ibkr",
        "--symbols",
        "AAPL",
        "--start",
        "2024-01-01",
        "--end",
        "2024-12-31",
        "--bar-size",
        "2 days",
      ],
      cwd: PROJECT_ROOT,
      env: { TT_DATA_DIR: dir, DATABASE_URL: "" },
    }).output();
    assert.equal(out.code, 2);
    assert.match(new TextDecoder().decode(out.stderr), /Bar size "2 days" is not an IB bar size/);
    assert.equal(existsSync(join(dir, "pgdata")), false, "no embedded store was created");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ibkrIngestOptions() turns --request-timeout seconds into ms and refuses a non-positive one", async () => {
  const base = { start: "2024-01-01", end: "2024-12-31", symbols: ["AAPL"] };
  const o = await ibkrIngestOptions({ ...base, requestTimeoutSeconds: 2.5 });
  assert.equal(o.firstAnswerTimeoutMs, 2_500);
  for (const bad of [0, -1, Infinity, NaN]) {
    await assert.rejects(
      () => ibkrIngestOptions({ ...base, requestTimeoutSeconds: bad }),
      /request timeout must be a positive number of seconds/,
    );
  }
});

Deno.test({
  name:
    "deno task ingest --source ibkr --request-timeout 1 stops fast with a clear message when the gateway never answers",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const gw = new LoopbackGateway({ faults: { neverAnswer: true } });
    const { port } = gw.start();
    const dir = await Deno.makeTempDir({ prefix: "tt_ibkr_silent_" });
    try {
      const t0 = performance.now();
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "tasks/ingest.ts",
          "--source",
          "ibkr",
          "--symbols",
          "AAPL,MSFT",
          "--start",
          "2024-01-01",
          "--end",
          "2024-12-31",
          "--port",
          String(port),
          "--request-timeout",
          "1",
          "--json",
        ],
        cwd: PROJECT_ROOT,
        env: { TT_DATA_DIR: dir, DATABASE_URL: "" },
      }).output();
      const seconds = (performance.now() - t0) / 1000;
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 1, stderr);
      assert.ok(
        stderr.includes(
          `connected to 127.0.0.1:${port} but no historical-data request was answered in 1 s: is the gateway logged in and the API enabled?`,
        ),
        stderr,
      );
      assert.ok(gw.stats.connections >= 1 && gw.stats.unanswered >= 1, "it connected and asked");
      assert.equal(gw.stats.connections, 1, "no reconnect loop");
      assert.ok(seconds < 60, `stopped after ${seconds.toFixed(1)} s (PGlite start included)`);
    } finally {
      await gw.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
