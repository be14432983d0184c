/**
 * Feature drift: is the recent window of each feature a model observes distributed like
 * the data it was trained on? Per feature and instrument, two distances between the
 * training values and the recent window:
 *
 * - **Population stability index** (PSI): the training values' deciles define ten bins;
 *   with `e_k`, `a_k` the shares of training and recent values in bin `k` (floored at
 *   1e-4 so an empty bin stays finite), `PSI = Σ (a_k − e_k) · ln(a_k / e_k)`. Rule of
 *   thumb (Siddiqi 2006; Yurdakul 2018): below 0.1 no shift, 0.1–0.25 moderate, above
 *   0.25 significant.
 * - **Two-sample Kolmogorov–Smirnov distance** `D = sup |F_train − F_recent|`.
 *
 * **Calibration.** Most features are rolling statistics (a 20-bar volatility moves
 * slowly), so a 63-bar window holds only a few independent observations and covers a
 * narrow part of the training distribution even when nothing changed: the textbook PSI
 * rule and the i.i.d. KS p-value both raise false alarms on an unchanged period (measured
 * in the tests: PSI 1.07 and D 0.32 for an unchanged 20-bar volatility). So each distance
 * is compared with its own null distribution: the same distance for every window of the
 * same length *inside* the training values (up to 200 evenly spaced start bars), against
 * the whole training sample. The empirical p-value `(1 + #{null ≥ observed}) / (1 + m)`
 * says how unusual the recent window is compared with how much windows varied while the
 * model was trained.
 *
 * A pair is **drifted** when `PSI ≥ psi` (a shift large enough to matter) and both
 * empirical p-values are `≤ alpha` (larger than the training period's own variation); the
 * model is drifted when at least `share` of its pairs are. Defaults in
 * {@linkcode DEFAULT_DRIFT_THRESHOLDS}: the rule-of-thumb PSI, a 1 % test level and a
 * quarter of the pairs; none is fitted to a data set. With fewer training values than
 * `window + 20`, no null can be built: p is NaN and the pair is not called drifted.
 *
 * @module
 */

/** Thresholds of the drift decision. */
export interface DriftThresholds {
  /** PSI at or above which a pair may be drifted. Default 0.25. */
  psi: number;
  /** Empirical p-value (PSI and KS, against the training windows) at or below which a pair may be drifted. Default 0.01. */
  alpha: number;
  /** Share of drifted pairs at or above which the model is drifted. Default 0.25. */
  share: number;
}

/** The defaults of {@linkcode DriftThresholds}. */
export const DEFAULT_DRIFT_THRESHOLDS: Readonly<DriftThresholds> = Object.freeze({
  psi: 0.25,
  alpha: 0.01,
  share: 0.25,
});

const FLOOR = 1e-4;

function finiteSorted(xs: ArrayLike<number>): Float64Array {
  const out: number[] = [];
  for (let i = 0; i < xs.length; i++) if (Number.isFinite(xs[i])) out.push(xs[i]);
  return Float64Array.from(out).sort();
}

