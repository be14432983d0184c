/**
 * The incremental feature step of the trading cycle: features for the bars that arrived
 * since the last stored ones, without a full refresh. Per instrument it finds the last
 * bar with stored features (an index probe, {@linkcode readFeatureFrontier}), reads the
 * history those bars need, computes, and upserts only the rows from the first new bar on.
 *
 * **Exactness.** By default (`history: "full"`) every instrument's whole stored history
 * is read (only OHLCV: the cheap part of a refresh; the writes are the dear part), so the
 * rows written are bit-for-bit those a full refresh writes (`tt_features` is float8; a
 * test compares the bits). A bounded read (`history: N` bars, at least the derived
 * warm-up {@linkcode incrementalWarmup}) is faster on long histories but only close:
 * Polars' rolling mean/std keep running sums, so `vol_*`, `zscore_20` and `bb_pctb_20`
 * then differ in the last digits (≈1e-11 relative), and the exponential means (RSI,
 * MACD, ATR) never forget their seed exactly: they agree to ≈1e-4 after 120 bars of
 * history, ≈1e-12 after 400 and bit-for-bit after ≈600 (the recursion coalesces).
 *
 * **Only forward.** New bars are those after the last stored feature row. A corrected
 * older bar is not looked for in `tt_prices` (the table keeps no ingest lineage); the
 * step recomputes the values at each instrument's last stored bar and, when they differ
 * from the stored ones (exact mode) or a feature is missing there, recomputes that
 * instrument from its first bar. That catches corrections inside the features' memory
 * of the last stored bar (120 bars for `mom_120`, ≈600 for the exponential means);
 * after correcting older bars run a full refresh (`deno task features`).
 *
 * **Cross-sectional features** (`rank_*`, `vol_decile`, `rel_strength`) at a date depend
 * on every instrument with a bar there, so rows are rewritten for every selected
 * instrument from the earliest new bar of any of them (unchanged rows are skipped by the
 * upsert). As with a full refresh, `instruments` defines the cross-section.
 *
 * @module
 */
import pl from "nodejs-polars";
import type { Store } from "../db/store.ts";
import { readPricesGrouped } from "../db/prices_repo.ts";
import {
  readFeatureFrontier,
  readHistoryStart,
  type StoredFrontier,
  upsertFeatures,
  upsertSignalScores,
} from "../db/features_repo.ts";
import type { BarColumns } from "../data/panel.ts";
import { computeFeatures, type FeatureSelection, toLongForm, warmupOf } from "./compute.ts";
import { resolveFeatureNames } from "./definitions.ts";
import { type CombineOptions, SIGNAL_FEATURES } from "./signals.ts";
import { computeSignals, featureRows, signalRows } from "./refresh.ts";

/** The signal names {@linkcode computeSignals} writes. */
const SIGNAL_NAMES = ["combined", "mean_reversion", "momentum"];

/** What {@linkcode refreshFeaturesIncremental} should do. */
export interface IncrementalOptions extends FeatureSelection {
  /** Only these symbols (they form the cross-section). Default: every symbol in `tt_prices`. */
  instruments?: string[];
  /** Default `"1 day"`. */
  barSize?: string;
  /**
   * History read before the first new bar: `"full"` (default; every stored bar, values
   * bit-for-bit those of a full refresh) or a bar count per instrument, at least
   * {@linkcode incrementalWarmup} (values close, see the module notes).
   */
  history?: "full" | number;
  /**
   * Also the signals (`momentum`, `mean_reversion`, `combined`) into `tt_signal_scores`,
   * from the first bar after the last stored signal. Default false: the environment
   * observes neither table (it computes its features from `tt_prices`), and
   * `deno task signals` is a separate step.
   */
  signals?: boolean | { horizon?: 20 | 60 | 120; combine?: CombineOptions };
  /** Rows per transaction. Default 100,000. */
  rowsPerTransaction?: number;
  /** Progress: called after each commit. */
  onCommit?: (rowsSoFar: number, totalRows: number) => void;
}

/** An instrument recomputed from its first bar, and why. */
export interface IncrementalFallback {
  instrument: string;
  reason: string;
}

