/**
 * Ingest lineage per bar (`tt_prices.ingest_run_id`) and the quality report's use of it
 * (issue 11, items 11 and 15): which run wrote which range, spliced series at run
 * boundaries, implausible prices; and pre-/post-market zero-volume bars not being
 * "suspicious". Store cases run on PGlite and, with `TEST_DATABASE_URL`, on the server;
 * real-data cases read `../shared/data` in place and skip without it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type BarColumns,
  classifySeries,
  findSplices,
  ingestCsv,
  ingestSample,
  PLAUSIBLE_CLOSE,
  readCsvFile,
  runQualityReport,
  SPLICE_DEFAULTS,
  summarizeRuns,
} from "@lib/data/mod.ts";
import {
  emptyBars,
  type Queryable,
  readPricesWithRuns,
  startIngestRun,
  upsertColumns,
  upsertPrices,
} from "@lib/db/mod.ts";
import { Rng } from "@lib/util/mod.ts";
import { storeFactories } from "./support/stores.ts";
import { SHARED_DATA, SHARED_DATA_SKIP_REASON, tempCsv } from "./support/csv_fixtures.ts";

const DAY = 86_400_000;
if (!SHARED_DATA) console.log(`skip: ${SHARED_DATA_SKIP_REASON}`);

/** Weekday bars of one symbol: a seeded random walk (daily sigma about 1.5 %). */
function walk(
  symbol: string,
  days: number,
  seed: number,
  start = Date.UTC(2015, 0, 5),
): BarColumns {
  const rng = new Rng(seed);
  const b = emptyBars();
  let c = 100;
  for (let t = start; b.timestamp.length < days; t += DAY) {
    const wd = new Date(t).getUTCDay();
    if (wd === 0 || wd === 6) continue;
    c *= Math.exp(0.015 * rng.normal());
    b.instrument.push(symbol);
    b.timestamp.push(t);
    b.open.push(c);
    b.high.push(c * 1.01);
    b.low.push(c * 0.99);
    b.close.push(c);
    b.volume.push(1e6);
  }
  return b;
}

function slice(b: BarColumns, from: number, to: number, scale = 1): BarColumns {
  return {
    instrument: b.instrument.slice(from, to),
    timestamp: b.timestamp.slice(from, to),
    open: b.open.slice(from, to).map((x) => x * scale),
    high: b.high.slice(from, to).map((x) => x * scale),
    low: b.low.slice(from, to).map((x) => x * scale),
    close: b.close.slice(from, to).map((x) => x * scale),
    volume: b.volume.slice(from, to),
  };
}

async function runIdsOf(q: Queryable, symbol: string): Promise<(number | null)[]> {
  return (await readPricesWithRuns(q, { instruments: [symbol] })).runIds;
}