/** Index of the first element of sorted `s` greater than `x`. */
function upperBound(s: Float64Array, x: number): number {
  let lo = 0, hi = s.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (s[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Population stability index of `actual` against `expected`, on the deciles of
 * `expected` (see the module notes). Non-finite values are ignored.
 * @param expected Training values.
 * @param actual Recent values.
 * @param bins Number of quantile bins. Default 10.
 * @returns PSI ≥ 0, or NaN when either side has no finite value.
 * @example
 * ```ts
 * psi([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]); // 0
 * ```
 */
export function psi(expected: ArrayLike<number>, actual: ArrayLike<number>, bins = 10): number {
  const e = finiteSorted(expected);
  const a = finiteSorted(actual);
  if (e.length === 0 || a.length === 0) return NaN;
  return psiSorted(prepareReference(e, bins), a);
}

interface Reference {
  sorted: Float64Array;
  edges: number[];
  shares: Float64Array;
}

/** Bin edges (distinct interior quantiles) and bin shares of sorted training values. */
function prepareReference(values: ArrayLike<number>, bins = 10): Reference {
  const sorted = values instanceof Float64Array ? values : finiteSorted(values);
  const edges: number[] = [];
  for (let k = 1; k < bins; k++) {
    const q = sorted[Math.min(sorted.length - 1, Math.floor((k * sorted.length) / bins))];
    if (edges.length === 0 || q > edges[edges.length - 1]) edges.push(q);
  }
  return { sorted, edges, shares: binShares(sorted, edges) };
}

/** Shares of sorted `s` per bin: bin k holds edges[k-1] < v ≤ edges[k], the last one the rest. */
function binShares(s: Float64Array, edges: readonly number[]): Float64Array {
  const out = new Float64Array(edges.length + 1);
  let prev = 0;
  for (let k = 0; k < edges.length; k++) {
    const idx = upperBound(s, edges[k]);
    out[k] = (idx - prev) / s.length;
    prev = idx;
  }
  out[edges.length] = (s.length - prev) / s.length;
  return out;
}

function psiSorted(ref: Reference, a: Float64Array): number {
  const pa = binShares(a, ref.edges);
  let total = 0;
  for (let k = 0; k < pa.length; k++) {
    const x = Math.max(pa[k], FLOOR), y = Math.max(ref.shares[k], FLOOR);
    total += (x - y) * Math.log(x / y);
  }
  return total;
}

function ksSorted(x: Float64Array, y: Float64Array): number {
  let i = 0, j = 0, d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i], y[j]);
    while (i < x.length && x[i] <= v) i++;
    while (j < y.length && y[j] <= v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  return d;
}

/** Kolmogorov's limiting survival function `Q_KS(λ) = 2 Σ (−1)^{j−1} e^{−2 j² λ²}`. */
function qks(lambda: number): number {
  if (lambda < 1e-3) return 1;
  let sum = 0, sign = 1;
  for (let j = 1; j <= 100; j++) {
    const term = sign * Math.exp(-2 * j * j * lambda * lambda);
    sum += term;
    if (Math.abs(term) < 1e-12) break;
    sign = -sign;
  }
  return Math.min(1, Math.max(0, 2 * sum));
}

/**
 * Two-sample Kolmogorov–Smirnov test: the largest distance between the empirical
 * distribution functions and its asymptotic p-value (which assumes independent draws).
 * @param a First sample.
 * @param b Second sample.
 * @returns `d` in [0, 1] and `p`; both NaN when a sample has no finite value.
 * @example
 * ```ts
 * ksTest([1, 2, 3], [1, 2, 3]).d; // 0
 * ksTest([1, 2, 3], [10, 11, 12]).d; // 1
 * ```
 */
export function ksTest(a: ArrayLike<number>, b: ArrayLike<number>): { d: number; p: number } {
  const x = finiteSorted(a), y = finiteSorted(b);
  if (x.length === 0 || y.length === 0) return { d: NaN, p: NaN };
  const d = ksSorted(x, y);
  const ne = (x.length * y.length) / (x.length + y.length);
  const sq = Math.sqrt(ne);
  return { d, p: qks((sq + 0.12 + 0.11 / sq) * d) };
}

/**
 * The null distribution of PSI and KS for windows of `w` consecutive training values
 * against all of them (see the module notes).
 * @param train Training values in time order (finite).
 * @param w Window length.
 * @param max Most windows used (evenly spaced). Default 200.
 * @returns The distances, or null with fewer than `w + 20` values.
 */
function windowNull(
  train: readonly number[],
  w: number,
  max = 200,
): { psi: Float64Array; ks: Float64Array } | null {
  const n = train.length;
  if (n < w + 20) return null;
  const starts = n - w + 1;
  const m = Math.min(max, starts);
  const ref = prepareReference(train);
  const psiOut = new Float64Array(m), ksOut = new Float64Array(m);
  for (let j = 0; j < m; j++) {
    const s0 = Math.round((j * (starts - 1)) / Math.max(1, m - 1));
    const win = Float64Array.from(train.slice(s0, s0 + w)).sort();
    psiOut[j] = psiSorted(ref, win);
    ksOut[j] = ksSorted(ref.sorted, win);
  }
  return { psi: psiOut, ks: ksOut };
}

/** One (feature, instrument) comparison. */
export interface FeatureDriftRow {
  instrument: string;
  feature: string;
  psi: number;
  /** Empirical p-value of the PSI against windows of the training values (NaN: no null). */
  psiP: number;
  ksD: number;
  /** Empirical p-value of the KS distance against windows of the training values. */
  ksP: number;
  nTrain: number;
  nRecent: number;
  drifted: boolean;
}

/** The drift of a model's observed features. */
export interface FeatureDriftReport {
  rows: FeatureDriftRow[];
  /** Pairs with both samples non-empty. */
  pairs: number;
  driftedPairs: number;
  /** `driftedPairs / pairs` (NaN without pairs). */
  share: number;
  drifted: boolean;
  thresholds: DriftThresholds;
}

/** Values per `instrument → feature`. */
export type FeatureSamples = Map<string, Map<string, number[]>>;

/**
 * Compares recent feature values with the training values, pair by pair.
 * @param train Training values by instrument and feature.
 * @param recent Recent values by instrument and feature.
 * @param thresholds Overrides of {@linkcode DEFAULT_DRIFT_THRESHOLDS}.
 * @returns One row per pair present in `train` (sorted by instrument, feature) and the model verdict.
 * @example
 * ```ts
 * const r = featureDrift(trainSamples, recentSamples, { psi: 0.2 });
 * r.drifted; // true when ≥ 25 % of the pairs moved
 * ```
 */
export function featureDrift(
  train: FeatureSamples,
  recent: FeatureSamples,
  thresholds: Partial<DriftThresholds> = {},
): FeatureDriftReport {
  const t = { ...DEFAULT_DRIFT_THRESHOLDS, ...thresholds };
  for (const [k, v] of Object.entries(t)) {
    if (!(Number.isFinite(v) && v >= 0)) {
      throw new RangeError(`drift threshold ${k} = ${v} must be ≥ 0`);
    }
  }
  const rows: FeatureDriftRow[] = [];
  for (const instrument of [...train.keys()].sort()) {
    const feats = train.get(instrument)!;
    for (const feature of [...feats.keys()].sort()) {
      const a = feats.get(feature)!.filter(Number.isFinite);
      const b = (recent.get(instrument)?.get(feature) ?? []).filter(Number.isFinite);
      const p = psi(a, b);
      const ks = ksTest(a, b);
      const nul = b.length > 0 ? windowNull(a, b.length) : null;
      const pv = (obs: number, xs: Float64Array | undefined) => {
        if (!xs || xs.length === 0 || !Number.isFinite(obs)) return NaN;
        let ge = 0;
        for (const x of xs) if (x >= obs - 1e-12) ge++;
        return (1 + ge) / (1 + xs.length);
      };
      const psiP = pv(p, nul?.psi);
      const ksP = pv(ks.d, nul?.ks);
      rows.push({
        instrument,
        feature,
        psi: p,
        psiP,
        ksD: ks.d,
        ksP,
        nTrain: a.length,
        nRecent: b.length,
        drifted: Number.isFinite(p) && p >= t.psi && psiP <= t.alpha && ksP <= t.alpha,
      });
    }
  }
  const measured = rows.filter((r) => r.nTrain > 0 && r.nRecent > 0);
  const driftedPairs = measured.filter((r) => r.drifted).length;
  const share = measured.length ? driftedPairs / measured.length : NaN;
  return {
    rows,
    pairs: measured.length,
    driftedPairs,
    share,
    drifted: measured.length > 0 && share >= t.share,
    thresholds: t,
  };
}

/**
 * Groups long-form feature rows (`tt_features` layout) by instrument and feature.
 * @param rows Column arrays.
 * @param keep Only rows it accepts, by timestamp and instrument (all when omitted).
 * @returns Values per instrument and feature, in row order.
 * @example
 * ```ts
 * const samples = groupFeatureRows(await readFeatures(store, { instruments: ["AAPL"] }));
 * ```
 */
export function groupFeatureRows(
  rows: {
    instrument: string[];
    timestamp: ArrayLike<number>;
    feature: string[];
    value: ArrayLike<number>;
  },
  keep?: (timestamp: number, instrument: string) => boolean,
): FeatureSamples {
  const out: FeatureSamples = new Map();
  for (let i = 0; i < rows.instrument.length; i++) {
    if (keep && !keep(rows.timestamp[i], rows.instrument[i])) continue;
    let byFeature = out.get(rows.instrument[i]);
    if (!byFeature) out.set(rows.instrument[i], byFeature = new Map());
    let values = byFeature.get(rows.feature[i]);
    if (!values) byFeature.set(rows.feature[i], values = []);
    values.push(rows.value[i]);
  }
  return out;
}
