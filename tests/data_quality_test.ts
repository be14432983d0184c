import assert from "node:assert/strict";
import {
  type BarColumns,
  classifyBars,
  type DayQuality,
  runQualityReport,
  summarizeQuality,
} from "@lib/data/mod.ts";
import { readDataQuality, upsertPrices } from "@lib/db/mod.ts";
import { storeFactories } from "./support/stores.ts";

const D = (s: string) => Date.parse(`${s}T00:00:00Z`);

/** Bars from compact rows: [symbol, date or ISO time, close, volume?, {o,h,l}?]. */
function make(
  rows: [string, string, number, number?, { o?: number; h?: number; l?: number }?][],
): BarColumns {
  const b: BarColumns = {
    instrument: [],
    timestamp: [],
    open: [],
    high: [],
    low: [],
    close: [],
    volume: [],
  };
  for (const [sym, t, c, v, x] of rows) {
    b.instrument.push(sym);
    b.timestamp.push(t.length === 10 ? D(t) : Date.parse(t));
    b.open.push(x?.o ?? c);
    b.high.push(x?.h ?? c * 1.01);
    b.low.push(x?.l ?? c * 0.99);
    b.close.push(c);
    b.volume.push(v ?? 1000);
  }
  return b;
}

const byKey = (rows: DayQuality[]) =>
  Object.fromEntries(rows.map((r) => [`${r.instrument} ${r.day}`, r.class]));

Deno.test("classifyBars() marks days before the first bar not_listed and gaps after it missing", () => {
  const days = ["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07", "2020-01-08"];
  const bars = make([
    ...days.map((d, i) => ["AAA", d, 10 + i * 0.1] as [string, string, number]),
    ["BBB", "2020-01-03", 20],
    ["BBB", "2020-01-06", 20.1],
    ["BBB", "2020-01-08", 20.2],
  ]);
  const rows = classifyBars(bars, "1 day");
  assert.equal(rows.length, 10);
  assert.deepEqual(byKey(rows), {
    "AAA 2020-01-02": "present",
    "AAA 2020-01-03": "present",
    "AAA 2020-01-06": "present",
    "AAA 2020-01-07": "present",
    "AAA 2020-01-08": "present",
    "BBB 2020-01-02": "not_listed",
    "BBB 2020-01-03": "present",
    "BBB 2020-01-06": "present",
    "BBB 2020-01-07": "missing",
    "BBB 2020-01-08": "present",
  });
  const s = summarizeQuality(rows);
  const bbb = s.symbols.find((x) => x.symbol === "BBB")!;
  assert.deepEqual(bbb, {
    symbol: "BBB",
    present: 3,
    suspicious: 0,
    missing: 1,
    notListed: 1,
    listedDays: 4,
    coveragePct: 75,
  });
  assert.deepEqual(s.totals, { present: 8, suspicious: 0, missing: 1, not_listed: 1 });
  assert.deepEqual(s.worstDays, [{
    day: "2020-01-07",
    missing: 1,
    suspicious: 0,
    symbols: ["BBB"],
  }]);
});

Deno.test("classifyBars() marks days after the last bar missing (the market was open)", () => {
  const rows = classifyBars(
    make([["A", "2020-01-02", 1], ["A", "2020-01-03", 1.01], ["B", "2020-01-02", 5]]),
    "1 day",
  );
  assert.deepEqual(rows.find((r) => r.instrument === "B" && r.day === "2020-01-03"), {
    instrument: "B",
    day: "2020-01-03",
    class: "missing",
    detail: "after last bar 2020-01-02",
  });
});

