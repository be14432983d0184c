/**
 * Trading signals over the wide feature frame: each signal scores every
 * (instrument, timestamp) in [-1, 1] (positive = expect the price to rise) with its
 * rationale in `meta_json`; {@linkcode combineSignals} blends signals by configurable
 * weights, on the raw scores or on cross-sectional ranks. The result has the layout
 * of `tt_signal_scores`.
 *
 * Every score at t reads only features at t, so signals inherit the features'
 * absence of look-ahead.
 *
 * @module
 */
import pl from "nodejs-polars";

/** A signal frame: `instrument`, `timestamp`, `signal_name`, `score` in [-1, 1], `meta_json` (JSON text). */
export type SignalFrame = pl.DataFrame;

/** The signal frame's columns, in order. */
export const SIGNAL_COLUMNS = [
  "instrument",
  "timestamp",
  "signal_name",
  "score",
  "meta_json",
] as const;

/** Features each built-in signal reads (compute these before generating it). */
export const SIGNAL_FEATURES = {
  momentum: ["mom_20", "mom_60", "mom_120", "vol_20"],
  mean_reversion: ["zscore_20"],
} as const satisfies Record<string, readonly string[]>;

function requireColumns(frame: pl.DataFrame, cols: readonly string[], what: string): void {
  const missing = cols.filter((c) => !frame.columns.includes(c));
  if (missing.length) {
    throw new TypeError(
      `${what} needs feature columns ${missing.join(", ")}; the frame has ${
        frame.columns.join(", ")
      }`,
    );
  }
}

/** Options of {@linkcode generateMomentumSignals}. */
export interface MomentumOptions {
  /** Return horizon in bars: 20, 60 or 120 (reads `mom_<horizon>`). Default 20. */
  horizon?: 20 | 60 | 120;
  /** Signal name. Default `"momentum"`. */
  name?: string;
}

/**
 * Time-series momentum: the horizon's return measured in units of its expected
 * spread, squashed to (-1, 1): `tanh(mom_h / (vol_20 · √h))`. A steady uptrend scores
 * near +1, a steady downtrend near −1, noise near 0; with `vol_20` = 0 the score is the
 * sign of `mom_h`. No row during warm-up.
 *
 * @param features Wide frame with `mom_<horizon>` and `vol_20`.
 * @param options See {@linkcode MomentumOptions}.
 * @returns The signal frame; `meta_json` holds the rule and its inputs.
 * @throws {TypeError} When a needed feature column is missing.
 * @example
 * ```ts
 * const frame = computeFeatures(bars, { names: [...SIGNAL_FEATURES.momentum] });
 * const mom = generateMomentumSignals(frame, { horizon: 60 });
 * ```
 */
export function generateMomentumSignals(
  features: pl.DataFrame,
  options: MomentumOptions = {},
): SignalFrame {
  const h = options.horizon ?? 20;
  const mom = `mom_${h}`;
  requireColumns(features, [mom, "vol_20"], "generateMomentumSignals");
  // A riskless trend (vol_20 = 0) has an unbounded t-statistic: its score is the sign of the return.
  const score = pl.when(pl.col("vol_20").eq(0))
    .then(pl.col(mom).gt(0).cast(pl.Float64).minus(pl.col(mom).lt(0).cast(pl.Float64)))
    .otherwise(pl.col(mom).div(pl.col("vol_20").mul(Math.sqrt(h))).tanh());
  return features.lazy()
    .filter(pl.col(mom).isNotNull().and(pl.col("vol_20").isNotNull()))
    .select(
      pl.col("instrument"),
      pl.col("timestamp"),
      pl.lit(options.name ?? "momentum").alias("signal_name"),
      score.alias("score"),
      pl.format(
        `{"rule":"tanh(${mom}/(vol_20*sqrt(${h})))","range":[-1,1],"${mom}":{},"vol_20":{}}`,
        pl.col(mom),
        pl.col("vol_20"),
      ).alias("meta_json"),
    )
    .collectSync();
}

/** Options of {@linkcode generateMeanReversionSignals}. */
export interface MeanReversionOptions {
  /** The z-score that maps to tanh(1) ≈ 0.76. Default 2. */
  scale?: number;
  /** Signal name. Default `"mean_reversion"`. */
  name?: string;
}

/**
 * Mean reversion: a close far above its 20-bar mean is expected to fall back, so
 * `score = −tanh(zscore_20 / scale)`: a spike up scores negative, a plunge positive,
 * a close at its mean 0.
 *
 * @param features Wide frame with `zscore_20`.
 * @param options See {@linkcode MeanReversionOptions}.
 * @returns The signal frame; `meta_json` holds the rule and the z-score.
 * @throws {TypeError} When `zscore_20` is missing.
 * @example
 * ```ts
 * const mr = generateMeanReversionSignals(computeFeatures(bars, { names: ["zscore_20"] }));
 * ```
 */
