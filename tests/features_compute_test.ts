import assert from "node:assert/strict";
import pl from "nodejs-polars";
import type { BarColumns } from "@lib/data/panel.ts";
import { panelFromBars } from "@lib/data/panel.ts";
import {
  assertAligned,
  computeFeaturePanel,
  computeFeatures,
  FEATURE_SETS,
  FEATURES,
  lookback,
  plan,
  resolveFeatureNames,
  toLongForm,
} from "@lib/features/mod.ts";

const DAY = 86_400_000;
const T0 = Date.UTC(2024, 0, 1);

/** Bars for one instrument from closes (open = close, high/low ±1%, volume 1000 unless given). */
function series(
  symbol: string,
  closes: number[],
  opts: { volumes?: number[]; firstDay?: number; skipDays?: number[] } = {},
): BarColumns {
  const out: BarColumns = {
    instrument: [],
    timestamp: [],
    open: [],
    high: [],
    low: [],
    close: [],
    volume: [],
  };
  let day = opts.firstDay ?? 0;
  for (let k = 0; k < closes.length; k++, day++) {
    while (opts.skipDays?.includes(day)) day++;
    out.instrument.push(symbol);
    out.timestamp.push(T0 + day * DAY);
    out.open.push(closes[k]);
    out.high.push(closes[k] * 1.01);
    out.low.push(closes[k] * 0.99);
    out.close.push(closes[k]);
    out.volume.push(opts.volumes?.[k] ?? 1000);
  }
  return out;
}

function concatBars(...parts: BarColumns[]): BarColumns {
  const out: BarColumns = {
    instrument: [],
    timestamp: [],
    open: [],
    high: [],
    low: [],
    close: [],
    volume: [],
  };
  for (const p of parts) {
    for (const k of Object.keys(out) as (keyof BarColumns)[]) (out[k] as unknown[]).push(...p[k]);
  }
  return out;
}

/** The values of one feature of one instrument, in time order (null where undefined). */
function values(frame: pl.DataFrame, symbol: string, feature: string): (number | null)[] {
  return frame.filter(pl.col("instrument").eq(pl.lit(symbol))).getColumn(feature)
    .toArray() as (number | null)[];
}

function close(actual: number | null, expected: number, what: string) {
  assert.ok(actual !== null, `${what}: expected ${expected}, got null`);
  assert.ok(
    Math.abs(actual - expected) < 1e-12 * Math.max(1, Math.abs(expected)),
    `${what}: ${actual} ≠ ${expected}`,
  );
}

Deno.test("lookback() is derived from spans and inputs and sums to SPEC's 514 for the 14 features", () => {
  assert.equal(lookback("return_1"), 1);
  assert.equal(lookback("vol_5"), 5);
  assert.equal(lookback("norm_volume"), 19);
  assert.equal(lookback("rank_mom_120"), 120);
  assert.equal(lookback("macd_signal"), 33);
  assert.equal(FEATURE_SETS.spec.reduce((s, n) => s + lookback(n), 0), 514);
});

Deno.test("plan() orders every definition after its inputs", () => {
  const levels = plan(FEATURE_SETS.all);
  const seen = new Set<string>(["open", "high", "low", "close", "volume"]);
  for (const level of levels) {
    for (const d of level) {
      for (const i of d.inputs) assert.ok(seen.has(i), `${d.name} reads ${i} before it exists`);
    }
    for (const d of level) seen.add(d.name);
  }
  assert.deepEqual(resolveFeatureNames({ set: "basic" }), ["return_1", "vol_10", "vol_20"]);
  assert.throws(() => resolveFeatureNames({ names: ["nope"] }), RangeError);
});