for (const factory of storeFactories()) {
  Deno.test(`[${factory.name}] upsertPrices() stamps each bar with the run that last changed it`, async () => {
    const store = await factory.open();
    try {
      const a = await startIngestRun(store, "csv", {});
      const b = await startIngestRun(store, "ibkr", {});
      const bars = walk("AAA", 30, 1);
      // First load (direct COPY), then a rerun of identical rows (staging path).
      await store.transaction((tx) => upsertPrices(tx, "1 day", bars, { runId: a }));
      assert.deepEqual(await runIdsOf(store, "AAA"), new Array(30).fill(a));
      await store.transaction((tx) => upsertPrices(tx, "1 day", bars, { runId: b }));
      assert.deepEqual(
        await runIdsOf(store, "AAA"),
        new Array(30).fill(a),
        "identical rows keep run a",
      );
      // Two changed bars and two new ones: those get run b, the rest stays a.
      const changed = slice(walk("AAA", 32, 1), 26, 32);
      changed.close[0] *= 1.001; // day 26
      changed.volume[1] += 1; // day 27
      await upsertPrices(store, "1 day", changed, { runId: b });
      const ids = await runIdsOf(store, "AAA");
      assert.equal(ids.length, 32);
      assert.deepEqual(ids.slice(24), [a, a, b, b, a, a, b, b]);
      // A write without a run id that changes a bar: its writer is unknown again.
      const again = slice(walk("AAA", 32, 1), 0, 1, 1.01);
      await upsertPrices(store, "1 day", again);
      assert.equal((await runIdsOf(store, "AAA"))[0], null);
      await assert.rejects(() => upsertPrices(store, "1 day", bars, { runId: 0 }), RangeError);
    } finally {
      await store.close();
    }
  });

  Deno.test(`[${factory.name}] upsertColumns() stamp columns: SQL (unnest) path keeps an equal row's stamp`, async () => {
    const store = await factory.open();
    try {
      const a = await startIngestRun(store, "csv", {});
      const b = await startIngestRun(store, "csv", {});
      // ISO strings for the timestamps force the INSERT … unnest path (no binary COPY).
      const write = (closes: number[], run: number) =>
        upsertColumns(store, {
          table: "tt_prices",
          columns: [
            { name: "instrument", type: "text" },
            { name: "bar_size", type: "text" },
            { name: "timestamp", type: "timestamptz" },
            { name: "open", type: "float8" },
            { name: "high", type: "float8" },
            { name: "low", type: "float8" },
            { name: "close", type: "float8" },
            { name: "volume", type: "float8" },
            { name: "ingest_run_id", type: "int8" },
          ],
          key: ["instrument", "bar_size", "timestamp"],
          stamp: ["ingest_run_id"],
          data: [
            ["S", "S"],
            ["1 day", "1 day"],
            ["2020-01-02T00:00:00Z", "2020-01-03T00:00:00Z"],
            closes,
            closes,
            closes,
            closes,
            [1, 1],
            [run, run],
          ],
        });
      await write([10, 11], a);
      await write([10, 12], b);
      assert.deepEqual(await runIdsOf(store, "S"), [a, b]);
      await assert.rejects(
        () =>
          upsertColumns(store, {
            table: "tt_prices",
            columns: [{ name: "instrument", type: "text" }],
            key: ["instrument"],
            stamp: ["instrument"],
            data: [["S"]],
          }),
        /stamp column "instrument" is not a non-key column/,
      );
    } finally {
      await store.close();
    }
  });

  Deno.test(`[${factory.name}] ingestCsv(): a rerun of the same file keeps its run id, a changed bar gets the new run`, async () => {
    const store = await factory.open();
    try {
      const rows = [
        "2020-01-02,10,11,9,10.5,100",
        "2020-01-03,10.5,11,10,10.8,120",
        "2020-01-06,10.8,11.2,10.6,11,90",
      ];
      const header = "Date,Open,High,Low,Close,Volume";
      const one = await tempCsv("ABC.csv", [header, ...rows].join("\n") + "\n");
      const s1 = await ingestCsv(store, one.path, { silent: true });
      const s2 = await ingestCsv(store, one.path, { silent: true });
      assert.notEqual(s1.runId, s2.runId);
      assert.deepEqual(await runIdsOf(store, "ABC"), [s1.runId, s1.runId, s1.runId]);
      const edited = [
        rows[0],
        "2020-01-03,10.5,11,10,10.9,120",
        rows[2],
        "2020-01-07,11,11.5,10.9,11.2,80",
      ];
      const two = await tempCsv("ABC.csv", [header, ...edited].join("\n") + "\n");
      const s3 = await ingestCsv(store, two.path, { silent: true });
      assert.deepEqual(await runIdsOf(store, "ABC"), [s1.runId, s3.runId, s1.runId, s3.runId]);
      const report = await runQualityReport(store, { persist: false });
      assert.deepEqual(
        report.lineage[0].segments.map((s) => [s.runId, s.source, s.from, s.to, s.bars]),
        [
          [s1.runId, "csv", "2020-01-02", "2020-01-02", 1],
          [s3.runId, "csv", "2020-01-03", "2020-01-03", 1],
          [s1.runId, "csv", "2020-01-06", "2020-01-06", 1],
          [s3.runId, "csv", "2020-01-07", "2020-01-07", 1],
        ],
      );
      assert.ok(
        report.lineage[0].segments.every((s) =>
          s.startedAt && !Number.isNaN(Date.parse(s.startedAt))
        ),
      );
      assert.deepEqual(report.runs.map((r) => [r.runId, r.bars, r.instruments]), [
        [s1.runId, 2, 1],
        [s3.runId, 2, 1],
      ]);
      assert.deepEqual(report.splices, [], "small moves at run boundaries are not splices");
      await Deno.remove(one.dir, { recursive: true });
      await Deno.remove(two.dir, { recursive: true });
    } finally {
      await store.close();
    }
  });

  Deno.test(`[${factory.name}] runQualityReport() finds a splice across two runs and names both runs`, async () => {
    const store = await factory.open();
    try {
      const user = await startIngestRun(store, "csv", { path: "mine" });
      const sample = await startIngestRun(store, "sample", {});
      const all = walk("AAPL", 400, 7);
      await upsertPrices(store, "1 day", all, { runId: user });
      // A re-import writes days 150…249 priced ×0.242 (adjusted over unadjusted): −75.8 %.
      await upsertPrices(store, "1 day", slice(all, 150, 250, 0.242), { runId: sample });
      const r = await runQualityReport(store, {});
      assert.deepEqual(r.lineage[0].segments.map((s) => [s.runId, s.bars]), [[user, 150], [
        sample,
        100,
      ], [user, 150]]);
      assert.equal(r.splices.length, 2);
      const [down, up] = r.splices;
      assert.equal(down.kind, "source");
      assert.deepEqual(
        [down.before.runId, down.before.source, down.after.runId, down.after.source],
        [user, "csv", sample, "sample"],
      );
      assert.deepEqual([up.before.runId, up.after.runId], [sample, user]);
      assert.equal(down.day, new Date(all.timestamp[150]).toISOString().slice(0, 10));
      assert.ok(
        Math.abs(down.logReturn - (Math.log(0.242) + Math.log(all.close[150] / all.close[149]))) <
          1e-9,
      );
      assert.ok(down.movePct < -70 && down.movePct > -80, `${down.movePct}`);
      assert.equal(down.threshold, SPLICE_DEFAULTS.floor);
      assert.ok(down.sigma! > 0.01 && down.sigma! < 0.02, `robust sigma ${down.sigma}`);
      // The boundary day is suspicious, named, and stored so.
      const row = r.rows.find((x) => x.day === down.day)!;
      assert.equal(row.class, "suspicious");
      assert.match(
        row.detail!,
        new RegExp(`run ${user} \\(csv\\).*meets run ${sample} \\(sample\\)`),
      );
      const stored = await store.query<{ class: string; detail: string }>(
        "SELECT class, detail FROM tt_data_quality WHERE instrument = 'AAPL' AND day = $1::date",
        [down.day],
      );
      assert.equal(stored[0].class, "suspicious");
      assert.match(stored[0].detail, /level break -7\d\.\d% where run/);
    } finally {
      await store.close();
    }
  });

  Deno.test({
    name:
      `[${factory.name}] the sample's AAPL re-imported over a user's unadjusted daily_sp41 AAPL is a splice (issue 11, item 2)`,
    ignore: !SHARED_DATA,
    async fn() {
      const store = await factory.open();
      try {
        const mine = await ingestCsv(
          store,
          join(SHARED_DATA!, "daily_sp41", "DA-AAPL-T-2021-04-21.csv"),
          { silent: true },
        );
        const sample = await ingestSample(store, { silent: true });
        const r = await runQualityReport(store, { persist: false, symbols: ["AAPL"] });
        assert.deepEqual(
          r.lineage[0].segments.map((s) => [s.runId, s.source, s.from, s.to]),
          [
            [mine.runId, "csv", "1999-11-01", "2013-05-10"],
            [sample.runId, "sample", "2013-05-13", "2018-05-11"],
            [mine.runId, "csv", "2018-05-14", "2021-04-21"],
          ],
        );
        // 2013-05-10 raw 452.97 → 2013-05-13 split-adjusted sample ~51: flagged. In 2018 the
        // two differ by dividends only (a percent or two): not a level break.
        assert.equal(r.splices.length, 1);
        const [f] = r.splices;
        assert.deepEqual([f.day, f.before.runId, f.after.runId, f.kind], [
          "2013-05-13",
          mine.runId,
          sample.runId,
          "source",
        ]);
        assert.ok(f.movePct < -80, `${f.movePct}`);
      } finally {
        await store.close();
      }
    },
  });

  Deno.test({
    name:
      `[${factory.name}] daily_sp41 in one run: one segment per symbol, no splice, real crash days are not splices`,
    ignore: !SHARED_DATA,
    async fn() {
      const store = await factory.open();
      try {
        const symbols = ["AAPL", "C", "PG", "BAC", "WFC", "ADBE"];
        const s = await ingestCsv(store, join(SHARED_DATA!, "daily_sp41"), {
          adjust: true,
          symbols,
          silent: true,
        });
        const r = await runQualityReport(store, { persist: false });
        assert.deepEqual(r.runs.map((x) => [x.runId, x.source, x.instruments]), [[
          s.runId,
          "csv",
          6,
        ]]);
        assert.ok(
          r.lineage.every((l) => l.segments.length === 1 && l.segments[0].runId === s.runId),
        );
        assert.deepEqual(r.splices, []);
        // AAPL −52 % on 2000-09-29 and PG −30 % on 2000-03-07 stay what the move rule says.
        for (
          const [sym, day] of [["AAPL", "2000-09-29"], ["PG", "2000-03-07"], ["C", "2009-02-27"]]
        ) {
          const row = r.rows.find((x) => x.instrument === sym && x.day === day)!;
          assert.match(row.detail ?? "", /move -\d\d\.\d% vs previous close/, `${sym} ${day}`);
          assert.doesNotMatch(row.detail ?? "", /level break/);
        }
      } finally {
        await store.close();
      }
    },
  });
}

