/**
 * The seeded synthetic OHLCV of `../shared/bench/SPEC.md` section 2 (same distributions
 * as `features_ref.py`, drawn from the project's own {@linkcode Rng}), for benchmarks,
 * tests and notebooks.
 *
 * @module
 */
import pl from "nodejs-polars";
import { Rng } from "../util/rng.ts";
import type { BarColumns } from "../data/panel.ts";

/** Long-form synthetic bars in typed arrays, sorted by (instrument, timestamp). */
export interface SyntheticBars {
  /** `SYM0000` … */
  symbols: string[];
  /** Business days (Mon–Fri) from 2010-01-04, epoch ms UTC. */
  days: Float64Array;
  /** Row r is symbol `floor(r / days.length)`, day `r % days.length`. */
  open: Float64Array;
  high: Float64Array;
  low: Float64Array;
  close: Float64Array;
  /** Whole numbers (the reference stores int64). */
  volume: Float64Array;
}

/**
 * `D` business days (Mon–Fri, no holidays) from a start date, like pandas `bdate_range`.
 * @param days Count.
 * @param start ISO date; default `2010-01-04`.
 * @returns Epoch ms UTC.
 * @example
 * ```ts
 * businessDays(3, "2024-01-05"); // Fri 5th, Mon 8th, Tue 9th
 * ```
 */
export function businessDays(days: number, start = "2010-01-04"): Float64Array {
  const out = new Float64Array(days);
  const d = new Date(`${start}T00:00:00Z`);
  for (let k = 0; k < days;) {
    const wd = d.getUTCDay();
    if (wd !== 0 && wd !== 6) out[k++] = d.getTime();
    d.setUTCDate(d.getUTCDate() + 1);
  }
  return out;
}

/**
 * Generates SPEC section 2's synthetic data: per symbol σ ~ U(0.01, 0.03), p0 ~ U(20, 200),
 * GBM close with μ = 0.0003, open = prev_close·exp(0.3σ·N), high = max(o,c)·(1+|0.5σ·N|),
 * low = min(o,c)·(1−|0.5σ·N|), volume = round(U(1e5, 5e6)·LogNormal(0, 0.5)).
 * @param symbols S.
 * @param days D.
 * @param seed Seed of the generator. Default 7.
 * @returns Typed long-form columns, `S·D` rows.
 * @example
 * ```ts
 * const syn = syntheticBars(52, 252);
 * syn.close.length; // 13104
 * ```
 */
export function syntheticBars(symbols: number, days: number, seed = 7): SyntheticBars {
  const rng = new Rng(seed);
  const n = symbols * days;
  const out: SyntheticBars = {
    symbols: symbolNames(symbols),
    days: businessDays(days),
    open: new Float64Array(n),
    high: new Float64Array(n),
    low: new Float64Array(n),
    close: new Float64Array(n),
    volume: new Float64Array(n),
  };
  for (let s = 0; s < symbols; s++) generateSymbol(rng, out, s * days, days);
  return out;
}

function symbolNames(symbols: number): string[] {
  return Array.from({ length: symbols }, (_, i) => `SYM${String(i).padStart(4, "0")}`);
}

type Ohlcv = Pick<SyntheticBars, "open" | "high" | "low" | "close" | "volume">;

/** Draws one symbol's parameters and `days` bars into `out` from row `at` (the same draw order everywhere). */
function generateSymbol(rng: Rng, out: Ohlcv, at: number, days: number): void {
  const mu = 0.0003;
  const sigma = 0.01 + 0.02 * rng.uniform();
  const p0 = 20 + 180 * rng.uniform();
  const baseVol = 1e5 + (5e6 - 1e5) * rng.uniform();
  let prev = p0;
  let logP = Math.log(p0);
  for (let d = 0; d < days; d++) {
    const r = at + d;
    logP += mu - 0.5 * sigma * sigma + sigma * rng.normal();
    const c = Math.exp(logP);
    const o = prev * Math.exp(0.3 * sigma * rng.normal());
    out.close[r] = c;
    out.open[r] = o;
    out.high[r] = Math.max(o, c) * (1 + Math.abs(0.5 * sigma * rng.normal()));
    out.low[r] = Math.min(o, c) * (1 - Math.abs(0.5 * sigma * rng.normal()));
    out.volume[r] = Math.round(baseVol * Math.exp(0.5 * rng.normal()));
    prev = c;
  }
}

/**
 * The same synthetic bars as {@linkcode syntheticBars}, generated straight into a Polars
 * frame (`instrument` categorical, `timestamp` datetime[ms], OHLCV f64) a few symbols at
 * a time, so no full-size JS arrays are ever alive (benchmarks measure peak memory).
 * @param symbols S.
 * @param days D.
 * @param seed Seed. Default 7.
 * @returns The frame, sorted by (instrument, timestamp), in chunks (not rechunked).
 * @example
 * ```ts
 * syntheticFrame(500, 2520).height; // 1,260,000
 * ```
 */
export function syntheticFrame(symbols: number, days: number, seed = 7): pl.DataFrame {
  const rng = new Rng(seed);
  const names = symbolNames(symbols);
  const calendar = businessDays(days);
  const per = Math.max(1, Math.floor(65_536 / days));
  const parts: pl.DataFrame[] = [];
  // One set of buffers, refilled per chunk: Polars copies typed arrays into its own
  // memory, so no full-size (or even per-chunk) garbage piles up on the JS heap.
  const size = per * days;
  const buf: Ohlcv = {
    open: new Float64Array(size),
    high: new Float64Array(size),
    low: new Float64Array(size),
    close: new Float64Array(size),
    volume: new Float64Array(size),
  };
  const ts = new Float64Array(size);
  for (let j = 0; j < per; j++) ts.set(calendar, j * days);
  for (let s0 = 0; s0 < symbols; s0 += per) {
    const k = Math.min(per, symbols - s0);
    const n = k * days;
    const inst = new Array<string>(n);
    for (let j = 0; j < k; j++) {
      generateSymbol(rng, buf, j * days, days);
      inst.fill(names[s0 + j], j * days, (j + 1) * days);
    }
    const col = (name: string, a: Float64Array) => pl.Series(name, a.subarray(0, n), pl.Float64);
    parts.push(pl.DataFrame([
      pl.Series("instrument", inst, pl.Utf8).cast(pl.Categorical),
      col("timestamp", ts).cast(pl.Int64).cast(pl.Datetime("ms")),
      col("open", buf.open),
      col("high", buf.high),
      col("low", buf.low),
      col("close", buf.close),
      col("volume", buf.volume),
    ]));
  }
  return pl.concat(parts, { rechunk: false, how: "vertical" });
}

/**
 * The synthetic bars as plain {@linkcode BarColumns} (for the store and small tests).
 * @param syn From {@linkcode syntheticBars}.
 * @returns Column arrays.
 * @example
 * ```ts
 * const prices = panelFromBars(syntheticBarColumns(syntheticBars(5, 300)), "1 day");
 * ```
 */
export function syntheticBarColumns(syn: SyntheticBars): BarColumns {
  const days = syn.days.length;
  const n = syn.close.length;
  return {
    instrument: Array.from({ length: n }, (_, r) => syn.symbols[Math.floor(r / days)]),
    timestamp: Array.from({ length: n }, (_, r) => syn.days[r % days]),
    open: Array.from(syn.open),
    high: Array.from(syn.high),
    low: Array.from(syn.low),
    close: Array.from(syn.close),
    volume: Array.from(syn.volume),
  };
}