Deno.test("computeFeatures() gives each feature its first value exactly at its derived lookback", () => {
  const closes = Array.from(
    { length: 160 },
    (_, i) => 100 * Math.exp(0.01 * Math.sin(i * 0.7) + 0.001 * i),
  );
  const volumes = Array.from({ length: 160 }, (_, i) => 1000 + ((i * 37) % 100) * 10);
  const frame = computeFeatures(
    concatBars(series("A", closes, { volumes }), series("B", closes.map((c) => c * 2))),
  );
  for (const d of FEATURES) {
    if (d.name.startsWith("_")) continue;
    for (const sym of ["A", "B"]) {
      const v = values(frame, sym, d.name);
      assert.equal(v.findIndex((x) => x !== null), lookback(d.name), `${d.name} of ${sym}`);
      assert.ok(
        v.slice(lookback(d.name)).every((x) => x !== null),
        `${d.name} of ${sym} has a gap`,
      );
    }
  }
});

Deno.test("return_1 and vol_5 use the sample std (ddof=1): ±10% alternating returns give 0.10954451", () => {
  // Returns 0.1, -0.1, 0.1, -0.1, 0.1: mean 0.02, squared deviations 3·0.0064 + 2·0.0144 = 0.048,
  // variance 0.048 / (5 − 1) = 0.012, std √0.012 = 0.109544511501033 (ddof=0 would be 0.0979796).
  const frame = computeFeatures(series("A", [100, 110, 99, 108.9, 98.01, 107.811]), {
    names: ["return_1", "vol_5"],
  });
  const r = values(frame, "A", "return_1");
  assert.equal(r[0], null);
  close(r[1], 0.1, "return_1[1]");
  close(r[2], -0.1, "return_1[2]");
  const v = values(frame, "A", "vol_5");
  assert.deepEqual(v.slice(0, 5), [null, null, null, null, null]);
  close(v[5], Math.sqrt(0.012), "vol_5[5]");
});

Deno.test("norm_volume and volume_surge compare volume with its rolling 20-bar mean", () => {
  // 19 bars of 100 then 300: mean 2200/20 = 110, so norm 300/110 and a surge (300 > 220);
  // then 100: mean (18·100 + 300 + 100)/20 = 110, norm 100/110, no surge.
  const volumes = [...Array(19).fill(100), 300, 100];
  const frame = computeFeatures(series("A", Array(21).fill(10), { volumes }), {
    names: ["norm_volume", "volume_surge"],
  });
  const n = values(frame, "A", "norm_volume");
  const s = values(frame, "A", "volume_surge");
  assert.equal(n[18], null);
  assert.equal(s[18], null);
  close(n[19], 300 / 110, "norm_volume[19]");
  assert.equal(s[19], 1);
  close(n[20], 100 / 110, "norm_volume[20]");
  assert.equal(s[20], 0);
});

Deno.test("rank_mom_20, vol_decile and rel_strength: average pct ranks with ties, nulls ignored", () => {
  // Four instruments flat at 100 for 20 bars then moving by m on bar 20; a fifth has a
  // bar that day but only 10 bars of history, so its mom_20 and vol_20 are null.
  // (Moves chosen so that every return is exact in binary floating point.)
  const moves: Record<string, number> = { A: 0.5, B: 0.25, C: 0.25, E: -0.5 };
  const parts = Object.entries(moves).map(([s, m]) =>
    series(s, [...Array(20).fill(100), 100 * (1 + m)])
  );
  parts.push(series("D", Array(10).fill(50), { firstDay: 11 }));
  const frame = computeFeatures(concatBars(...parts), { set: "cross" });
  const at = (sym: string, f: string) => values(frame, sym, f).at(-1) ?? null;
  // mom_20 ranks among the 4 non-null: −0.5 → 1, 0.25 and 0.25 → (2+3)/2 = 2.5, 0.5 → 4; divided by 4.
  close(at("E", "rank_mom_20"), 0.25, "E");
  close(at("B", "rank_mom_20"), 0.625, "B");
  close(at("C", "rank_mom_20"), 0.625, "C");
  close(at("A", "rank_mom_20"), 1, "A");
  assert.equal(at("D", "rank_mom_20"), null);
  // vol_20 = |m|·√0.05 (one non-zero return in 20): ties {B, C} → 1.5/4, {A, E} → 3.5/4;
  // deciles ceil(3.75) = 4 and ceil(8.75) = 9.
  assert.equal(at("B", "vol_decile"), 4);
  assert.equal(at("C", "vol_decile"), 4);
  assert.equal(at("A", "vol_decile"), 9);
  assert.equal(at("E", "vol_decile"), 9);
  assert.equal(at("D", "vol_decile"), null);
  // Mean mom_20 of the date = (0.5 + 0.25 + 0.25 − 0.5)/4 = 0.125.
  close(at("A", "rel_strength"), 0.375, "A");
  close(at("B", "rel_strength"), 0.125, "B");
  close(at("E", "rel_strength"), -0.625, "E");
  assert.equal(at("D", "rel_strength"), null);
});

