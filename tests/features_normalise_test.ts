import assert from "node:assert/strict";
import { applyNormaliser, type FeaturePanel, fitNormaliser } from "@lib/features/mod.ts";

const DAY = 86_400_000;

/** 4 timestamps × 2 instruments × 1 feature; the last two timestamps hold huge values. */
function panel(): FeaturePanel {
  return {
    instruments: ["A", "B"],
    timestamps: [0, DAY, 2 * DAY, 3 * DAY],
    names: ["x"],
    values: Float32Array.from([NaN, 1, 2, 3, 1000, 2000, 3000, 4000]),
    warmup: 1,
  };
}

Deno.test("fitNormaliser() uses only the training slice, ignores NaN, ddof=1, and is frozen", () => {
  const stats = fitNormaliser(panel(), 2 * DAY);
  // Training values 1, 2, 3: mean 2, sample std 1.
  assert.deepEqual(stats.mean, [2]);
  assert.deepEqual(stats.std, [1]);
  assert.deepEqual(stats.count, [3]);
  assert.ok(Object.isFrozen(stats) && Object.isFrozen(stats.mean));
  assert.throws(() => fitNormaliser(panel(), 0), RangeError);
});

Deno.test("applyNormaliser() reuses the frozen statistics on later data and clips", () => {
  const p = panel();
  const stats = fitNormaliser(p, "1970-01-03");
  const z = applyNormaliser(p, stats, { clip: 5 });
  assert.ok(Number.isNaN(z.values[0]));
  assert.deepEqual(Array.from(z.values.slice(1, 4)), [-1, 0, 1]);
  assert.deepEqual(Array.from(z.values.slice(4)), [5, 5, 5, 5]);
  assert.equal(p.values[1], 1, "input untouched");
  assert.throws(() => applyNormaliser({ ...p, names: ["y"] }, stats), TypeError);
});

Deno.test("fitNormaliser() gives std 1 to a constant feature so apply never divides by zero", () => {
  const p: FeaturePanel = { ...panel(), values: Float32Array.from([5, 5, 5, 5, 9, 9, 9, 9]) };
  const stats = fitNormaliser(p, 2 * DAY);
  assert.deepEqual(stats.std, [1]);
  assert.deepEqual(Array.from(applyNormaliser(p, stats).values.slice(4)), [4, 4, 4, 4]);
});
