/**
 * Loads what an env needs from the store: bars → {@linkcode PricePanel} →
 * {@linkcode FeaturePanel}, for one date range, with enough history before it for
 * the features' warm-up (read, never traded on).
 *
 * @module
 */
import type { Queryable } from "../db/store.ts";
import { readBarRanges, readPrices } from "../db/prices_repo.ts";
import { type AltValue, readAltValues } from "../db/alt_data_repo.ts";
import { type BarColumns, panelFromBars, type PricePanel } from "../data/panel.ts";
import { decisionTime } from "../data/decision_time.ts";
import {
  altFieldsOf,
  computeFeaturePanel,
  computeFeaturePanelTail,
  resolveFeatureSpec,
  splitFeatureNames,
  warmupOf,
} from "../features/mod.ts";
import type { FeaturePanel } from "../features/feature_panel.ts";

/** The command that fills an empty store with the embedded sample data. */
export const INGEST_SAMPLE_COMMAND = "deno task ingest --source sample";

/** Thrown when the store has no bars for what was asked (callers print its message). */
export class NoDataError extends Error {
  override name = "NoDataError";
}

/** What {@linkcode loadMarket} should load. */
export interface MarketRequest {
  /** Instruments; default every instrument with bars in the range. */
  symbols?: readonly string[];
  /** First bar the env may trade on (ISO date, inclusive). Default: the first stored bar. */
  start?: string;
  /** Last bar (ISO date, inclusive). Default: the last stored bar. */
  end?: string;
  /** Default `"1 day"`. */
  barSize?: string;
  /**
   * Feature spec, as `--with-features` takes it: a set name or comma-separated sets and
   * feature names, alternative-data ones included (`resolveFeatureSpec`). Default `"basic"`.
   */
  featureSet?: string;
  /** Observation window (bars of features per instrument). Default 1. */
  window?: number;
  /**
   * Read this many extra bars before `start` so features are defined at `start`
   * (evaluation). Default 0: the warm-up is taken inside the range (training).
   */
  historyBars?: number;
  /**
   * Compute the features over the last this many bars only (`NaN` before them): the live
   * cycle's feature step (`featureTailBars`, `lib/features/tail.ts`). Default: every bar.
   */
  featureBars?: number;
}

/** A loaded market slice. */
export interface Market {
  prices: PricePanel;
  features: FeaturePanel;
  /** Bar index of the first bar at or after the requested start. */
  startIndex: number;
  /** Bar index of the last bar (the panel's last). */
  endIndex: number;
  /** The actual first and last trading dates of the range (ISO dates). */
  range: { start: string; end: string };
  /** Feature spec and resolved names. */
  featureSet: { set: string; names: string[] };
  /**
   * The alternative values the as-of features were computed from (known by the last bar's
   * decision time); empty when none is observed.
   */
  altValues: AltValue[];
}

const DAY_MS = 86_400_000;

/**
 * Reads bars and computes features for a range.
 *
 * @param q The store.
 * @param request See {@linkcode MarketRequest}.
 * @returns Aligned price and feature panels.
 * @throws {NoDataError} When the store has no bars at all (naming the ingest command), or
 *   none for the requested symbols or range (naming what is there).
 * @example
 * ```ts
 * const m = await loadMarket(store, { start: "2013-01-01", end: "2016-12-31", featureSet: "basic" });
 * const env = makePortfolioEnv(m.prices, m.features, { range: { start: m.startIndex } });
 * ```
 */