Deno.test("cross-sectional features use only the instruments with a bar at that date", () => {
  // C has no bar on day 20: A and B rank among themselves (0.5 and 1), C's mom of 0.3 is ignored.
  const a = series("A", [...Array(20).fill(100), 101]);
  const b = series("B", [...Array(20).fill(100), 102]);
  const c = series("C", [...Array(20).fill(100), 130], { skipDays: [20] });
  const frame = computeFeatures(concatBars(a, b, c), { names: ["rank_mom_20", "rel_strength"] });
  const day20 = frame.filter(pl.col("timestamp").eq(pl.lit(new Date(T0 + 20 * DAY))));
  assert.deepEqual(day20.getColumn("instrument").toArray(), ["A", "B"]);
  assert.deepEqual(day20.getColumn("rank_mom_20").toArray(), [0.5, 1]);
  close(day20.getColumn("rel_strength").toArray()[0] as number, -0.005, "rel_strength A");
});

Deno.test("zscore_20 uses ddof=1 and bb_pctb_20 the population std (closes 1…20)", () => {
  const frame = computeFeatures(series("A", Array.from({ length: 20 }, (_, i) => i + 1)), {
    names: ["zscore_20", "bb_pctb_20"],
  });
  // mean 10.5; Σ(x − 10.5)² = 665; sample var 665/19 = 35; population var 665/20 = 33.25.
  close(values(frame, "A", "zscore_20")[19], 9.5 / Math.sqrt(35), "zscore_20");
  const sd = Math.sqrt(33.25);
  close(values(frame, "A", "bb_pctb_20")[19], (20 - (10.5 - 2 * sd)) / (4 * sd), "bb_pctb_20");
});

Deno.test("rsi_14 is 100 after 14 gains and 100·(13/14) after one equal loss (Wilder smoothing)", () => {
  const closes = [...Array.from({ length: 15 }, (_, i) => 10 + i), 23];
  const r = values(computeFeatures(series("A", closes), { names: ["rsi_14"] }), "A", "rsi_14");
  assert.equal(r[13], null);
  close(r[14], 100, "rsi_14[14]");
  // avg gain 13/14·1 + 1/14·0, avg loss 1/14·1: RSI = 100·(13/14)/(13/14 + 1/14).
  close(r[15], 100 * 13 / 14, "rsi_14[15]");
  assert.equal(
    values(
      computeFeatures(series("F", Array(16).fill(5)), { names: ["rsi_14"] }),
      "F",
      "rsi_14",
    )[15],
    50,
  );
});

Deno.test("macd family after a step from 10 to 11; atr_14 of a constant 2-point range", () => {
  const frame = computeFeatures(series("A", [...Array(40).fill(10), 11]), { set: "technical" });
  // EMA12 = 10 + (2/13)·1, EMA26 = 10 + (2/27)·1; divided by the close 11.
  const macd = (2 / 13 - 2 / 27) / 11;
  close(values(frame, "A", "macd")[40], macd, "macd");
  close(values(frame, "A", "macd_signal")[40], 0.2 * macd, "macd_signal");
  close(values(frame, "A", "macd_hist")[40], 0.8 * macd, "macd_hist");
  close(values(frame, "A", "macd")[39], 0, "macd before the step");
  // high 10.1, low 9.9 for every flat bar: TR 0.2, ATR 0.2, / close 10.
  close(values(frame, "A", "atr_14")[13], 0.02, "atr_14");
});