Deno.test({
  name:
    "findSplices(): daily_sp41 (adjusted) cut into two runs at 2010 and by year: real returns at the boundaries are not splices",
  ignore: !SHARED_DATA,
  async fn() {
    const dir = join(SHARED_DATA!, "daily_sp41");
    let cut = 0, yearly = 0, yearlyFlags: string[] = [];
    const runs = new Map([[1, { source: "csv", startedAt: "2021-01-01T00:00:00Z" }], [2, {
      source: "ibkr",
      startedAt: "2021-02-01T00:00:00Z",
    }]]);
    for await (const e of Deno.readDir(dir)) {
      const { bars } = await readCsvFile(join(dir, e.name), { adjust: true });
      const at2010 = bars.timestamp.map((t) => (t < Date.UTC(2010, 0, 1) ? 1 : 2));
      const a = findSplices(bars, "1 day", { runIds: at2010, runs });
      cut += a.lineage[0].segments.length - 1;
      assert.deepEqual(a.splices, [], `${e.name} cut at 2010`);
      const byYear = bars.timestamp.map((t) => (new Date(t).getUTCFullYear() % 2 ? 1 : 2));
      const b = findSplices(bars, "1 day", { runIds: byYear, runs });
      yearly += b.lineage[0].segments.length - 1;
      yearlyFlags = yearlyFlags.concat(b.splices.map((f) => `${f.symbol} ${f.day} ${f.movePct}`));
    }
    assert.equal(cut, 41);
    assert.equal(yearly, 897);
    // One real move falls on a year boundary and is beyond the floor: ADBE −19.7 % on the
    // first session of 2001. Prices alone cannot tell it from a splice; it is named for a
    // person to check (1 of 897 boundaries).
    assert.deepEqual(yearlyFlags, ["ADBE 2001-01-02 -19.7"]);
  },
});

