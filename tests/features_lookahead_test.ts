import assert from "node:assert/strict";
import type { BarColumns } from "@lib/data/panel.ts";
import { panelFromBars } from "@lib/data/panel.ts";
import {
  computeFeaturePanel,
  FEATURE_SETS,
  type FeaturePanel,
  syntheticBarColumns,
  syntheticBars,
} from "@lib/features/mod.ts";
import { Rng } from "@lib/util/rng.ts";

/** 8 instruments × 200 business days with ~5% of bars missing (holes and late starts). */
function ragged(): BarColumns {
  const full = syntheticBarColumns(syntheticBars(8, 200, 11));
  const rng = new Rng(3);
  const keep = full.instrument.map((s, k) => {
    const day = k % 200;
    if (s === "SYM0003" && day < 40) return false; // listed later
    return rng.uniform() > 0.05;
  });
  const pick = <T>(a: T[]) => a.filter((_, k) => keep[k]);
  return {
    instrument: pick(full.instrument),
    timestamp: pick(full.timestamp),
    open: pick(full.open),
    high: pick(full.high),
    low: pick(full.low),
    close: pick(full.close),
    volume: pick(full.volume),
  };
}

/** Every bar strictly after `cut` gets new prices and volumes; bars at or before stay. */
function perturbAfter(bars: BarColumns, cut: number, seed: number): BarColumns {
  const rng = new Rng(seed);
  const out = structuredClone(bars);
  for (let k = 0; k < out.instrument.length; k++) {
    if (out.timestamp[k] <= cut) continue;
    const f = Math.exp(0.3 * rng.normal());
    out.open[k] *= f;
    out.high[k] *= f * 1.05;
    out.low[k] *= f * 0.95;
    out.close[k] *= f * Math.exp(0.1 * rng.normal());
    out.volume[k] = Math.round(out.volume[k] * Math.exp(rng.normal()));
  }
  return out;
}

function truncateAfter(bars: BarColumns, cut: number): BarColumns {
  const keep = bars.timestamp.map((t) => t <= cut);
  const pick = <T>(a: T[]) => a.filter((_, k) => keep[k]);
  return {
    instrument: pick(bars.instrument),
    timestamp: pick(bars.timestamp),
    open: pick(bars.open),
    high: pick(bars.high),
    low: pick(bars.low),
    close: pick(bars.close),
    volume: pick(bars.volume),
  };
}

/**
 * Asserts that two panels hold bit-identical values (NaN = NaN) for every timestamp ≤ cut.
 * `b` may lack instruments that have no bar up to `cut` (then `a` must be all NaN for them).
 */
function assertSamePast(a: FeaturePanel, b: FeaturePanel, cut: number): number {
  assert.deepEqual(b.names, a.names);
  const na = a.instruments.length, nb = b.instruments.length, f = a.names.length;
  let checked = 0;
  for (let t = 0; t < a.timestamps.length && a.timestamps[t] <= cut; t++) {
    assert.equal(b.timestamps[t], a.timestamps[t]);
    for (let i = 0; i < na; i++) {
      const ib = b.instruments.indexOf(a.instruments[i]);
      for (let j = 0; j < f; j++) {
        const x = a.values[(t * na + i) * f + j];
        const y = ib < 0 ? NaN : b.values[(t * nb + ib) * f + j];
        if (Number.isNaN(x) && Number.isNaN(y)) continue;
        assert.ok(
          Object.is(x, y),
          `${a.names[j]} of ${a.instruments[i]} at ${
            new Date(a.timestamps[t]).toISOString()
          } changed: ${x} → ${y}`,
        );
        checked++;
      }
    }
  }
  return checked;
}

const BARS = ragged();
const FULL = computeFeaturePanel(panelFromBars(BARS, "1 day"), { set: "all" });

for (const day of [25, 60, 121, 150, 198]) {
  const cut = FULL.timestamps[day];
  Deno.test(`computeFeaturePanel() values up to day ${day} do not change when every later bar changes`, () => {
    const changed = computeFeaturePanel(panelFromBars(perturbAfter(BARS, cut, day), "1 day"), {
      set: "all",
    });
    const checked = assertSamePast(FULL, changed, cut);
    assert.ok(checked > 0, "nothing was compared");
  });
  Deno.test(`computeFeaturePanel() values up to day ${day} equal those computed without the later bars`, () => {
    const cutOff = computeFeaturePanel(panelFromBars(truncateAfter(BARS, cut), "1 day"), {
      set: "all",
    });
    assertSamePast(FULL, cutOff, cut);
  });
}

Deno.test("the look-ahead check covers every feature, cross-sectional ones included", () => {
  assert.deepEqual(FULL.names, [...FEATURE_SETS.all]);
  for (const name of FEATURE_SETS.cross) assert.ok(FULL.names.includes(name));
  // Each feature is defined somewhere by day 198, so the comparisons above are not vacuous.
  const n = FULL.instruments.length, f = FULL.names.length, t = 198;
  for (let j = 0; j < f; j++) {
    let defined = 0;
    for (let i = 0; i < n; i++) if (Number.isFinite(FULL.values[(t * n + i) * f + j])) defined++;
    assert.ok(defined > 0, `${FULL.names[j]} is never defined on day ${t}`);
  }
});

Deno.test("a perturbation that does reach the past is detected (the check can fail)", () => {
  const cut = FULL.timestamps[150];
  const earlier = FULL.timestamps[149];
  const changed = computeFeaturePanel(panelFromBars(perturbAfter(BARS, earlier, 1), "1 day"), {
    set: "all",
  });
  assert.throws(() => assertSamePast(FULL, changed, cut), assert.AssertionError);
});
