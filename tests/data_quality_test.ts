import assert from "node:assert/strict";
import {
  type BarColumns,
  chooseCalendar,
  classifyBars,
  classifySeries,
  closedReason,
  type DayQuality,
  isSession,
  nyseHalfDay,
  nyseHolidays,
  runQualityReport,
  seriesNotes,
  summarizeQuality,
} from "@lib/data/mod.ts";
import { readDataQuality, upsertInstruments, upsertPrices } from "@lib/db/mod.ts";
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
    ["A", "2025-07-01T15:30:00Z", 10.005, 0], // 11:30 New York: in the session
    ["A", "2025-07-01T23:30:00Z", 10.01, 0], // 19:30 New York, same day; 2025-07-02 in UTC
    ["A", "2025-07-02T13:30:00Z", 10.02],
    ["B", "2025-07-02T13:30:00Z", 20],
  ]);
  const rows = classifyBars(bars, "1 hour");
  // Zero volume after the close (19:30) is not flagged; inside the session it is.
  assert.deepEqual(rows.map((r) => [r.instrument, r.day, r.class, r.detail]), [
    ["A", "2025-07-01", "suspicious", "zero volume on 1 of 2 regular-session bars"],
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

/** Every date from `from` to `to` inclusive. */
function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let t = D(from); t <= D(to); t += 86_400_000) {
    out.push(new Date(t).toISOString().slice(0, 10));
  }
  return out;
}
const isWeekend = (d: string) => [0, 6].includes(new Date(`${d}T00:00:00Z`).getUTCDay());

Deno.test("NYSE calendar: known holidays, observed days, special closures and half days", () => {
  // Closed.
  for (
    const [day, why] of [
      ["2021-04-02", "Good Friday"],
      ["2012-10-29", "Hurricane Sandy"],
      ["2012-10-30", "Hurricane Sandy"],
      ["2001-09-13", "September 11 attacks"],
      ["2018-12-05", "national day of mourning (G. H. W. Bush)"],
      ["2025-01-09", "national day of mourning (Carter)"],
      ["2007-01-02", "national day of mourning (Ford)"],
      ["2004-06-11", "national day of mourning (Reagan)"],
      ["2021-07-05", "Independence Day"], // July 4 on a Sunday → Monday
      ["2020-07-03", "Independence Day"], // July 4 on a Saturday → Friday
      ["2021-12-24", "Christmas"], // Christmas on a Saturday → Friday
      ["2022-06-20", "Juneteenth"], // June 19 on a Sunday → Monday
      ["2019-01-21", "Martin Luther King Jr. Day"],
      ["2019-02-18", "Washington's Birthday"],
      ["2019-05-27", "Memorial Day"],
      ["2019-09-02", "Labor Day"],
      ["2019-11-28", "Thanksgiving"],
      ["2000-04-21", "Good Friday"],
      ["1990-01-01", "New Year's Day"],
      ["2030-12-25", "Christmas"],
    ]
  ) {
    assert.equal(isSession("NYSE", day), false, day);
    assert.equal(closedReason("NYSE", day), why, day);
  }
  // Open: New Year's Day on a Saturday is not observed on the Friday before; no Juneteenth
  // before 2022; no MLK Day before 1998; ordinary days.
  for (const day of ["2021-12-31", "2010-12-31", "2021-06-18", "1997-01-20", "2021-04-05"]) {
    assert.equal(isSession("NYSE", day), true, day);
  }
  assert.equal(isSession("NYSE", "2021-04-03"), false); // Saturday
  assert.equal(closedReason("NYSE", "2021-04-03"), "weekend");
  assert.equal(isSession("24x7", "2021-04-03"), true);
  assert.equal(isSession("weekdays", "2021-04-02"), true);
  // Half days.
  assert.equal(nyseHalfDay("2019-07-03"), "July 3 early close");
  assert.equal(nyseHalfDay("2019-11-29"), "day after Thanksgiving early close");
  assert.equal(nyseHalfDay("2018-12-24"), "Christmas Eve early close");
  assert.equal(nyseHalfDay("2020-07-02"), undefined); // July 3 is the observed holiday
  assert.equal(nyseHalfDay("2021-12-24"), undefined); // closed, not a half day
  assert.equal(nyseHalfDay("2019-07-05"), undefined);
  // 9 or 10 rule holidays a year on weekdays, over 1990–2030; 2022 has 9 (New Year's on a Saturday).
  for (let y = 1990; y <= 2030; y++) {
    const n = nyseHolidays(y).size;
    assert.ok(n >= 8 && n <= 14, `${y}: ${n}`);
  }
  assert.deepEqual([...nyseHolidays(2022).keys()].sort(), [
    "2022-01-17",
    "2022-02-21",
    "2022-04-15",
    "2022-05-30",
    "2022-06-20",
    "2022-07-04",
    "2022-09-05",
    "2022-11-24",
    "2022-12-26",
  ]);
  assert.throws(() => isSession("NYSE", "2021-4-2"), /not a YYYY-MM-DD day: 2021-4-2/);
});