/** What {@linkcode refreshFeaturesIncremental} did. */
export interface IncrementalSummary {
  /**
   * `none`: nothing new, nothing written; `incremental`: rows from `from` on;
   * `full`: some instrument had no (or inconsistent) stored features, so every bar was
   * recomputed and written (the upsert skips unchanged rows).
   */
  mode: "none" | "incremental" | "full";
  /** One line for people. */
  message: string;
  /** Instruments in the selection. */
  instruments: number;
  /** Instruments with bars after their last stored features (or none stored). */
  instrumentsUpdated: number;
  /** Bars after the instruments' last stored features, summed over instruments. */
  newBars: number;
  /** First timestamp written (ISO), or null. */
  from: string | null;
  /** Bars read from `tt_prices` (new bars plus history). */
  barsRead: number;
  /** The history setting used (`"full"` after a fallback from a bounded read). */
  history: "full" | number;
  features: string[];
  rowsWritten: number;
  signalRowsWritten: number;
  fallbacks: IncrementalFallback[];
  seconds: { frontier: number; read: number; compute: number; write: number; total: number };
}

/**
 * The fewest bars of history the incremental step may read before the first new bar:
 * the largest derived lookback of the features (and of what the signals read).
 * @param selection Feature set / names (default `all`).
 * @param signals Whether the signals are computed too.
 * @returns Bars of history.
 * @example
 * ```ts
 * incrementalWarmup({ set: "basic" }); // 20: vol_20 needs return_1 (1) + a 20-bar window (19)
 * incrementalWarmup({ set: "basic" }, true); // 120: the momentum signal reads mom_120
 * ```
 */
export function incrementalWarmup(selection: FeatureSelection = {}, signals = false): number {
  return warmupOf(computedNames(resolveFeatureNames(selection), signals));
}