Deno.test("macd_signal and macd_hist divide the MACD(12,26,9) signal by close, not EMA9 of macd/close", () => {
  // Two steps (10 → 11 → 13): the close changes after the MACD line is nonzero, so
  // EMA9(line)/close and EMA9(line/close) differ.
  const closes = [...Array(40).fill(10), 11, 13];
  const frame = computeFeatures(series("A", closes), { set: "technical" });
  let e12 = 10, e26 = 10, sig = 0, sigOfRatio = 0;
  for (let t = 40; t < closes.length; t++) {
    e12 += (2 / 13) * (closes[t] - e12);
    e26 += (2 / 27) * (closes[t] - e26);
    sig += 0.2 * (e12 - e26 - sig);
    sigOfRatio += 0.2 * ((e12 - e26) / closes[t] - sigOfRatio);
  }
  const line = e12 - e26, t = closes.length - 1;
  close(values(frame, "A", "macd")[t], line / 13, "macd");
  close(values(frame, "A", "macd_signal")[t], sig / 13, "macd_signal");
  close(values(frame, "A", "macd_hist")[t], (line - sig) / 13, "macd_hist");
  assert.ok(
    Math.abs(sig / 13 - sigOfRatio) > 1e-4 * Math.abs(sigOfRatio),
    "the series must tell the two definitions apart",
  );
});

Deno.test("a division by zero gives null, never ±Infinity or NaN", () => {
  const frame = computeFeatures(series("A", [0, 5, 5], { volumes: [0, 0, 0] }), {
    names: ["return_1"],
  });
  assert.deepEqual(values(frame, "A", "return_1"), [null, null, 0]);
});

Deno.test("toLongForm() keeps only defined values: S·(14·D − 514) rows for the SPEC set", () => {
  const closes = Array.from({ length: 130 }, (_, i) => 100 + Math.sin(i));
  const bars = concatBars(
    series("A", closes),
    series("B", closes.map((c) => c + 1)),
    series("C", closes),
  );
  const long = toLongForm(computeFeatures(bars, { set: "spec" }));
  assert.equal(long.height, 3 * (14 * 130 - 514));
  assert.deepEqual(long.columns, ["instrument", "timestamp", "feature", "value"]);
  assert.equal(long.getColumn("value").nullCount(), 0);
});

Deno.test("computeFeaturePanel() is aligned with the price panel, NaN where an instrument has no bar", () => {
  const a = series("A", Array.from({ length: 30 }, (_, i) => 100 + i));
  const b = series("B", Array.from({ length: 29 }, (_, i) => 50 + i), { skipDays: [10] });
  const prices = panelFromBars(concatBars(a, b), "1 day");
  const fp = computeFeaturePanel(prices, { set: "basic" });
  assertAligned(prices, fp);
  assert.deepEqual(fp.names, ["return_1", "vol_10", "vol_20"]);
  assert.equal(fp.warmup, 20);
  const f = fp.names.length, n = 2;
  const at = (t: number, i: number, j: number) => fp.values[(t * n + i) * f + j];
  assert.ok(Number.isNaN(at(0, 0, 0)));
  assert.equal(at(1, 0, 0), Math.fround(101 / 100 - 1));
  assert.ok(Number.isNaN(at(10, 1, 0)), "B has no bar on day 10");
  // B's return on day 11 is over its previous bar (day 9): 59 → 60... closes 50+k on its own bars.
  assert.equal(at(11, 1, 0), Math.fround(60 / 59 - 1));
  assert.ok(Number.isNaN(at(19, 0, 2)));
  assert.ok(Number.isFinite(at(20, 0, 2)));
});