Deno.test("chooseCalendar(): weekend share, exchange, sec type, default", () => {
  assert.equal(chooseCalendar({ weekendShare: 0.05 }).calendar, "24x7");
  assert.equal(chooseCalendar({ weekendShare: 0.049 }).calendar, "NYSE");
  assert.equal(chooseCalendar({ exchange: "nasdaq", weekendShare: 0 }).calendar, "NYSE");
  assert.equal(chooseCalendar({ exchange: "PAXOS", weekendShare: 0 }).calendar, "24x7");
  assert.equal(
    chooseCalendar({ exchange: "IDEALPRO", secType: "CASH", weekendShare: 0 }).calendar,
    "weekdays",
  );
});

Deno.test("classifyBars(): a crypto series with weekend bars does not make stocks missing on weekends", () => {
  const span = daysBetween("2021-03-29", "2021-04-11"); // includes Good Friday 2021-04-02
  const stockDays = span.filter((d) => isSession("NYSE", d));
  const bars = make([
    ...stockDays.map((d, i) => ["AAA", d, 10 + i * 0.01] as [string, string, number]),
    ...stockDays.map((d, i) => ["BBB", d, 20 + i * 0.01] as [string, string, number]),
    ...span.map((d, i) => ["BTC", d, 50_000 + i * 10] as [string, string, number]),
  ]);
  const { rows, series } = classifySeries(bars, "1 day");
  const k = byKey(rows);
  assert.equal(stockDays.length, 9);
  for (const sym of ["AAA", "BBB"]) {
    assert.equal(rows.filter((r) => r.instrument === sym).length, 9, sym);
    assert.equal(rows.filter((r) => r.instrument === sym && r.class !== "present").length, 0);
    assert.equal(k[`${sym} 2021-04-03`], undefined); // Saturday: not a session, no row
    assert.equal(k[`${sym} 2021-04-02`], undefined); // Good Friday
  }
  assert.equal(rows.filter((r) => r.instrument === "BTC").length, 14);
  assert.equal(rows.filter((r) => r.class === "missing").length, 0);
  assert.deepEqual(series.map((s) => [s.symbol, s.calendar]), [
    ["AAA", "NYSE"],
    ["BBB", "NYSE"],
    ["BTC", "24x7"],
  ]);
  // A stock gap on a real session is still missing; a crypto gap on a Sunday too.
  const gappy = make([
    ...stockDays.filter((d) => d !== "2021-04-06").map((d) =>
      ["AAA", d, 10] as [string, string, number]
    ),
    ...span.filter((d) => d !== "2021-04-04").map((d, i) =>
      ["BTC", d, 50_000 + i] as [string, string, number]
    ),
  ]);
  const g = classifyBars(gappy, "1 day", { repeatBars: 100 });
  assert.deepEqual(g.filter((r) => r.class === "missing").map((r) => `${r.instrument} ${r.day}`), [
    "AAA 2021-04-06",
    "BTC 2021-04-04",
  ]);
  assert.ok(span.some(isWeekend));
});