export function generateMeanReversionSignals(
  features: pl.DataFrame,
  options: MeanReversionOptions = {},
): SignalFrame {
  const scale = options.scale ?? 2;
  if (!(scale > 0)) throw new RangeError(`scale must be > 0; got ${scale}`);
  requireColumns(features, ["zscore_20"], "generateMeanReversionSignals");
  return features.lazy()
    .select(pl.col("instrument"), pl.col("timestamp"), pl.col("zscore_20").alias("_z"))
    .filter(pl.col("_z").isFinite())
    .select(
      pl.col("instrument"),
      pl.col("timestamp"),
      pl.lit(options.name ?? "mean_reversion").alias("signal_name"),
      pl.col("_z").div(-scale).tanh().alias("score"),
      pl.format(`{"rule":"-tanh(zscore_20/${scale})","range":[-1,1],"zscore_20":{}}`, pl.col("_z"))
        .alias("meta_json"),
    )
    .collectSync();
}

/** Options of {@linkcode combineSignals}. */
export interface CombineOptions {
  /** Weight per signal name; signals not listed weigh 0. Default: 1 for each. */
  weights?: Record<string, number>;
  /**
   * `weighted` (default): Σ wᵢ·sᵢ / Σ|wᵢ| of the raw scores.
   * `rank`: each signal's scores are first replaced by their cross-sectional rank at
   * the date, `2·(rank − 0.5)/count − 1` (average ties; one instrument → 0), then weighted.
   */
  method?: "weighted" | "rank";
  /** Name of the combined signal. Default `"combined"`. */
  name?: string;
}

/**
 * Combines signals per (instrument, timestamp) where every weighted signal has a score.
 * The result stays in [-1, 1].
 * @param signals Signal frames (any number, distinct `signal_name`s).
 * @param options See {@linkcode CombineOptions}.
 * @returns The combined signal frame; `meta_json` holds method, weights and the input scores.
 * @throws {RangeError} When the weights are all zero or name no given signal.
 * @example
 * ```ts
 * const combined = combineSignals([mom, mr], { weights: { momentum: 2, mean_reversion: 1 }, method: "rank" });
 * ```
 */
export function combineSignals(
  signals: readonly SignalFrame[],
  options: CombineOptions = {},
): SignalFrame {
  const all = pl.concat(
    signals.map((s) => s.select("instrument", "timestamp", "signal_name", "score")),
    {
      how: "vertical",
    },
  );
  const names = [...new Set(all.getColumn("signal_name").toArray() as string[])].sort();
  const weights = options.weights ?? Object.fromEntries(names.map((n) => [n, 1]));
  const used = names.filter((n) => (weights[n] ?? 0) !== 0);
  for (const k of Object.keys(weights)) {
    if (!names.includes(k) && weights[k] !== 0) {
      throw new RangeError(
        `combineSignals: weight for "${k}" but no such signal among ${names.join(", ")}`,
      );
    }
  }
  if (used.length === 0) throw new RangeError("combineSignals: every weight is zero");
  const method = options.method ?? "weighted";
  const norm = used.reduce((s, n) => s + Math.abs(weights[n]), 0);

  let wide: pl.DataFrame | undefined;
  for (const n of used) {
    let part = all.filter(pl.col("signal_name").eq(pl.lit(n))).select(
      pl.col("instrument"),
      pl.col("timestamp"),
      pl.col("score").alias(n),
    );
    if (method === "rank") {
      const rank = pl.col(n).rank("average").cast(pl.Float64).minus(0.5).div(
        pl.col(n).count().cast(pl.Float64),
      );
      part = part.withColumns(rank.mul(2).minus(1).over("timestamp").alias(n));
    }
    wide = wide ? wide.join(part, { on: ["instrument", "timestamp"], how: "inner" }) : part;
  }
  const score = used.map((n) => pl.col(n).mul(weights[n] / norm)).reduce((a, b) => a.plus(b));
  const meta =
    `{"method":"${method}","weights":${
      JSON.stringify(Object.fromEntries(used.map((n) => [n, weights[n]])))
    },` +
    `"inputs":{${used.map((n) => `"${n}":{}`).join(",")}}}`;
  return wide!.lazy()
    .select(
      pl.col("instrument"),
      pl.col("timestamp"),
      pl.lit(options.name ?? "combined").alias("signal_name"),
      score.alias("score"),
      pl.format(meta, ...used.map((n) => pl.col(n))).alias("meta_json"),
    )
    .sort(["instrument", "timestamp"])
    .collectSync();
}
