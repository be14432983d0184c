import assert from "node:assert/strict";
import {
  aggregateFoldMetrics,
  computeMetrics,
  stitchEquityCurves,
  walkForwardFolds,
} from "@lib/eval/mod.ts";

const DAY = 86_400_000;
/** Weekday bars (00:00 UTC) from `start` up to and including `end`. */
function weekdays(start: string, end: string): number[] {
  const out: number[] = [];
  for (let t = Date.parse(start); t <= Date.parse(end); t += DAY) {
    const d = new Date(t).getUTCDay();
    if (d !== 0 && d !== 6) out.push(t);
  }
  return out;
}
const iso = (t: number) => new Date(t).toISOString().slice(0, 10);

const TS = weekdays("2010-01-01", "2014-12-31");

Deno.test("walkForwardFolds() rolls 2-year train / 1-year test windows over 5 years: 3 folds", () => {
  const folds = walkForwardFolds(TS, { trainYears: 2, testYears: 1 });
  assert.equal(folds.length, 3);
  assert.deepEqual(
    folds.map((
      f,
    ) => [
      iso(f.train.startTime),
      iso(f.train.endTime),
      iso(f.test.startTime),
      iso(f.test.endTime),
    ]),
    [
      ["2010-01-01", "2011-12-30", "2012-01-02", "2012-12-31"],
      ["2011-01-03", "2012-12-31", "2013-01-01", "2013-12-31"],
      ["2012-01-02", "2013-12-31", "2014-01-01", "2014-12-31"],
    ],
  );
  for (const f of folds) {
    assert.ok(f.train.start < f.train.end && f.test.start < f.test.end);
    assert.equal(f.test.start, f.train.end); // test follows training directly, no overlap
    assert.ok(TS[f.train.end - 1] < TS[f.test.start]);
  }
  // Test windows tile the out-of-sample period without overlap.
  for (let k = 1; k < folds.length; k++) assert.equal(folds[k].test.start, folds[k - 1].test.end);
  assert.equal(folds.at(-1)!.test.end, TS.length);
});

Deno.test("walkForwardFolds() anchored keeps every training window starting at the first bar", () => {
  const folds = walkForwardFolds(TS, { trainYears: 2, testYears: 1, anchored: true });
  assert.equal(folds.length, 3);
  assert.ok(folds.every((f) => f.train.start === 0));
  assert.ok(folds[2].train.end > folds[1].train.end);
});

Deno.test("walkForwardFolds() gapBars leaves an embargo between train and test", () => {
  const folds = walkForwardFolds(TS, { trainYears: 2, testYears: 1, gapBars: 5 });
  for (const f of folds) assert.equal(f.test.start, f.train.end + 5);
});

Deno.test("walkForwardFolds() with half-year steps gives overlapping train but ordered test windows", () => {
  const folds = walkForwardFolds(TS, { trainYears: 2, testYears: 1, stepYears: 0.5 });
  // test windows end 2013-01, 2013-07, 2014-01, 2014-07 and 2015-01 (99 % covered: kept, and the
  // first window past the data is the last one) → 5
  assert.equal(folds.length, 5);
  assert.equal(iso(folds[1].test.startTime), "2012-07-02");
  for (const f of folds) assert.ok(f.test.start >= f.train.end);
});

Deno.test("walkForwardFolds() drops a short last test window below minTestFraction", () => {
  const short = weekdays("2010-01-01", "2012-03-31"); // 3 months of test data after 2 years
  assert.equal(walkForwardFolds(short, { trainYears: 2, testYears: 1 }).length, 0);
  assert.equal(
    walkForwardFolds(short, { trainYears: 2, testYears: 1, minTestFraction: 0.2 }).length,
    1,
  );
  assert.equal(walkForwardFolds(TS, { trainYears: 2, testYears: 1, minTestFraction: 1 }).length, 2);
  assert.deepEqual(walkForwardFolds([], { trainYears: 1, testYears: 1 }), []);
});

Deno.test("walkForwardFolds() rejects non-positive lengths and unsorted timestamps", () => {
  assert.throws(
    () => walkForwardFolds(TS, { trainYears: 0, testYears: 1 }),
    /trainYears must be at least 1\/12 year/,
  );
  assert.throws(() => walkForwardFolds([2, 1], { trainYears: 1, testYears: 1 }), /must increase/);
});

Deno.test("aggregateFoldMetrics() summarises each metric over folds", () => {
  const a = computeMetrics([100, 110], { periodsPerYear: 1 });
  const b = computeMetrics([100, 90], { periodsPerYear: 1 });
  const c = computeMetrics([100, 130], { periodsPerYear: 1 });
  const agg = aggregateFoldMetrics([a, b, c]);
  assert.equal(agg.folds, 3);
  assert.equal(agg.positiveFolds, 2 / 3);
  const tr = agg.metrics.totalReturn!;
  assert.ok(Math.abs(tr.mean - 0.1) < 1e-12);
  assert.ok(Math.abs(tr.median - 0.1) < 1e-12);
  assert.ok(Math.abs(tr.min + 0.1) < 1e-12 && Math.abs(tr.max - 0.3) < 1e-12);
  assert.ok(Math.abs(tr.std - 0.2) < 1e-12);
  assert.equal(agg.metrics.turnover, undefined); // null in every fold
});

Deno.test("stitchEquityCurves() compounds test segments into one curve", () => {
  const s = stitchEquityCurves([
    { timestamps: [1, 2], equity: [100, 110] },
    { timestamps: [3, 4], equity: [50, 55] },
  ]);
  assert.deepEqual(s.timestamps, [1, 2, 3, 4]);
  assert.deepEqual(s.equity.map((x) => Math.round(x * 1e9) / 1e9), [100, 110, 110, 121]);
  const shared = stitchEquityCurves([
    { timestamps: [1, 2], equity: [1, 2] },
    { timestamps: [2, 3], equity: [10, 15] },
  ]);
  assert.deepEqual(shared, { timestamps: [1, 2, 3], equity: [1, 2, 3] });
  assert.throws(
    () => stitchEquityCurves([{ timestamps: [5], equity: [1] }, { timestamps: [4], equity: [1] }]),
    /before the previous/,
  );
});