Deno.test("classifyBars(): NYSE half days are present with a note; a bar on a holiday is kept", () => {
  const rows = classifyBars(
    make([["A", "2019-07-02", 10], ["A", "2019-07-03", 10.1], ["A", "2019-07-04", 10.2], [
      "A",
      "2019-07-05",
      10.3,
    ]]),
    "1 day",
  );
  assert.deepEqual(rows.map((r) => [r.day, r.class, r.detail]), [
    ["2019-07-02", "present", null],
    ["2019-07-03", "present", "NYSE July 3 early close"],
    ["2019-07-04", "present", "bar on a day the NYSE calendar is closed"],
    ["2019-07-05", "present", null],
  ]);
});

Deno.test("classifyBars(): an index without volume is not flagged for zero volume every day", () => {
  const days = daysBetween("2020-01-02", "2020-01-31").filter((d) => isSession("NYSE", d));
  const bars = make([
    ...days.map((d, i) =>
      ["AAA", d, 10 + i * 0.01, i === 3 ? 0 : 1000] as [string, string, number, number]
    ),
    ...days.map((d, i) => ["^GSPC", d, 3200 + i, 0] as [string, string, number, number]),
  ]);
  bars.volume[bars.volume.length - 1] = NaN; // a missing volume counts as none, not as bad OHLC
  const { rows, series } = classifySeries(bars, "1 day");
  const idx = rows.filter((r) => r.instrument === "^GSPC");
  assert.equal(idx.length, days.length);
  assert.deepEqual(idx.filter((r) => r.class !== "present"), []);
  // A stock with one zero-volume day is still flagged.
  const aaa = rows.filter((r) => r.instrument === "AAA" && r.class === "suspicious");
  assert.deepEqual(aaa.map((r) => [r.day, r.detail]), [[days[3], "zero volume"]]);
  assert.deepEqual(series.map((s) => s.noVolume), [false, true]);
  const notes = seriesNotes(series);
  assert.equal(notes.filter((n) => n.includes("no volume")).length, 1);
  assert.match(notes[0], /^\^GSPC has no volume on any bar/);
});

for (const factory of storeFactories()) {
  Deno.test(`runQualityReport() [${factory.name}] uses each instrument's stored exchange calendar and reports progress`, async () => {
    const store = await factory.open();
    try {
      // ETH is on a crypto venue but the file only has weekday bars: its calendar is 24x7,
      // so the weekend is missing for ETH and not for the stock.
      await upsertInstruments(store, [
        { symbol: "ETH", secType: "CRYPTO", exchange: "PAXOS" },
        { symbol: "MSFT", exchange: "NASDAQ" },
      ]);
      const wk = ["2021-04-01", "2021-04-05", "2021-04-06"];
      await upsertPrices(
        store,
        "1 day",
        make([
          ...wk.map((d, i) => ["ETH", d, 2000 + i] as [string, string, number]),
          ...wk.map((d, i) => ["MSFT", d, 240 + i] as [string, string, number]),
        ]),
      );
      const stages: string[] = [];
      const { rows, series } = await runQualityReport(store, {
        onProgress: (stage, done, total) => stages.push(`${stage} ${done}/${total}`),
      });
      assert.deepEqual(series.map((s) => [s.symbol, s.calendar, s.calendarReason]), [
        ["ETH", "24x7", "exchange PAXOS"],
        ["MSFT", "NYSE", "exchange NASDAQ"],
      ]);
      assert.deepEqual(
        rows.filter((r) => r.class === "missing").map((r) => `${r.instrument} ${r.day}`),
        ["ETH 2021-04-02", "ETH 2021-04-03", "ETH 2021-04-04"],
      );
      assert.deepEqual(stages, [
        "read 0/0",
        "classify 1/2",
        "classify 2/2",
        "store 0/9",
        "store 9/9",
      ]);
    } finally {
      await store.close();
    }
  });
}
