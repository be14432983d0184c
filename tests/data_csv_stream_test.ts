/**
 * Issue 11 item 14: large CSV files are streamed (chunked strict UTF-8 decoding, lines split
 * across chunk boundaries), and a file that is not UTF-8 is refused with the byte offset;
 * the import parses in batches (streamCsvLines) with the same results and messages.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type BarColumns,
  firstInvalidUtf8,
  readCsvBars,
  readCsvFile,
  streamCsvLines,
} from "@lib/data/mod.ts";
import { tempCsv } from "./support/csv_fixtures.ts";

const H = "Date,Open,High,Low,Close,Volume";
const enc = new TextEncoder();

/** `n` daily bars from 1900-01-01 on, deterministic prices. */
function dailyCsv(n: number, crlf = false): string {
  const nl = crlf ? "\r\n" : "\n";
  const out: string[] = [H];
  const t0 = Date.UTC(1900, 0, 1);
  for (let i = 0; i < n; i++) {
    const d = new Date(t0 + i * 86_400_000).toISOString().slice(0, 10);
    const o = 100 + (i % 97) * 0.25, c = o + ((i % 7) - 3) * 0.125;
    out.push(`${d},${o},${Math.max(o, c) + 1},${Math.min(o, c) - 1},${c},${1000 + (i % 13)}`);
  }
  return out.join(nl) + nl;
}

