/**
 * Import of point-in-time alternative data (issue 16): canonical and mapped CSV, JSON
 * lines, per-kind rules, the date-only known_at rule, a battery of malformed files, all or
 * nothing, idempotent reruns and revisions kept, on PGlite and the server. Fixtures are
 * GENERATED (tests/support/alt_fixtures.ts), not market data.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { listIngestRuns, readAltValues } from "@lib/db/mod.ts";
import {
  dateOnlyKnownAt,
  ingestAltData,
  parseAltMap,
  readAltFile,
  readAltText,
  runAltQualityReport,
} from "@lib/data/mod.ts";
import { storeFactories } from "./support/stores.ts";
import {
  GENERATED,
  generatedEarningsCsv,
  generatedSentimentJsonl,
  writeAltFile,
} from "./support/alt_fixtures.ts";

const H = "instrument,event_time,known_at,field,value";
const iso = (ms: number) => new Date(ms).toISOString();

Deno.test("readAltText() reads canonical columns; instruments upper-cased; extra columns kept as meta", () => {
  const r = readAltText(
    `${H},provenance\naapl,2018-02-01,2018-02-01T21:30:00Z,eps_surprise_pct,4.2,${GENERATED}\n`,
    "e.csv",
    { kind: "earnings" },
  );
  assert.equal(r.values.length, 1);
  const v = r.values[0];
  assert.equal(v.instrument, "AAPL");
  assert.equal(v.source, "earnings");
  assert.equal(
    iso(v.eventTime),
    "2018-02-01T00:00:00.000Z",
    "a date-only event is the date at 00:00 UTC",
  );
  assert.equal(iso(v.knownAt), "2018-02-01T21:30:00.000Z");
  assert.equal(v.value, 4.2);
  assert.deepEqual(v.meta, { provenance: GENERATED });
});

Deno.test("a date-only known_at is the midnight ending that day in the exchange zone (EST and EDT)", () => {
  const text =
    `${H}\nAAPL,2018-02-01,2018-02-01,sentiment,0.1\nAAPL,2018-07-02,2018-07-02,sentiment,0.2\n`;
  const r = readAltText(text, "s.csv", { kind: "sentiment" });
  assert.deepEqual(r.values.map((v) => iso(v.knownAt)), [
    "2018-02-02T05:00:00.000Z", // 2018-02-02 00:00 EST
    "2018-07-03T04:00:00.000Z", // 2018-07-03 00:00 EDT
  ]);
  assert.equal(dateOnlyKnownAt("2018-02-01"), r.values[0].knownAt);
  // After the close of that day (16:00 New York): not usable at that day's decision.
  assert.ok(r.values[0].knownAt > Date.UTC(2018, 1, 1, 21));
  // Wall times without offset are New York time by default, or --time-zone.
  const naive = readAltText(`${H}\nAAPL,2018-02-01,2018-02-01 16:00,sentiment,0.1\n`, "s.csv", {
    kind: "sentiment",
  });
  assert.equal(iso(naive.values[0].knownAt), "2018-02-01T21:00:00.000Z");
  const utc = readAltText(`${H}\nAAPL,2018-02-01,2018-02-01 16:00,sentiment,0.1\n`, "s.csv", {
    kind: "sentiment",
    timeZone: "UTC",
  });
  assert.equal(iso(utc.values[0].knownAt), "2018-02-01T16:00:00.000Z");
});

Deno.test("--map maps vendor columns; JSON lines read the same way", () => {
  const csv = readAltText(
    "ticker,period_end,published,surprise_pct\nMSFT,2018-01-31,2018-02-01T21:05:00Z,-1.5\n",
    "v.csv",
    {
      kind: "earnings",
      map: "known_at=published,value=surprise_pct,instrument=ticker,event_time=period_end",
    },
  );
  assert.equal(csv.values[0].field, "eps_surprise_pct", "earnings default field");
  assert.equal(csv.values[0].value, -1.5);
  const jsonl = readAltText(generatedSentimentJsonl(["AAPL"], 3), "s.jsonl", {
    kind: "sentiment",
    map: { instrument: "ticker", event_time: "day", known_at: "published", value: "score" },
  });
  assert.equal(jsonl.values.length, 3);
  assert.deepEqual(jsonl.values.map((v) => v.instrument), ["AAPL", "AAPL", "AAPL"]);
  assert.equal(jsonl.values[0].field, "sentiment");
  assert.equal(iso(jsonl.values[0].knownAt), "2018-01-02T17:00:00.000Z", "12:00 New York");
  assert.deepEqual(jsonl.values[0].meta, { provenance: GENERATED });
  assert.deepEqual(parseAltMap("known_at=published, value=x"), {
    known_at: "published",
    value: "x",
  });
  assert.throws(() => parseAltMap("when=published"), /unknown column "when"/);
  assert.throws(() => parseAltMap("value=a,value=b"), /value is mapped twice/);
});

Deno.test("kind rules: earnings announcements may be known in advance, a calendar file gives announcements, insider sides sign, options ratios are ≥ 0", () => {
  const cal = readAltText(
    "instrument,event_time,known_at\nAAPL,2018-02-01,2018-01-02\n",
    "cal.csv",
    { kind: "earnings" },
  );
  assert.equal(cal.values[0].field, "announcement");
  assert.ok(Number.isNaN(cal.values[0].value));
  assert.throws(
    () =>
      readAltText(`${H}\nAAPL,2018-02-01,2018-01-02,eps_surprise_pct,3\n`, "e.csv", {
        kind: "earnings",
      }),
    (e: Error) =>
      e instanceof RangeError && /e\.csv line 2/.test(e.message) &&
      /known_at "2018-01-02" is before event_time "2018-02-01"/.test(e.message),
  );
  const ins = readAltText(
    "instrument,event_time,known_at,value,side\nAAPL,2018-02-01,2018-02-03,100,sell\nAAPL,2018-02-05,2018-02-06,50,P\n",
    "i.csv",
    { kind: "insider" },
  );
  assert.deepEqual(ins.values.map((v) => [v.field, v.value]), [
    ["insider_net_shares", -100],
    ["insider_net_shares", 50],
  ]);
  assert.throws(
    () =>
      readAltText(
        "instrument,event_time,known_at,value,side\nAAPL,2018-02-01,2018-02-03,100,gift\n",
        "i.csv",
        {
          kind: "insider",
        },
      ),
    /i\.csv line 2: side "gift" is not buy/,
  );
  assert.throws(
    () => readAltText(`${H}\nAAPL,2018-02-01,2018-02-01,,-0.5\n`, "o.csv", { kind: "options" }),
    /o\.csv line 2: options_put_call -0\.5 is negative/,
  );
  // generic: any field, known before the event allowed (forecasts), but a field is needed.
  const gen = readAltText(`${H}\nAAPL,2018-03-01,2018-02-01,gdp_nowcast,2.1\n`, "g.csv", {
    kind: "generic",
  });
  assert.equal(gen.values[0].field, "gdp_nowcast");
  assert.throws(
    () =>
      readAltText("instrument,event_time,known_at,value\nAAPL,2018-03-01,2018-02-01,2\n", "g.csv", {
        kind: "generic",
      }),
    /g\.csv line 1: no field column .*--field NAME/,
  );
});

/** Malformed inputs: [name, text, options, expected error class, message pattern]. */
const BATTERY: [string, string, Record<string, unknown>, ErrorConstructor, RegExp][] = [
  ["empty file", "", {}, SyntaxError, /x\.csv: the file is empty/],
  ["header only", `${H}\n`, {}, SyntaxError, /x\.csv: no data rows/],
  [
    "no known_at column",
    "instrument,event_time,value\nAAPL,2018-02-01,1\n",
    {},
    SyntaxError,
    /x\.csv line 1: no known_at column \(header: instrument, event_time, value\).*never guessed/,
  ],
  [
    "a mapped column the header lacks",
    `${H}\nAAPL,2018-02-01,2018-02-02,sentiment,1\n`,
    { map: "value=score" },
    SyntaxError,
    /x\.csv line 1: --map value=score names a column the file lacks/,
  ],
  [
    "unparsable event_time",
    `${H}\nAAPL,2018-02-30,2018-03-02,sentiment,1\n`,
    {},
    SyntaxError,
    /x\.csv line 2: event_time "2018-02-30" is not a valid date\/time/,
  ],
  [
    "known_at missing on a row",
    `${H}\nAAPL,2018-02-01,2018-02-02,sentiment,1\nAAPL,2018-02-02,,sentiment,1\n`,
    {},
    RangeError,
    /x\.csv line 3: known_at is missing/,
  ],
  [
    "known_at before the event (sentiment)",
    `${H}\nAAPL,2018-02-01T15:00:00Z,2018-02-01T14:00:00Z,sentiment,1\n`,
    {},
    RangeError,
    /x\.csv line 2: known_at "2018-02-01T14:00:00Z" is before event_time/,
  ],
  [
    "known_at in the future",
    `${H}\nAAPL,2018-02-01,2199-01-01,sentiment,1\n`,
    {},
    RangeError,
    /x\.csv line 2: known_at "2199-01-01" is in the future/,
  ],
  [
    "non-finite value",
    `${H}\nAAPL,2018-02-01,2018-02-02,sentiment,NaN\n`,
    {},
    RangeError,
    /x\.csv line 2: value "NaN" is not a finite number/,
  ],
  [
    "value not a number",
    `${H}\nAAPL,2018-02-01,2018-02-02,sentiment,0x1F\n`,
    {},
    SyntaxError,
    /x\.csv line 2: value "0x1F" is not a finite number/,
  ],
  [
    "empty value where one is required",
    `${H}\nAAPL,2018-02-01,2018-02-02,sentiment,\n`,
    {},
    RangeError,
    /x\.csv line 2: value is empty/,
  ],
  [
    "NUL in the instrument",
    `${H}\nAA\u0000PL,2018-02-01,2018-02-02,sentiment,1\n`,
    {},
    RangeError,
    /x\.csv line 2: instrument .* contains a NUL byte/,
  ],
  [
    "over-long instrument",
    `${H}\n${"A".repeat(65)},2018-02-01,2018-02-02,sentiment,1\n`,
    {},
    RangeError,
    /x\.csv line 2: symbol .* is 65 characters long \(at most 64\)/,
  ],
  [
    "over-long field",
    `${H}\nAAPL,2018-02-01,2018-02-02,${"f".repeat(65)},1\n`,
    {},
    RangeError,
    /x\.csv line 2: field .* is 65 characters long/,
  ],
  [
    "field with a colon",
    `${H}\nAAPL,2018-02-01,2018-02-02,a:b,1\n`,
    {},
    RangeError,
    /x\.csv line 2: field "a:b" may hold only letters/,
  ],
  [
    "over-long meta text",
    `${H},note\nAAPL,2018-02-01,2018-02-02,sentiment,1,${"n".repeat(1025)}\n`,
    {},
    RangeError,
    /x\.csv line 2: column "note" holds 1025 characters/,
  ],
  [
    "a row with too many fields",
    `${H}\nAAPL,2018-02-01,2018-02-02,sentiment,1,extra\n`,
    {},
    SyntaxError,
    /x\.csv line 2: has 6 fields, the header has 5/,
  ],
  [
    "semicolon file",
    `instrument;event_time;known_at;field;value\nAAPL;2018-02-01;2018-02-02;sentiment;1\n`,
    {},
    SyntaxError,
    /x\.csv line 1: the header does not split on ","; the file seems to use ";"/,
  ],
  [
    "implausible year",
    `${H}\nAAPL,1700-02-01,2018-02-02,sentiment,1\n`,
    {},
    RangeError,
    /x\.csv line 2: implausible year 1700/,
  ],
];