function computedNames(names: readonly string[], signals: boolean): string[] {
  if (!signals) return [...names];
  return resolveFeatureNames({
    names: [...names, ...SIGNAL_FEATURES.momentum, ...SIGNAL_FEATURES.mean_reversion],
  });
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Per instrument, the first timestamp to (re)write: the bar after its last stored row,
 * −∞ when nothing is stored, +∞ when nothing is new.
 */
function firstNew(f: StoredFrontier): number {
  if (f.lastBar === null) return Infinity;
  if (f.lastStored === null) return -Infinity;
  return f.lastBar > f.lastStored ? f.lastStored + 1 : Infinity;
}

/**
 * Features for the new bars only: reads each instrument's last stored feature bar, the
 * history the features need and the bars after it, computes, and upserts only the rows
 * from the earliest new bar on (see the module notes on exactness, corrections and the
 * cross-section). Idempotent: a second run finds nothing new and writes nothing.
 * @param store The store.
 * @param options See {@linkcode IncrementalOptions}.
 * @returns What was done and how long each phase took.
 * @throws {RangeError} When there are no bars for the selection, or `history` is below
 *   the derived warm-up.
 * @example
 * ```ts
 * await upsertPrices(store, "1 day", todaysBars);
 * const s = await refreshFeaturesIncremental(store, { set: "all" });
 * s.mode; // "incremental" (or "none": nothing new, nothing written)
 * s.rowsWritten; // ≈ instruments × features
 * ```
 */
export async function refreshFeaturesIncremental(
  store: Store,
  options: IncrementalOptions = {},
): Promise<IncrementalSummary> {
  const t0 = performance.now();
  const barSize = options.barSize ?? "1 day";
  const names = resolveFeatureNames(options);
  const signals = options.signals !== undefined && options.signals !== false;
  const computed = computedNames(names, signals);
  const warmup = warmupOf(computed);
  const history = options.history ?? "full";
  if (history !== "full" && !(Number.isInteger(history) && history >= warmup)) {
    throw new RangeError(
      `history must be "full" or a whole number of bars ≥ ${warmup} (the derived warm-up of ` +
        `${computed.length} features); got ${history}`,
    );
  }
  const query = { instruments: options.instruments, barSize };
  const frontier = (await readFeatureFrontier(store, { ...query, names }))
    .filter((f) => f.lastBar !== null);
  if (frontier.length === 0) throw new RangeError(noBars(options.instruments, barSize));
  const signalFrontier = signals
    ? await readFeatureFrontier(store, { ...query, names: SIGNAL_NAMES, table: "signals" })
    : [];
  const t1 = performance.now();

  const start = new Map(frontier.map((f) => [f.instrument, firstNew(f)]));
  for (const s of signalFrontier) {
    if (start.has(s.instrument)) {
      start.set(s.instrument, Math.min(start.get(s.instrument)!, firstNew(s)));
    }
  }
  const summary = (extra: Partial<IncrementalSummary>): IncrementalSummary => ({
    mode: "none",
    message: "",
    instruments: frontier.length,
    instrumentsUpdated: [...start.values()].filter((t) => t < Infinity).length,
    newBars: 0,
    from: null,
    barsRead: 0,
    history,
    features: names,
    rowsWritten: 0,
    signalRowsWritten: 0,
    fallbacks: [],
    seconds: { frontier: (t1 - t0) / 1000, read: 0, compute: 0, write: 0, total: 0 },
    ...extra,
  });
  const from0 = Math.min(...start.values());
  if (from0 === Infinity) {
    const last = Math.max(...frontier.map((f) => f.lastStored!));
    const done = summary({
      message: `features are up to date through ${iso(last).slice(0, 10)} for ` +
        `${frontier.length} instruments; nothing written`,
    });
    done.seconds.total = (performance.now() - t0) / 1000;
    return done;
  }

  const run = async (bounded: boolean, fromFirst: boolean) => {
    const readStart = bounded && !fromFirst && from0 > -Infinity
      ? await readHistoryStart(store, {
        instruments: frontier.map((f) => f.instrument),
        barSize,
        before: from0,
        bars: history as number,
      })
      : null;
    const bars: BarColumns = await readPricesGrouped(store, {
      ...query,
      instruments: frontier.map((f) => f.instrument),
      start: readStart === null ? undefined : new Date(readStart),
    });
    const tRead = performance.now();
    // The earliest new bar of any instrument (its first bar when nothing is stored).
    let from = fromFirst ? -Infinity : Infinity;
    for (let k = 0; k < bars.timestamp.length && from > -Infinity; k++) {
      const t = bars.timestamp[k];
      const s = start.get(bars.instrument[k])!;
      if (t >= s && t < from) from = s === -Infinity ? -Infinity : t;
    }
    const frame = computeFeatures(bars, { names: computed });
    return {
      from,
      bars,
      frame,
      tRead,
      inconsistent: checkFrontier(frame, frontier, names, !bounded),
    };
  };

  let bounded = history !== "full";
  let r = await run(bounded, false);
  const fallbacks: IncrementalFallback[] = [
    ...frontier.filter((f) => f.lastStored === null)
      .map((f) => ({ instrument: f.instrument, reason: "no stored features" })),
    ...r.inconsistent,
  ];
  if (r.inconsistent.length > 0 && r.from > -Infinity) {
    // Recompute everything from the first bar, with the whole history (even after a bounded read).
    bounded = false;
    r = await run(false, true);
  }
  const { from, bars, frame } = r;

  const fresh = from === -Infinity
    ? frame
    : frame.filter(pl.col("timestamp").gtEq(pl.lit(new Date(from))));
  const rows = featureRows(toLongForm(fresh, names));
  const sRows = signals
    ? signalRows(computeSignals(fresh, options.signals === true ? {} : options.signals || {}))
    : null;
  const t3 = performance.now();
  const write = { rowsPerTransaction: options.rowsPerTransaction, onCommit: options.onCommit };
  const rowsWritten = await upsertFeatures(store, barSize, rows, write);
  const signalRowsWritten = sRows ? await upsertSignalScores(store, barSize, sRows, write) : 0;
  const t4 = performance.now();

  let newBars = 0;
  const ts = bars.timestamp, inst = bars.instrument;
  for (let k = 0; k < ts.length; k++) if (ts[k] >= start.get(inst[k])!) newBars++;
  const mode = from === -Infinity ? "full" : "incremental";
  let first = Infinity;
  for (const t of bars.timestamp) if (t < first) first = t;
  const fromIso = from === Infinity ? null : iso(from === -Infinity ? first : from);
  return summary({
    mode,
    message: `${rowsWritten} feature values` +
      (signals ? ` and ${signalRowsWritten} signals` : "") +
      ` from ${fromIso?.slice(0, 10)} for ${frontier.length} instruments (${newBars} new bars` +
      (mode === "full" ? `; recomputed from the first bar: ${fallbackText(fallbacks)}` : "") + ")",
    newBars,
    from: fromIso,
    barsRead: bars.instrument.length,
    history: bounded ? history : "full",
    rowsWritten,
    signalRowsWritten,
    fallbacks,
    seconds: {
      frontier: (t1 - t0) / 1000,
      read: (r.tRead - t1) / 1000,
      compute: (t3 - r.tRead) / 1000,
      write: (t4 - t3) / 1000,
      total: (t4 - t0) / 1000,
    },
  });
}

function fallbackText(f: IncrementalFallback[]): string {
  const shown = f.slice(0, 3).map((x) => `${x.instrument} (${x.reason})`).join(", ");
  return f.length > 3 ? `${shown} and ${f.length - 3} more` : shown;
}

/**
 * Compares the recomputed features at each instrument's last stored bar with the stored
 * ones: the same names must be defined there and (when `values`, i.e. the history was
 * read in full) hold the same values. A difference means the store was filled with
 * another feature set or an older bar changed since.
 */
function checkFrontier(
  frame: pl.DataFrame,
  frontier: readonly StoredFrontier[],
  names: readonly string[],
  values: boolean,
): IncrementalFallback[] {
  const stored = frontier.filter((f) => f.lastStored !== null);
  if (stored.length === 0) return [];
  const keys = pl.DataFrame([
    pl.Series("instrument", stored.map((f) => f.instrument), pl.Utf8),
    pl.Series("timestamp", stored.map((f) => f.lastStored!), pl.Float64).cast(pl.Int64)
      .cast(pl.Datetime("ms")),
    pl.Series("_k", stored.map((_, i) => i), pl.Int32),
  ]);
  const at = keys.join(frame.withColumns(pl.col("instrument").cast(pl.Utf8)), {
    on: ["instrument", "timestamp"],
    how: "left",
  });
  const k = at.getColumn("_k").toArray() as number[];
  const cols = names.map((n) => at.getColumn(n).cast(pl.Float64).toArray() as (number | null)[]);
  const found = new Set<number>();
  const out: IncrementalFallback[] = [];
  for (let row = 0; row < k.length; row++) {
    const f = stored[k[row]];
    found.add(k[row]);
    const want = new Map<string, number>();
    names.forEach((n, j) => {
      const v = cols[j][row];
      if (v !== null && Number.isFinite(v)) want.set(n, v);
    });
    const have = new Map(f.storedNames.map((n, j) => [n, f.storedValues[j]]));
    const missing = [...want.keys()].filter((n) => !have.has(n));
    const extra = [...have.keys()].filter((n) => !want.has(n));
    const changed = values
      ? [...want].filter(([n, v]) => have.has(n) && !close(have.get(n)!, v)).map(([n]) => n)
      : [];
    const at = iso(f.lastStored!).slice(0, 10);
    if (missing.length || extra.length) {
      out.push({
        instrument: f.instrument,
        reason: `stored features at ${at} differ from the selection (` +
          [
            missing.length ? `missing ${missing.join(",")}` : "",
            extra.length ? `not defined ${extra.join(",")}` : "",
          ]
            .filter(Boolean).join("; ") +
          ")",
      });
    } else if (changed.length) {
      out.push({
        instrument: f.instrument,
        reason: `stored ${changed.join(",")} at ${at} differ from the recomputed values ` +
          `(an older bar changed?)`,
      });
    }
  }
  stored.forEach((f, i) => {
    if (!found.has(i)) {
      out.push({
        instrument: f.instrument,
        reason: `no bar at its last stored features (${iso(f.lastStored!)})`,
      });
    }
  });
  return out;
}

/** Equal, or within float8 text round-trip noise (1e-12 relative). */
function close(a: number, b: number): boolean {
  return a === b || Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(a), Math.abs(b));
}

function noBars(instruments: string[] | undefined, barSize: string): string {
  const what = instruments?.length ? `symbols ${instruments.join(",")}` : "any symbol";
  return `No bars in tt_prices for ${what}, bar size "${barSize}"; run \`deno task ingest\` first`;
}