Deno.test("findSplices(): a volatile series needs k × sigma, not just the floor; bad options are refused", () => {
  const calm = walk("X", 300, 3);
  const runIds = calm.timestamp.map((_, i) => (i < 150 ? 1 : 2));
  const runs = new Map([[1, { source: "csv", startedAt: "t1" }], [2, {
    source: "csv",
    startedAt: "t2",
  }]]);
  // A 30 % level break: over the floor, and over 10 sigma of a 1.5 % series.
  const broken = { ...calm, close: calm.close.map((c, i) => (i < 150 ? c : c * 0.7)) };
  const a = findSplices(broken, "1 day", { runIds, runs });
  assert.equal(a.splices.length, 1);
  assert.equal(a.splices[0].kind, "run");
  // The same break in a series with a 5 % daily sigma is within 10 sigma: no flag.
  const rng = new Rng(9);
  let c = 100;
  const wild = {
    ...calm,
    close: calm.close.map((_, i) => (c *= Math.exp(0.05 * rng.normal()) * (i === 150 ? 0.7 : 1))),
  };
  const b = findSplices(wild, "1 day", { runIds, runs });
  assert.ok(b.lineage[0].sigma! > 0.04, `sigma ${b.lineage[0].sigma}`);
  assert.deepEqual(b.splices, []);
  assert.equal(findSplices(wild, "1 day", { runIds, runs }, { k: 2 }).splices.length, 1);
  assert.throws(() => findSplices(calm, "1 day", { runIds: [1], runs }), /1 run ids for 300 bars/);
  assert.throws(() => findSplices(calm, "1 day", { runIds, runs }, { floor: 0 }), RangeError);
  // Unknown writers (bars from before lineage) are one segment, source "unknown".
  const none = findSplices(calm, "1 day", { runIds: calm.close.map(() => null), runs });
  assert.deepEqual(none.lineage[0].segments.map((s) => [s.runId, s.source, s.bars]), [[
    null,
    "unknown",
    300,
  ]]);
  assert.deepEqual(summarizeRuns(a.lineage).map((r) => [r.runId, r.bars]), [[1, 150], [2, 150]]);
});