for (const [name, text, extra, Cls, pattern] of BATTERY) {
  Deno.test(`readAltText() refuses a file with ${name}, naming file, line and value`, () => {
    assert.throws(
      () => readAltText(text, "x.csv", { kind: "sentiment", ...extra }),
      (e: Error) => {
        assert.ok(e instanceof Cls, `${e.constructor.name}: ${e.message}`);
        assert.match(e.message, pattern);
        return true;
      },
    );
  });
}

Deno.test("readAltText() lists every rule violation of a file and skipBadRows keeps the good rows", () => {
  const text = `${H}\nAAPL,2018-02-01,2018-02-02,sentiment,1\nAAPL,2018-02-02,,sentiment,1\n` +
    `AAPL,2018-02-03,2018-02-04,sentiment,inf\nAAPL,2018-02-05,2018-02-06,sentiment,0.5\n`;
  assert.throws(
    () => readAltText(text, "x.csv", { kind: "sentiment" }),
    /x\.csv: 2 rows break the rules: line 3: known_at is missing.*; line 4: value "inf"/,
  );
  const r = readAltText(text, "x.csv", { kind: "sentiment", skipBadRows: true });
  assert.deepEqual(r.values.map((v) => v.value), [1, 0.5]);
  assert.deepEqual(r.rejected.map((x) => x.line), [3, 4]);
});