Deno.test("readCsvFile() refuses a non-UTF-8 file naming the byte offset and line of the bad byte", async () => {
  const head = enc.encode(`${H}\n2020-01-02,10,11,9,10.5,100\n`);
  // "Café" in Latin-1 in a third line: 0xE9 at a known offset.
  const tail = enc.encode("2020-01-03,10,11,9,10.5,100,Caf");
  const bytes = new Uint8Array([...head, ...tail, 0xe9, 0x0a]);
  const offset = head.length + tail.length;
  const { path, dir } = await tempCsv("X.csv", bytes);
  try {
    for (const chunkBytes of [undefined, 7]) {
      await assert.rejects(
        () => readCsvFile(path, {}, { chunkBytes }),
        (e: Error) => {
          assert.ok(e instanceof SyntaxError, String(e));
          assert.match(e.message, /X\.csv: not UTF-8 text/);
          assert.match(
            e.message,
            new RegExp(`invalid byte 0xE9 at byte offset ${offset} \\(line 3\\)`),
          );
          return true;
        },
      );
    }
    assert.deepEqual(await firstInvalidUtf8(path, 5), { offset, byte: 0xe9, line: 3 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("firstInvalidUtf8() finds overlongs, surrogates and a sequence cut by the end of the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tt_utf8_" });
  try {
    const cases: [number[], { offset: number; byte: number; line: number } | undefined][] = [
      [[0x61, 0xc3, 0xa9, 0x0a, 0xe2, 0x82, 0xac], undefined], // "aé\n€" valid
      [[0x61, 0xc0, 0xaf], { offset: 1, byte: 0xc0, line: 1 }], // overlong "/"
      [[0x0a, 0x0a, 0xed, 0xa0, 0x80], { offset: 2, byte: 0xed, line: 3 }], // surrogate
      [[0x61, 0x62, 0xe2, 0x82], { offset: 2, byte: 0xe2, line: 1 }], // truncated at EOF
      [[0xf0, 0x9f, 0x98, 0x80, 0xff], { offset: 4, byte: 0xff, line: 1 }], // emoji, then 0xFF
    ];
    for (const [i, [bytes, want]] of cases.entries()) {
      const p = join(dir, `${i}.csv`);
      await Deno.writeFile(p, new Uint8Array(bytes));
      for (const chunk of [1, 2, 1024]) {
        assert.deepEqual(await firstInvalidUtf8(p, chunk), want, `case ${i}, chunk ${chunk}`);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readCsvFile() splits lines and multi-byte characters across chunk boundaries", async () => {
  // A symbol column with multi-byte characters so that chunks also cut UTF-8 sequences, CRLF
  // line ends so that chunks cut between \r and \n, a BOM and a last line without newline.
  const rows = [
    "Symbol,Date,Open,High,Low,Close,Volume",
    "ÆØÅ€,2020-01-02,10,11,9,10.5,100",
    "ÆØÅ€,2020-01-03,10.5,12,10,11,200",
    "",
    "ÆØÅ€,2020-01-06,11,12.5,10.75,12,300",
  ];
  const text = "\ufeff" + rows.join("\r\n");
  const { path, dir } = await tempCsv("X.csv", text);
  try {
    const whole = readCsvBars(text, "X.csv", { keepSymbolCase: true });
    assert.deepEqual(whole.bars.close, [10.5, 11, 12]);
    assert.equal(whole.rowsRead, 3);
    for (let chunkBytes = 1; chunkBytes <= 40; chunkBytes++) {
      const r = await readCsvFile(path, { keepSymbolCase: true }, { chunkBytes });
      assert.deepEqual({ ...r, path: "X.csv" }, whole, `chunkBytes ${chunkBytes}`);
    }
    // A truncated last line is still reported as such when it straddles chunks.
    const cut = text + "\r\nÆØÅ€,2020-01-07,12,13";
    await Deno.writeTextFile(path, cut);
    await assert.rejects(
      () => readCsvFile(path, {}, { chunkBytes: 3 }),
      /X\.csv line 6: truncated last line: 4 of 7 fields/,
    );
    // Empty and blank-only files.
    await Deno.writeTextFile(path, "\ufeff \n\n");
    await assert.rejects(() => readCsvFile(path, {}, { chunkBytes: 2 }), /the file is empty/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readCsvFile() refuses a line longer than the limit as too large, not as 'not UTF-8'", async () => {
  // A file broken with \r only is one "line": far beyond any bar line.
  const { MAX_CSV_LINE_CHARS } = await import("@lib/data/csv.ts");
  const line = "2020-01-02,10,11,9,10.5,100\r";
  const n = Math.ceil((MAX_CSV_LINE_CHARS + 1) / line.length);
  const { path, dir } = await tempCsv("X.csv", `${H}\r` + line.repeat(n));
  try {
    await assert.rejects(() => readCsvFile(path), (e: Error) => {
      assert.ok(e instanceof SyntaxError);
      assert.match(
        e.message,
        /X\.csv line 1: too large to read at once: the line is over [\d,]+ characters and the limit is 16,777,216/,
      );
      assert.doesNotMatch(e.message, /UTF-8/);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readCsvFile() streams a ~60 MB file to the same bars as the whole-text path", async () => {
  // 1.2 M daily bars (30 symbols × 40,000 days from 1900, inside the plausible years), ~60 MB.
  const per = 40_000, symbols = 30;
  const one = dailyCsv(per).split("\n").slice(1, -1);
  const parts: string[] = ["Symbol," + H];
  for (let s = 0; s < symbols; s++) {
    const sym = `S${String(s).padStart(2, "0")}`;
    for (const row of one) parts.push(`${sym},${row}`);
  }
  const text = parts.join("\n") + "\n";
  const { path, dir } = await tempCsv("BIG.csv", text);
  try {
    const size = (await Deno.stat(path)).size;
    assert.ok(size > 50e6 && size < 100e6, `size ${size}`);
    const streamed = await readCsvFile(path);
    assert.equal(streamed.rowsRead, per * symbols);
    assert.equal(streamed.bars.timestamp.length, per * symbols);
    assert.equal(streamed.barSize, "1 day");
    // The whole-text path on a small sample (the first 3 symbols) gives the same bars.
    const sampleRows = 3 * per;
    const sample = parts.slice(0, 1 + sampleRows).join("\n") + "\n";
    const whole = readCsvBars(sample, "BIG.csv");
    for (const k of Object.keys(whole.bars) as (keyof typeof whole.bars)[]) {
      assert.deepEqual(streamed.bars[k].slice(0, sampleRows), whole.bars[k], k);
    }
    assert.deepEqual(streamed.symbols.slice(0, 3), whole.symbols);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Streams `text` in batches of `batchRows`: the batches, the restarts and the summary. */
async function streamed(text: string, batchRows: number, options = {}) {
  const batches: { barSize: string; bars: BarColumns }[] = [];
  const restarts: string[] = [];
  const summary = await streamCsvLines(() => text.split(/\r?\n/), "X.csv", options, {
    batchRows,
    onBatch: (barSize, bars) => void batches.push({ barSize, bars }),
    onRestart: (why) => {
      restarts.push(why);
      batches.length = 0;
    },
  });
  const all = (k: keyof BarColumns) => batches.flatMap((b) => b.bars[k] as unknown[]);
  return { batches, restarts, summary, timestamps: all("timestamp"), close: all("close") };
}

Deno.test("streamCsvLines() sends batches of batchRows with the bars readCsvBars reads whole", async () => {
  const text = dailyCsv(1000);
  const whole = readCsvBars(text, "X.csv");
  const s = await streamed(text, 128);
  assert.deepEqual(s.restarts, []);
  assert.equal(s.batches.length, 8);
  assert.ok(s.batches.every((b) => b.barSize === "1 day" && b.bars.close.length <= 128));
  assert.deepEqual(s.timestamps, whole.bars.timestamp);
  assert.deepEqual(s.close, whole.bars.close);
  assert.equal(s.summary.bars, 1000);
  assert.deepEqual(s.summary.symbols, ["X"]);
});

Deno.test("streamCsvLines() finds duplicates and two daily bars on one date across batches, with the same messages", async () => {
  const dup = dailyCsv(300).replace("1900-01-03,", "1900-01-02,");
  await assert.rejects(
    streamed(dup, 1),
    /^RangeError: Cannot import X\.csv line 4: duplicate timestamp 1900-01-02 for X \(also line 3\)/,
  );
  const two =
    `${H}\n2020-01-06 10:00Z,1,1,1,1,1\n2020-01-06 11:00Z,1,1,1,1,1\n2020-01-07 10:00Z,1,1,1,1,1\n`;
  await assert.rejects(
    streamed(two, 1, { barSize: "1 day" }),
    /line 3: two 1 day bars on 2020-01-06 for X \(also line 2\)/,
  );
  const skip = await streamed(two, 1, { barSize: "1 day", skipBadRows: true });
  assert.deepEqual(skip.timestamps, [Date.UTC(2020, 0, 6), Date.UTC(2020, 0, 7)]);
  assert.deepEqual(skip.summary.rejected.map((r) => r.line), [3]);
});

Deno.test("streamCsvLines() reads a file out of time order again whole (restart), sorted, with the warning", async () => {
  const lines = dailyCsv(300).trimEnd().split("\n");
  [lines[200], lines[201]] = [lines[201], lines[200]];
  const text = lines.join("\n") + "\n";
  const s = await streamed(text, 50);
  assert.deepEqual(s.restarts, ["unsorted"]);
  assert.equal(s.batches.length, 1, "read whole: one batch");
  assert.deepEqual(s.timestamps, readCsvBars(dailyCsv(300), "X.csv").bars.timestamp);
  assert.deepEqual(s.summary.warnings, [
    "X.csv: X rows are not in time order (line 202 is earlier than line 201); sorted",
  ]);
});

Deno.test("streamCsvLines() infers the bar size from the first batch and restarts when the whole file disagrees", async () => {
  // 5 hourly bars, then 40 daily ones: the first batch says 1 hour, the whole file 1 day.
  const rows: string[] = [H];
  for (let i = 0; i < 5; i++) rows.push(`2020-01-01T0${i}:00Z,1,1,1,1,1`);
  for (let i = 0; i < 40; i++) {
    rows.push(`${new Date(Date.UTC(2020, 1, 1 + i)).toISOString().slice(0, 10)}T00:00Z,1,1,1,1,1`);
  }
  const text = rows.join("\n") + "\n";
  assert.equal(readCsvBars(text, "X.csv", { skipBadRows: true }).barSize, "1 day");
  const s = await streamed(text, 5, { skipBadRows: true });
  assert.deepEqual(s.restarts, ["bar size"]);
  assert.ok(s.batches.every((b) => b.barSize === "1 day"));
  assert.equal(s.summary.barSize, "1 day");
  assert.deepEqual(
    s.timestamps,
    readCsvBars(text, "X.csv", { skipBadRows: true }).bars.timestamp,
  );
});