export async function loadMarket(q: Queryable, request: MarketRequest = {}): Promise<Market> {
  const barSize = request.barSize ?? "1 day";
  const set = request.featureSet ?? "basic";
  const names = resolveFeatureSpec(set);
  const history = request.historyBars ?? 0;
  const have = await readBarRanges(q, barSize);
  if (have.length === 0) {
    throw new NoDataError(
      `The store has no ${barSize} bars. Load the embedded sample data first:\n  ${INGEST_SAMPLE_COMMAND}`,
    );
  }
  // Calendar days that certainly hold `history` bars (weekends, holidays): ×1.6 + 10.
  const readFrom = request.start === undefined
    ? undefined
    : history > 0
    ? isoDate(Date.parse(`${request.start}T00:00:00Z`) - Math.ceil(history * 1.6 + 10) * DAY_MS)
    : request.start;
  const bars = await readPrices(q, {
    instruments: request.symbols ? [...request.symbols] : undefined,
    barSize,
    start: readFrom,
    end: request.end,
  });
  if (bars.instrument.length === 0) {
    throw new NoDataError(
      `No ${barSize} bars for ${request.symbols?.join(",") ?? "any instrument"} between ` +
        `${request.start ?? "the start"} and ${request.end ?? "the end"}. Stored: ` +
        have.map((h) => `${h.instrument} ${isoDate(+h.first)}..${isoDate(+h.last)}`).join(", "),
    );
  }
  if (request.symbols) {
    const got = new Set(bars.instrument);
    const missing = request.symbols.filter((s) => !got.has(s));
    if (missing.length) {
      throw new NoDataError(
        `No ${barSize} bars for ${missing.join(", ")} between ${
          request.start ?? "the start"
        } and ` +
          `${request.end ?? "the end"}` +
          (history > 0 ? ` (nor in the ${history} bars of history read before it)` : ""),
      );
    }
  }
  const prices = panelWithInstruments(bars, barSize, request.symbols);
  const altValues = await loadAltValues(q, prices, splitFeatureNames(names).alt);
  const features = request.featureBars === undefined
    ? computeFeaturePanel(prices, { names, alt: altValues })
    : computeFeaturePanelTail(prices, { names, alt: altValues }, request.featureBars);
  const startMs = request.start === undefined
    ? -Infinity
    : Date.parse(`${request.start}T00:00:00Z`);
  let startIndex = prices.timestamps.findIndex((t) => t >= startMs);
  if (startIndex < 0) {
    throw new NoDataError(`No ${barSize} bars on or after ${request.start}`);
  }
  const endIndex = prices.timestamps.length - 1;
  if (request.start === undefined) startIndex = 0;
  return {
    prices,
    features,
    startIndex,
    endIndex,
    range: {
      start: isoDate(prices.timestamps[startIndex]),
      end: isoDate(prices.timestamps[endIndex]),
    },
    featureSet: { set, names },
    altValues,
  };
}

/**
 * The alternative values the as-of features `altNames` read for a panel: its instruments,
 * the features' fields, known by the last bar's decision time (the join cuts each bar at
 * its own decision time; this cut only keeps later knowledge out of memory).
 */
async function loadAltValues(
  q: Queryable,
  prices: PricePanel,
  altNames: readonly string[],
): Promise<AltValue[]> {
  if (altNames.length === 0 || prices.timestamps.length === 0) return [];
  return await readAltValues(q, {
    instruments: prices.instruments,
    fields: altFieldsOf(altNames),
    knownAtOrBefore: decisionTime(prices.timestamps.at(-1)!, prices.barSize),
  });
}

/**
 * Bars needed before an evaluation start so that features and the observation
 * window are defined there.
 * @param featureNames Features observed.
 * @param window Observation window.
 * @returns Bars of history to read.
 * @example
 * ```ts
 * historyBarsFor(["vol_20"], 1); // warm-up of vol_20 + window + 1
 * ```
 */
export function historyBarsFor(featureNames: readonly string[], window: number): number {
  return warmupOf(featureNames) + window + 1;
}

/**
 * {@linkcode panelFromBars} with a fixed instrument order (the order a model was trained on).
 * @param bars Long bars.
 * @param barSize Their bar size.
 * @param instruments Column order; default sorted symbols.
 * @returns The panel.
 */
function panelWithInstruments(
  bars: BarColumns,
  barSize: string,
  instruments?: readonly string[],
): PricePanel {
  const panel = panelFromBars(bars, barSize);
  if (!instruments || instruments.join("\u0000") === panel.instruments.join("\u0000")) return panel;
  const n = instruments.length;
  const T = panel.timestamps.length;
  const src = instruments.map((s) => panel.instruments.indexOf(s));
  const remap = (a: Float64Array) => {
    const out = new Float64Array(T * n).fill(NaN);
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < n; i++) {
        if (src[i] >= 0) out[t * n + i] = a[t * panel.instruments.length + src[i]];
      }
    }
    return out;
  };
  return {
    instruments: [...instruments],
    barSize,
    timestamps: panel.timestamps,
    open: remap(panel.open),
    high: remap(panel.high),
    low: remap(panel.low),
    close: remap(panel.close),
    volume: remap(panel.volume),
  };
}

/**
 * The ISO date (YYYY-MM-DD, UTC) of an epoch-ms time.
 * @param ms Epoch milliseconds.
 * @returns The date.
 * @example
 * ```ts
 * isoDate(Date.UTC(2017, 0, 3)); // "2017-01-03"
 * ```
 */
export function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * Per-instrument first/last bar dates in the store.
 * @param q The store.
 * @param barSize Default `"1 day"`.
 * @returns Rows sorted by instrument.
 * @example
 * ```ts
 * const [aapl] = await storedRanges(store); // { instrument: "AAPL", first: "2013-05-13", … }
 * ```
 */
export async function storedRanges(
  q: Queryable,
  barSize = "1 day",
): Promise<{ instrument: string; first: string; last: string; bars: number }[]> {
  return (await readBarRanges(q, barSize)).map((r) => ({
    instrument: r.instrument,
    first: isoDate(+r.first),
    last: isoDate(+r.last),
    bars: r.bars,
  }));
}
