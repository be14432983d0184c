/**
 * Hand-made price and feature panels for the env tests (no store, no Polars).
 *
 * @module
 */
import type { PricePanel } from "@lib/data/panel.ts";
import type { FeaturePanel } from "@lib/features/feature_panel.ts";
import { Rng } from "@lib/util/rng.ts";

const DAY = 86_400_000;

/**
 * A panel from per-bar rows: `open[t][i]`, `close[t][i]` (NaN = no bar).
 * High/low are the max/min of open and close; volume defaults to 1e6.
 */
export function handPanel(
  instruments: string[],
  rows: { open: number[][]; close: number[][]; volume?: number[][] },
): PricePanel {
  const n = instruments.length, T = rows.close.length;
  const flat = (m: number[][]) => Float64Array.from(m.flat());
  const open = flat(rows.open), close = flat(rows.close);
  const volume = rows.volume ? flat(rows.volume) : new Float64Array(n * T).fill(1e6);
  for (let k = 0; k < n * T; k++) if (Number.isNaN(close[k])) volume[k] = NaN;
  return {
    instruments,
    barSize: "1 day",
    timestamps: Array.from({ length: T }, (_, t) => Date.UTC(2024, 0, 1) + t * DAY),
    open,
    high: open.map((o, k) => Math.max(o, close[k])),
    low: open.map((o, k) => Math.min(o, close[k])),
    close,
    volume,
  };
}

/** Features that depend only on bars ≤ t: 1-bar and 5-bar close returns (warm-up 5). */
export function causalFeatures(prices: PricePanel): FeaturePanel {
  const n = prices.instruments.length, T = prices.timestamps.length, F = 2;
  const values = new Float32Array(T * n * F).fill(NaN);
  const c = prices.close;
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < n; i++) {
      if (t >= 1) values[(t * n + i) * F] = c[t * n + i] / c[(t - 1) * n + i] - 1;
      if (t >= 5) values[(t * n + i) * F + 1] = c[t * n + i] / c[(t - 5) * n + i] - 1;
    }
  }
  return {
    instruments: [...prices.instruments],
    timestamps: [...prices.timestamps],
    names: ["ret_1", "ret_5"],
    values,
    warmup: 5,
  };
}

/** Zero features (F = 1, warm-up 0): for known-answer tests where only prices matter. */
export function zeroFeatures(prices: PricePanel): FeaturePanel {
  const n = prices.instruments.length, T = prices.timestamps.length;
  return {
    instruments: [...prices.instruments],
    timestamps: [...prices.timestamps],
    names: ["zero"],
    values: new Float32Array(T * n),
    warmup: 0,
  };
}

/** Seeded GBM-like panel: `n` instruments, `T` bars; open = previous close · small gap. */
export function syntheticPrices(n: number, T: number, seed: number): PricePanel {
  const rng = new Rng(seed);
  const open: number[][] = [], close: number[][] = [], volume: number[][] = [];
  const p = new Array(n).fill(100);
  for (let t = 0; t < T; t++) {
    const o: number[] = [], c: number[] = [], v: number[] = [];
    for (let i = 0; i < n; i++) {
      o.push(p[i] * Math.exp(0.002 * rng.normal()));
      p[i] = o[i] * Math.exp(0.0003 + 0.015 * rng.normal());
      c.push(p[i]);
      v.push(1e5 * (1 + rng.uniform()));
    }
    open.push(o);
    close.push(c);
    volume.push(v);
  }
  return handPanel(Array.from({ length: n }, (_, i) => `S${i}`), { open, close, volume });
}

/** A copy of a price panel with every bar after `t` multiplied by random factors. */
export function perturbAfter(prices: PricePanel, t: number, seed: number): PricePanel {
  const rng = new Rng(seed);
  const n = prices.instruments.length;
  const out: PricePanel = {
    ...prices,
    open: prices.open.slice(),
    high: prices.high.slice(),
    low: prices.low.slice(),
    close: prices.close.slice(),
    volume: prices.volume.slice(),
  };
  for (let k = (t + 1) * n; k < out.close.length; k++) {
    out.open[k] *= 1 + 0.2 * (rng.uniform() - 0.5);
    out.close[k] *= 1 + 0.2 * (rng.uniform() - 0.5);
    out.high[k] = Math.max(out.open[k], out.close[k]);
    out.low[k] = Math.min(out.open[k], out.close[k]);
    out.volume[k] *= 1 + rng.uniform();
  }
  return out;
}