Deno.test("readAltText() refuses a JSON-lines line that is not an object, and a number as a time", () => {
  assert.throws(
    () =>
      readAltText(
        '{"instrument":"A","event_time":"2018-02-01","known_at":"2018-02-02","value":1}\n[1,2]\n',
        "s.jsonl",
        { kind: "sentiment" },
      ),
    /s\.jsonl line 2: not a JSON object: \[1,2\]/,
  );
  assert.throws(
    () =>
      readAltText(
        '{"instrument":"A","event_time":"2018-02-01","known_at":1517529600,"value":1}\n',
        "s.jsonl",
        { kind: "sentiment" },
      ),
    /s\.jsonl line 1: known_at 1517529600 is not a date\/time text/,
  );
  assert.throws(
    () =>
      readAltText('{"instrument":"A","event_time":"2018-02-01",\n', "s.jsonl", {
        kind: "sentiment",
      }),
    /s\.jsonl line 1: not a JSON object/,
  );
});

Deno.test("readAltFile() refuses a file that is not UTF-8, naming the byte and line", async () => {
  const bytes = new TextEncoder().encode(`${H}\nAAPL,2018-02-01,2018-02-02,sentiment,1\nX`);
  const bad = new Uint8Array([...bytes, 0xe9, 0x0a]);
  const { dir, path } = await writeAltFile("latin.csv", bad);
  try {
    await assert.rejects(
      () => readAltFile(path, { kind: "sentiment" }),
      /latin\.csv: not UTF-8 text: invalid byte 0xE9 at byte offset \d+ \(line 3\)/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

for (const factory of storeFactories()) {
  Deno.test(`[${factory.name}] ingestAltData() writes a directory of CSV and JSON lines in one run; a rerun inserts nothing; a revision is a new row`, async () => {
    const store = await factory.open();
    const { dir } = await writeAltFile("earnings.csv", generatedEarningsCsv(["AAPL", "MSFT"], 4));
    try {
      await Deno.writeTextFile(join(dir, ".~lock.earnings.csv#"), "x");
      await Deno.writeTextFile(join(dir, "._hidden.csv"), "x");
      await Deno.writeTextFile(
        join(dir, "more.jsonl"),
        '{"instrument":"nvda","event_time":"2018-02-01","known_at":"2018-02-01T21:30:00Z","field":"eps_surprise_pct","value":7.5}\n',
      );
      const first = await ingestAltData(store, dir, { kind: "earnings", silent: true });
      assert.equal(first.source, "alt:earnings");
      assert.equal(first.files, 2);
      assert.equal(first.rowsRead, 17);
      assert.equal(first.rowsWritten, 17);
      assert.deepEqual(first.symbols, ["AAPL", "MSFT", "NVDA"]);
      assert.deepEqual(first.fields, ["announcement", "eps_surprise_pct"]);
      assert.deepEqual(first.skipped.map((s) => s.file), ["._hidden.csv"]);
      const runs = await listIngestRuns(store);
      assert.equal(runs[0].id, first.runId);
      assert.equal(runs[0].source, "alt:earnings");
      assert.equal(runs[0].status, "ok");
      assert.equal(runs[0].rowsWritten, 17);

      const again = await ingestAltData(store, dir, { kind: "earnings", silent: true });
      assert.equal(again.rowsWritten, 0, "a rerun inserts nothing");
      assert.equal(again.rowsAlreadyStored, 17);
      assert.equal((await readAltValues(store)).length, 17);

      // A revision: the same event published again later with another value.
      const rev = await writeAltFile(
        "rev.csv",
        `${H}\nAAPL,2018-02-01,2018-02-08T14:00:00Z,eps_surprise_pct,99\n`,
      );
      const r = await ingestAltData(store, rev.path, { kind: "earnings", silent: true });
      assert.equal(r.rowsWritten, 1);
      await Deno.remove(rev.dir, { recursive: true });
      const aapl = await readAltValues(store, {
        instruments: ["AAPL"],
        fields: ["eps_surprise_pct"],
      });
      const feb = aapl.filter((v) => v.eventTime === Date.UTC(2018, 1, 1));
      assert.equal(feb.length, 2, "the first print and the revision are both kept");
      assert.equal(feb[1].value, 99);
      assert.equal(iso(feb[0].knownAt), "2018-02-01T21:30:00.000Z");
      const asOf = await readAltValues(store, {
        instruments: ["AAPL"],
        fields: ["eps_surprise_pct"],
        knownAtOrBefore: Date.UTC(2018, 1, 5),
      });
      assert.ok(
        asOf.every((v) => v.value !== 99),
        "the revision is not visible before it was published",
      );
      assert.deepEqual(aapl[0].meta, { provenance: GENERATED });

      // A stored key given another value (a vendor "correcting" in place) is refused, not dropped.
      const changed = await writeAltFile(
        "changed.csv",
        `${H}\nAAPL,2018-02-01,2018-02-08T14:00:00Z,eps_surprise_pct,98\nAAPL,2018-12-01,2018-12-01T21:30:00Z,eps_surprise_pct,1\n`,
      );
      await assert.rejects(
        () => ingestAltData(store, changed.path, { kind: "earnings", silent: true }),
        /changed\.csv line 2: AAPL eps_surprise_pct event 2018-02-01T00:00:00Z known 2018-02-08T14:00:00Z is stored with value 99, the file gives 98 \(a revision needs a later known_at\)/,
      );
      assert.equal((await readAltValues(store)).length, 18, "nothing of the refused run");
      const skipped = await ingestAltData(store, changed.path, {
        kind: "earnings",
        silent: true,
        skipBadRows: true,
      });
      assert.equal(skipped.rowsWritten, 1);
      assert.deepEqual(skipped.rejected.map((x) => x.line), [2]);
      await Deno.remove(changed.dir, { recursive: true });

      const q = await runAltQualityReport(store);
      const s = q.series.find((x) => x.instrument === "AAPL" && x.field === "eps_surprise_pct")!;
      assert.equal(s.events, 5);
      assert.equal(s.rows, 6);
      assert.equal(s.revisedEvents, 1);
      assert.equal(s.firstEvent, "2018-02-01T00:00:00.000Z");
      assert.equal(s.lastEvent, "2018-12-01T00:00:00.000Z");
      const nvda = q.series.find((x) => x.instrument === "NVDA")!;
      assert.equal(
        nvda.stale,
        true,
        "NVDA stopped in February while the others went on to December",
      );
      assert.match(nvda.staleReason!, /no event for 303 days, over 2 × the typical gap of 92 days/);
      assert.equal(s.stale, false);
      const cov = q.sources.find((c) => c.field === "eps_surprise_pct")!;
      assert.deepEqual([cov.instruments, cov.events, cov.revisedEvents, cov.stale], [3, 10, 1, 1]);
      const byAge = await runAltQualityReport(store, { maxAgeDays: 400 });
      assert.equal(byAge.totals.stale, 0);
      const byShortAge = await runAltQualityReport(store, { maxAgeDays: 10 });
      assert.ok(
        byShortAge.series.find((x) => x.instrument === "MSFT" && x.field === "eps_surprise_pct")!
          .stale,
        "MSFT ends 2018-11-01, 30 days before AAPL",
      );
    } finally {
      await store.close();
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test(`[${factory.name}] ingestAltData() is all or nothing: one bad file refuses the run, names every bad file, marks the run failed`, async () => {
    const store = await factory.open();
    const { dir } = await writeAltFile("a_good.csv", generatedEarningsCsv(["AAPL"], 2));
    try {
      await Deno.writeTextFile(
        join(dir, "b_bad.csv"),
        `${H}\nMSFT,2018-02-01,2018-02-02,eps_surprise_pct,1\nMSFT,2018-05-01,,eps_surprise_pct,2\n`,
      );
      await Deno.writeTextFile(join(dir, "c_bad.jsonl"), "not json\n");
      await assert.rejects(
        () => ingestAltData(store, dir, { kind: "earnings", silent: true }),
        (e: Error) => {
          assert.match(e.message, /Cannot import 2 of 3 files; nothing written/);
          assert.match(e.message, /b_bad\.csv line 3: known_at is missing/);
          assert.match(e.message, /c_bad\.jsonl line 1: not a JSON object/);
          return true;
        },
      );
      assert.equal((await readAltValues(store)).length, 0, "nothing of the run is written");
      const [run] = await listIngestRuns(store);
      assert.equal(run.source, "alt:earnings");
      assert.equal(run.status, "failed");
      assert.equal(run.rowsWritten, 0);
      // One key given two values across files is refused too.
      await Deno.remove(join(dir, "c_bad.jsonl"));
      await Deno.writeTextFile(
        join(dir, "b_bad.csv"),
        `${H}\nAAPL,2018-02-01,2018-02-01T21:30:00Z,eps_surprise_pct,123\n`,
      );
      await assert.rejects(
        () => ingestAltData(store, dir, { kind: "earnings", silent: true }),
        /b_bad\.csv: 1 row gives a stored key another value: line 2: AAPL eps_surprise_pct .* has value 123 here and .* at a_good\.csv line 3 \(a revision needs a later known_at\)/,
      );
      assert.equal((await readAltValues(store)).length, 0);
      // With skipBadRows the conflicting row is listed and the rest is written.
      const ok = await ingestAltData(store, dir, {
        kind: "earnings",
        silent: true,
        skipBadRows: true,
      });
      assert.equal(ok.rowsWritten, 4);
      assert.deepEqual(ok.rejected.map((r) => [r.file, r.line]), [["b_bad.csv", 2]]);
    } finally {
      await store.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}