Deno.test("classifySeries(): closes outside PLAUSIBLE_CLOSE make their days suspicious and are listed", () => {
  // Prices in 1/100,000 of a unit from day 5 on (×1e5: about 1e7, above the bound).
  const b = walk("SCALED", 10, 4);
  const k = (x: number[]) => x.map((v, i) => (i >= 5 ? v * 1e5 : v));
  const scaled = { ...b, open: k(b.open), high: k(b.high), low: k(b.low), close: k(b.close) };
  const { rows, implausible } = classifySeries(scaled, "1 day");
  assert.equal(implausible.length, 1);
  assert.equal(implausible[0].bars, 5);
  assert.ok(implausible[0].min > PLAUSIBLE_CLOSE.max);
  const flagged = rows.filter((r) => /outside the plausible range/.test(r.detail ?? ""));
  assert.deepEqual(flagged.map((r) => r.day), rows.slice(5).map((r) => r.day));
  assert.ok(flagged.every((r) => r.class === "suspicious"));
  assert.deepEqual(classifySeries(b, "1 day").implausible, []);
});

Deno.test("classifySeries(): zero volume on pre-/post-market bars is not suspicious; in the session it is", () => {
  const b = emptyBars();
  const bar = (iso: string, v: number) => {
    const c = 10 + b.close.length * 0.01;
    b.instrument.push("A");
    b.timestamp.push(Date.parse(iso));
    b.open.push(c);
    b.high.push(c + 0.1);
    b.low.push(c - 0.1);
    b.close.push(c);
    b.volume.push(v);
  };
  // 2025-07-01 (EDT): 04:00 and 16:00 and 19:00 New York have zero volume, the session has volume.
  bar("2025-07-01T08:00:00Z", 0);
  bar("2025-07-01T13:30:00Z", 500);
  bar("2025-07-01T19:30:00Z", 400);
  bar("2025-07-01T20:00:00Z", 0);
  bar("2025-07-01T23:00:00Z", 0);
  // 2025-07-02: a zero-volume bar inside the session (11:30 New York).
  bar("2025-07-02T13:30:00Z", 300);
  bar("2025-07-02T15:30:00Z", 0);
  // 2025-07-03 is a half day (close 13:00): the 13:30 bar is after the close.
  bar("2025-07-03T13:30:00Z", 200);
  bar("2025-07-03T17:30:00Z", 0);
  const { rows, series } = classifySeries(b, "1 hour");
  assert.deepEqual(rows.map((r) => [r.day, r.class, r.detail]), [
    [
      "2025-07-01",
      "present",
      "3 of 5 bars outside the regular session (3 with zero volume, not flagged)",
    ],
    ["2025-07-02", "suspicious", "zero volume on 1 of 2 bars"],
    [
      "2025-07-03",
      "present",
      "1 of 2 bars outside the regular session (1 with zero volume, not flagged); NYSE July 3 early close",
    ],
  ]);
  assert.equal(series[0].extendedHoursBars, 4);
  // A 24x7 series has no regular session: zero volume is flagged whenever it occurs.
  const coin = classifySeries(b, "1 hour", { instruments: { A: { exchange: "PAXOS" } } });
  assert.equal(coin.rows.find((r) => r.day === "2025-07-01")!.class, "suspicious");
});

Deno.test({
  name:
    "runQualityReport() on hourly_33: days with zero-volume pre-/post-market bars are present (was: every day suspicious)",
  ignore: !SHARED_DATA,
  async fn() {
    const { openStore } = await import("@lib/db/mod.ts");
    const store = await openStore({ dataDir: "memory://" });
    try {
      const files = ["AAPL_1h.csv", "SPY_1h.csv", "NVDA_1h.csv"].map((f) => ({
        path: join(SHARED_DATA!, "hourly_33", f),
      }));
      await ingestCsv(store, files, { silent: true });
      const r = await runQualityReport(store, { barSize: "1 hour", persist: false });
      assert.equal(r.summary.days, 65);
      // Before: 65 of 65 days suspicious for each symbol. Now the first day (a 13:30 session
      // bar with volume 0, where the download starts) and NVDA's bad post-market print of
      // 2025-07-09 (−29 % then back) remain.
      const suspicious = r.rows.filter((x) => x.class === "suspicious").map((x) =>
        `${x.instrument} ${x.day}`
      );
      assert.deepEqual(suspicious, [
        "AAPL 2025-06-26",
        "NVDA 2025-06-26",
        "NVDA 2025-07-09",
        "SPY 2025-06-26",
      ]);
      assert.equal(r.summary.totals.present, 3 * 65 - 4);
      assert.ok(
        r.series.every((s) => s.extendedHoursBars / s.bars > 0.5),
        "most bars are pre-/post-market",
      );
      const first = r.rows.find((x) => x.instrument === "AAPL" && x.day === "2025-06-26")!;
      assert.equal(first.detail, "zero volume on 1 of 3 regular-session bars");
    } finally {
      await store.close();
    }
  },
});