Deno.test("classifyBars() flags zero volume and inconsistent OHLC as suspicious", () => {
  const rows = classifyBars(
    make([
      ["A", "2020-01-02", 10],
      ["A", "2020-01-03", 10.1, 0],
      ["A", "2020-01-06", 10.2, 100, { h: 10.1 }],
      ["A", "2020-01-07", 10.3],
    ]),
    "1 day",
  );
  assert.deepEqual(rows.map((r) => r.class), ["present", "suspicious", "suspicious", "present"]);
  assert.equal(rows[1].detail, "zero volume");
  assert.match(rows[2].detail!, /^OHLC inconsistent \(o 10\.2, h 10\.1,/);
});

Deno.test("classifyBars() flags a move over the threshold unless a split ratio explains it", () => {
  const bars = make([
    ["A", "2020-01-02", 100],
    ["A", "2020-01-03", 130], // +30 %: suspicious at 25 %
    ["A", "2020-01-06", 130.5],
    ["A", "2020-01-07", 65.3], // ≈ 1/2: a 2:1 split
    ["A", "2020-01-08", 9.4], // ≈ 1/7 of 65.3 (0.144): a 7:1 split
    ["A", "2020-01-09", 94], // ×10: a 1:10 reverse split
    ["A", "2020-01-10", 110], // +17 %: under the threshold
  ]);
  const rows = classifyBars(bars, "1 day");
  assert.deepEqual(rows.map((r) => r.class), [
    "present",
    "suspicious",
    "present",
    "present",
    "present",
    "present",
    "present",
  ]);
  assert.equal(rows[1].detail, "move +30.0% vs previous close (no split explains it)");
  assert.equal(rows[3].detail, "move -50.0% vs previous close matches a 2:1 split");
  assert.equal(rows[4].detail, "move -85.6% vs previous close matches a 7:1 split");
  assert.equal(rows[5].detail, "move +900.0% vs previous close matches a 1:10 split");
  // A stricter threshold catches the +17 % move too.
  assert.equal(classifyBars(bars, "1 day", { moveThreshold: 0.15 })[6].class, "suspicious");
});

Deno.test("classifyBars() flags a close repeated on repeatBars consecutive bars, not one fewer", () => {
  const dates = [
    "2020-01-02",
    "2020-01-03",
    "2020-01-06",
    "2020-01-07",
    "2020-01-08",
    "2020-01-09",
    "2020-01-10",
  ];
  const five = make(
    dates.map((d, i) =>
      ["A", d, i >= 1 && i <= 5 ? 7 : 7.5 + i * 0.01] as [string, string, number]
    ),
  );
  assert.deepEqual(classifyBars(five, "1 day").map((r) => r.class), [
    "present",
    "suspicious",
    "suspicious",
    "suspicious",
    "suspicious",
    "suspicious",
    "present",
  ]);
  assert.equal(classifyBars(five, "1 day")[1].detail, "close 7 repeated on 5 consecutive bars");
  assert.ok(classifyBars(five, "1 day", { repeatBars: 6 }).every((r) => r.class === "present"));
});

Deno.test("classifyBars() groups intraday bars into New York days and counts zero-volume bars", () => {
  const bars = make([
    ["A", "2025-07-01T13:30:00Z", 10], // 09:30 New York
    ["A", "2025-07-01T23:30:00Z", 10.01, 0], // 19:30 New York, same day; 2025-07-02 in UTC
    ["A", "2025-07-02T13:30:00Z", 10.02],
    ["B", "2025-07-02T13:30:00Z", 20],
  ]);
  const rows = classifyBars(bars, "1 hour");
  assert.deepEqual(rows.map((r) => [r.instrument, r.day, r.class, r.detail]), [
    ["A", "2025-07-01", "suspicious", "zero volume on 1 of 2 bars"],
    ["A", "2025-07-02", "present", null],
    ["B", "2025-07-01", "not_listed", "before first bar 2025-07-02"],
    ["B", "2025-07-02", "present", null],
  ]);
});

Deno.test("classifyBars() refuses unsorted input and bad options", () => {
  assert.throws(
    () => classifyBars(make([["B", "2020-01-02", 1], ["A", "2020-01-02", 1]]), "1 day"),
    TypeError,
  );
  assert.throws(
    () => classifyBars(make([["A", "2020-01-03", 1], ["A", "2020-01-02", 1]]), "1 day"),
    TypeError,
  );
  assert.throws(() => classifyBars(make([]), "1 day", { moveThreshold: 0 }), RangeError);
  assert.throws(() => classifyBars(make([]), "1 day", { repeatBars: 1 }), RangeError);
});

for (const factory of storeFactories()) {
  Deno.test(`runQualityReport() [${factory.name}] stores the classes and replaces them on a rerun`, async () => {
    const store = await factory.open();
    try {
      await upsertPrices(
        store,
        "1 day",
        make([["A", "2020-01-02", 10], ["A", "2020-01-03", 10.1], ["B", "2020-01-03", 5]]),
      );
      const first = await runQualityReport(store);
      assert.deepEqual(first.summary.totals, {
        present: 3,
        suspicious: 0,
        missing: 0,
        not_listed: 1,
      });
      assert.deepEqual(await readDataQuality(store), [
        { instrument: "A", day: "2020-01-02", class: "present", detail: null },
        { instrument: "A", day: "2020-01-03", class: "present", detail: null },
        {
          instrument: "B",
          day: "2020-01-02",
          class: "not_listed",
          detail: "before first bar 2020-01-03",
        },
        { instrument: "B", day: "2020-01-03", class: "present", detail: null },
      ]);
      // A new day where B has no bar: B becomes missing there; the stored rows follow.
      await upsertPrices(store, "1 day", make([["A", "2020-01-06", 10.2]]));
      await runQualityReport(store);
      const b = await readDataQuality(store, { instruments: ["B"], classes: ["missing"] });
      assert.deepEqual(b, [{
        instrument: "B",
        day: "2020-01-06",
        class: "missing",
        detail: "after last bar 2020-01-03",
      }]);
      assert.equal((await readDataQuality(store)).length, 6);
    } finally {
      await store.close();
    }
  });
}
