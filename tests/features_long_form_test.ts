import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { longFormLazy, timestampSeries, toLongForm } from "@lib/features/mod.ts";

const DAY = 86_400_000;

/** A wide frame of 4 bars of instrument "A" with the given feature columns. */
function wide(features: Record<string, (number | null)[]>): pl.DataFrame {
  return pl.DataFrame([
    pl.Series("instrument", ["A", "A", "A", "A"], pl.Utf8),
    timestampSeries([0, 1, 2, 3].map((d) => d * DAY)),
    ...Object.entries(features).map(([k, v]) => pl.Series(k, v, pl.Float64)),
  ]);
}

/** `feature → [[day, value], …]` of a long frame, sorted. */
function byFeature(long: pl.DataFrame): Record<string, [number, number][]> {
  const out: Record<string, [number, number][]> = {};
  const days = long.getColumn("timestamp").cast(pl.Int64).toArray() as unknown[];
  const feats = long.getColumn("feature").cast(pl.Utf8).toArray() as string[];
  const values = long.getColumn("value").toArray() as number[];
  for (let r = 0; r < long.height; r++) {
    (out[feats[r]] ??= []).push([Number(days[r]) / DAY, values[r]]);
  }
  for (const k in out) out[k].sort((a, b) => a[0] - b[0]);
  return out;
}

Deno.test("toLongForm() keeps each feature's own rows when null counts match but masks differ", () => {
  // a and b have one null each, at different rows: sharing a filter would be wrong.
  // c has the same mask as a and may share its filter.
  const long = toLongForm(wide({
    a: [null, 1, 2, 3],
    b: [10, 11, null, 13],
    c: [null, 21, 22, 23],
  }));
  assert.equal(long.height, 9);
  assert.equal(long.getColumn("value").nullCount(), 0);
  assert.deepEqual(byFeature(long), {
    a: [[1, 1], [2, 2], [3, 3]],
    b: [[0, 10], [1, 11], [3, 13]],
    c: [[1, 21], [2, 22], [3, 23]],
  });
});

Deno.test("longFormLazy() melts only the named columns, from a lazy frame too", () => {
  const frame = wide({ a: [1, null, 3, null], b: [5, 6, 7, 8] });
  const long = longFormLazy(frame.lazy(), ["a"]).collectSync();
  assert.deepEqual(byFeature(long), { a: [[0, 1], [2, 3]] });
  assert.deepEqual(long.columns, ["instrument", "timestamp", "feature", "value"]);
});

Deno.test("toLongForm() of a frame without feature columns is empty with the long schema", () => {
  const long = toLongForm(wide({}));
  assert.equal(long.height, 0);
  assert.deepEqual(long.columns, ["instrument", "timestamp", "feature", "value"]);
});
