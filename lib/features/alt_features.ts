/**
 * As-of (point-in-time) features over alternative data (`tt_alt_data`): earnings
 * surprises and dates, sentiment scores, insider transactions and any other
 * `(source, field)` series, joined onto a bar calendar as they were known at each bar's
 * decision time.
 *
 * **The decision-time rule.** The feature at bar t reads only values whose `knownAt` is at
 * or before `D(t)`, the decision time of bar t (`decisionTime`, `lib/data/decision_time.ts`:
 * 16:00 America/New_York on a daily bar's session date, 13:00 on an NYSE early close; the
 * bar's end for intraday bars). A value known exactly at `D(t)` is used at t and not at
 * t − 1. A revision is a later row of the same `(source, field, eventTime)`: at t the one
 * with the latest `knownAt ≤ D(t)` wins, so a revision published after t changes nothing at
 * t. "Latest" values also need `eventTime ≤ D(t)` (a value describing the future, such as
 * an announced date, is not a reading yet).
 *
 * **Features** (declared in {@linkcode ALT_FEATURES}; any source, by field — see
 * {@linkcode ALT_FIELDS}):
 * - `earnings_surprise_last`: the latest known `eps_surprise_pct` (the latest event, its
 *   latest revision); NaN before the first.
 * - `days_since_earnings`: calendar days (New York dates) from that event to `D(t)`.
 * - `days_to_next_earnings`: calendar days from `D(t)` to the earliest announced date after
 *   it (`announcement` rows with `eventTime > D(t)` known by `D(t)`); NaN when none is known.
 *   A row's value is unused (NaN) except 0, which cancels that date: a moved date is a
 *   revision of the old date with value 0 plus a row for the new date.
 * - `sentiment_mean_5d`: mean of the `sentiment` values with `eventTime` in the last 5
 *   sessions, `(D(t−5), D(t)]`, known by `D(t)` (lookback 5 bars).
 * - `insider_net_30d`: sum of `insider_net_shares` values (signed: buys > 0, sells < 0) with
 *   `eventTime` in `(D(t) − 30 days, D(t)]`, known by `D(t)`; 0 when none in the window, NaN
 *   before the instrument's first known insider value.
 *
 * **Generic `alt:<source>:<field>[:<option>]`** (source and field: letters, digits, `_ . -`):
 * - `alt:<source>:<field>`: the latest known value (lookback 0);
 * - `…:decay=<h>`: that value times `2^(−age / h)`, `age` the bars since the bar at which it
 *   was first used (a revision restarts it), `h > 0` bars; from `H = ⌈10·h⌉` bars on it
 *   counts as 0 (weight below 1/1024). Lookback `H`: before bar H an older value's age is
 *   not known from the calendar, so the feature is NaN there;
 * - `…:window=<w>`: the mean of the values with `eventTime` in the last `w` sessions,
 *   `(D(t−w), D(t)]`, integer `w ≥ 1` (lookback `w`).
 *
 * Every feature is NaN where the instrument has no bar. Values at bar t depend only on the
 * alternative values and the decision times of bars `t − lookback … t`, never on prices, so
 * a tail computation over `lookback + 1` bars or more gives the same numbers.
 *
 * @module
 */
import { ALT_FIELDS, type AltValue } from "../db/alt_data_repo.ts";
import { decisionTimes, exchangeDay } from "../data/decision_time.ts";
import type { PricePanel } from "../data/panel.ts";

/** How an alternative feature aggregates the values known at a bar. */
export type AltAggregation =
  | { kind: "latest" }
  | { kind: "days_since" }
  | { kind: "days_to_next" }
  | { kind: "decay"; halflife: number; horizon: number }
  | { kind: "window_mean"; bars: number }
  | { kind: "calendar_sum"; days: number };

/** One as-of feature over alternative data. */
export interface AltFeature {
  /** Feature name (canonical spelling for a generic `alt:` name). */
  readonly name: string;
  /** One line for docs and `--help`. */
  readonly description: string;
  /** Only rows of this source; null: any source. */
  readonly source: string | null;
  /** The field read. */
  readonly field: string;
  /** Bars before bar t whose decision times the value at t needs (its warm-up). */
  readonly lookback: number;
  readonly aggregation: AltAggregation;
}

/** The declared alternative-data features, in output order. */
export const ALT_FEATURES: readonly AltFeature[] = [
  {
    name: "earnings_surprise_last",
    description: "Latest known EPS surprise (%): the latest report, its latest revision",
    source: null,
    field: ALT_FIELDS.surprise,
    lookback: 0,
    aggregation: { kind: "latest" },
  },
  {
    name: "days_since_earnings",
    description: "Calendar days since the latest known earnings report",
    source: null,
    field: ALT_FIELDS.surprise,
    lookback: 0,
    aggregation: { kind: "days_since" },
  },
  {
    name: "days_to_next_earnings",
    description: "Calendar days to the next earnings date announced by now; NaN when none",
    source: null,
    field: ALT_FIELDS.announcement,
    lookback: 0,
    aggregation: { kind: "days_to_next" },
  },
  {
    name: "sentiment_mean_5d",
    description: "Mean sentiment score of the last 5 sessions, as known at the close",
    source: null,
    field: ALT_FIELDS.sentiment,
    lookback: 5,
    aggregation: { kind: "window_mean", bars: 5 },
  },
  {
    name: "insider_net_30d",
    description: "Net insider transactions (buys − sells) over the last 30 calendar days",
    source: null,
    field: ALT_FIELDS.insider,
    lookback: 0,
    aggregation: { kind: "calendar_sum", days: 30 },
  },
];

/** Names of {@linkcode ALT_FEATURES}. */
export const ALT_FEATURE_NAMES: readonly string[] = ALT_FEATURES.map((f) => f.name);

const DECLARED: ReadonlyMap<string, AltFeature> = new Map(ALT_FEATURES.map((f) => [f.name, f]));
const TOKEN = /^[A-Za-z0-9_.-]+$/;
/** Largest accepted `decay=` half-life and `window=` length, in bars. */
const MAX_ALT_BARS = 10_000;
const DAY_MS = 86_400_000;

/**
 * Whether a name is an alternative-data feature (declared or `alt:…`); says nothing of validity.
 * @param name A feature name.
 * @returns True for a declared alt feature or anything starting with `alt:`.
 * @example
 * ```ts
 * isAltFeatureName("days_since_earnings"); // true
 * isAltFeatureName("vol_20"); // false
 * ```
 */
export function isAltFeatureName(name: string): boolean {
  return DECLARED.has(name) || name.startsWith("alt:");
}

/**
 * The definition of an alternative-data feature: a declared one, or a generic
 * `alt:<source>:<field>[:decay=<h>|:window=<w>]` parsed and validated.
 * @param name The feature name.
 * @returns Its definition (`name` in canonical spelling: numbers as `String(Number(x))`).
 * @throws {SyntaxError} For a malformed `alt:` name (saying which part and why).
 * @throws {RangeError} For an unknown declared name or an out-of-range option.
 * @example
 * ```ts
 * altFeature("alt:vendor:score:decay=2.5").lookback; // 25
 * altFeature("alt:vendor:score:window=10").aggregation; // { kind: "window_mean", bars: 10 }
 * ```
 */
export function altFeature(name: string): AltFeature {
  const declared = DECLARED.get(name);
  if (declared) return declared;
  if (!name.startsWith("alt:")) {
    throw new RangeError(
      `Unknown alternative-data feature "${name}"; known: ${
        ALT_FEATURE_NAMES.join(", ")
      }, or alt:<source>:<field>[:decay=<bars>|:window=<bars>]`,
    );
  }
  const parts = name.split(":");
  const bad = (why: string) =>
    new SyntaxError(
      `Feature "${name}": ${why} (syntax alt:<source>:<field>[:decay=<half-life bars>|:window=<bars>])`,
    );
  if (parts.length < 3 || parts.length > 4) {
    throw bad(`expected 2 or 3 parts after "alt:", got ${parts.length - 1}`);
  }
  const [, source, field, option] = parts;
  if (!TOKEN.test(source)) throw bad(`source "${source}" must be letters, digits, _ . -`);
  if (!TOKEN.test(field)) throw bad(`field "${field}" must be letters, digits, _ . -`);
  const base = `alt:${source}:${field}`;
  if (option === undefined) {
    return {
      name: base,
      description: `Latest known ${source} ${field}`,
      source,
      field,
      lookback: 0,
      aggregation: { kind: "latest" },
    };
  }
  const m = /^(decay|window)=(.+)$/.exec(option);
  if (!m) throw bad(`option "${option}" must be decay=<h> or window=<w>`);
  const x = Number(m[2]);
  if (m[1] === "decay") {
    if (!(Number.isFinite(x) && x > 0 && x <= MAX_ALT_BARS) || m[2].trim() === "") {
      throw new RangeError(
        `Feature "${name}": decay half-life must be a number of bars in (0, ${MAX_ALT_BARS}], got "${
          m[2]
        }"`,
      );
    }
    const horizon = Math.ceil(10 * x);
    return {
      name: `${base}:decay=${x}`,
      description: `Latest known ${source} ${field}, halved every ${x} bars (0 after ${horizon})`,
      source,
      field,
      lookback: horizon,
      aggregation: { kind: "decay", halflife: x, horizon },
    };
  }
  if (!(Number.isInteger(x) && x >= 1 && x <= MAX_ALT_BARS) || !/^\d+$/.test(m[2])) {
    throw new RangeError(
      `Feature "${name}": window must be a whole number of bars in 1…${MAX_ALT_BARS}, got "${
        m[2]
      }"`,
    );
  }
  return {
    name: `${base}:window=${x}`,
    description: `Mean ${source} ${field} of the last ${x} sessions`,
    source,
    field,
    lookback: x,
    aggregation: { kind: "window_mean", bars: x },
  };
}

/**
 * The fields an alternative-data read must include to compute `names` (the pipeline's
 * `readAltValues` filter).
 * @param names Alternative feature names.
 * @returns Distinct fields, sorted.
 * @example
 * ```ts
 * altFieldsOf(["earnings_surprise_last", "days_to_next_earnings"]); // ["announcement", "eps_surprise_pct"]
 * ```
 */
export function altFieldsOf(names: readonly string[]): string[] {
  return [...new Set(names.map((n) => altFeature(n).field))].sort();
}

/**
 * Joins bars with alternative values: for every bar of the panel's calendar and every
 * instrument, each feature of `names` as known at that bar's decision time (see the
 * module notes). Pure: the same panel calendar and values give the same numbers, in any
 * order of `values`.
 * @param prices The price panel (its calendar, bar size, instruments; `close` marks where
 *   an instrument has a bar).
 * @param names Alternative feature names (declared or `alt:…`).
 * @param values Point-in-time values; rows of other instruments or fields are ignored.
 * @returns `out[(t * N + i) * F + f]` for `F = names.length`; NaN where undefined.
 * @throws {SyntaxError | RangeError} For an invalid feature name or bar size.
 * @example
 * ```ts
 * const cols = joinAltFeatures(prices, ["earnings_surprise_last"], await readAltValues(store));
 * ```
 */
export function joinAltFeatures(
  prices: Pick<PricePanel, "instruments" | "timestamps" | "barSize" | "close">,
  names: readonly string[],
  values: readonly AltValue[],
): Float64Array {
  const defs = names.map(altFeature);
  const n = prices.instruments.length;
  const T = prices.timestamps.length;
  const F = defs.length;
  const out = new Float64Array(T * n * F).fill(NaN);
  if (T === 0 || F === 0) return out;
  const D = decisionTimes(prices.timestamps, prices.barSize);
  const dayOfD = Array.from(D, exchangeDay);
  const byInstrument = new Map<string, AltValue[]>();
  for (const v of values) {
    const list = byInstrument.get(v.instrument);
    if (list) list.push(v);
    else byInstrument.set(v.instrument, [v]);
  }
  for (let i = 0; i < n; i++) {
    const rowsOfInstrument = byInstrument.get(prices.instruments[i]) ?? [];
    for (let f = 0; f < F; f++) {
      const def = defs[f];
      const rows = rowsOfInstrument.filter((r) =>
        r.field === def.field && (def.source === null || r.source === def.source)
      );
      const col = featureColumn(def, rows, D, dayOfD);
      for (let t = 0; t < T; t++) {
        if (Number.isFinite(prices.close[t * n + i])) out[(t * n + i) * F + f] = col[t];
      }
    }
  }
  return out;
}

/** Orders rows of one (instrument, field): event time, then source, then known-at. */
function byEvent(a: AltValue, b: AltValue): number {
  return a.eventTime - b.eventTime || cmp(a.source, b.source) || a.knownAt - b.knownAt;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One feature's values over the calendar for one instrument's rows. */
function featureColumn(
  def: AltFeature,
  rows: AltValue[],
  D: Float64Array,
  dayOfD: readonly number[],
): Float64Array {
  const T = D.length;
  const col = new Float64Array(T).fill(NaN);
  const agg = def.aggregation;
  switch (agg.kind) {
    case "latest":
    case "days_since":
    case "decay": {
      // A row is usable from max(knownAt, eventTime) on; the set of usable rows only grows
      // with t, and the latest event's latest revision is the (eventTime, source, knownAt)
      // maximum of that set.
      const usable = (r: AltValue) => Math.max(r.knownAt, r.eventTime);
      const sorted = [...rows].sort((a, b) => usable(a) - usable(b) || byEvent(a, b));
      let p = 0;
      let best: AltValue | null = null;
      let bestBar = -Infinity; // the bar where `best` was first used; -∞: at or before bar 0
      for (let t = 0; t < T; t++) {
        while (p < sorted.length && usable(sorted[p]) <= D[t]) {
          const r = sorted[p++];
          if (best === null || byEvent(r, best) > 0) {
            best = r;
            bestBar = t === 0 ? -Infinity : t;
          }
        }
        if (best === null) continue;
        if (agg.kind === "latest") col[t] = best.value;
        else if (agg.kind === "days_since") col[t] = dayOfD[t] - exchangeDay(best.eventTime);
        else {
          // age ≥ t when the value was already usable at bar 0 (its own bar is off the calendar).
          if (bestBar === -Infinity) {
            if (t >= agg.horizon) col[t] = 0;
          } else {
            const age = t - bestBar;
            col[t] = age >= agg.horizon ? 0 : best.value * 2 ** (-age / agg.halflife);
          }
        }
      }
      return col;
    }
    case "days_to_next": {
      // The earliest announced date after D(t) whose latest revision known by D(t) is not
      // a cancellation (value 0).
      const sorted = [...rows].sort(byEvent);
      const times = Float64Array.from(sorted, (r) => r.eventTime);
      for (let t = 0; t < T; t++) {
        let k = upperBound(times, D[t]);
        while (k < sorted.length) {
          const e = sorted[k];
          let chosen: AltValue | null = null;
          while (
            k < sorted.length && sorted[k].eventTime === e.eventTime &&
            sorted[k].source === e.source
          ) {
            if (sorted[k].knownAt <= D[t]) chosen = sorted[k];
            k++;
          }
          if (chosen !== null && chosen.value !== 0) {
            col[t] = exchangeDay(e.eventTime) - dayOfD[t];
            break;
          }
        }
      }
      return col;
    }
    case "window_mean":
    case "calendar_sum": {
      const sorted = [...rows].sort(byEvent);
      const times = Float64Array.from(sorted, (r) => r.eventTime);
      let firstKnown = Infinity;
      for (const r of rows) firstKnown = Math.min(firstKnown, r.knownAt);
      for (let t = 0; t < T; t++) {
        let lo: number;
        if (agg.kind === "window_mean") {
          if (t < agg.bars) continue; // warm-up: the window's start is off the calendar
          lo = D[t - agg.bars];
        } else {
          if (firstKnown > D[t]) continue; // no coverage yet: NaN, not 0
          lo = D[t] - agg.days * DAY_MS;
        }
        const { sum, count } = windowSum(sorted, times, lo, D[t]);
        col[t] = agg.kind === "calendar_sum" ? sum : count > 0 ? sum / count : NaN;
      }
      return col;
    }
  }
}

/**
 * Sum and count of the events with `lo < eventTime ≤ hi`, each at its latest revision
 * known by `hi` (rows sorted by {@linkcode byEvent}); non-finite values are skipped.
 */
function windowSum(
  sorted: readonly AltValue[],
  times: Float64Array,
  lo: number,
  hi: number,
): { sum: number; count: number } {
  let k = upperBound(times, lo);
  let sum = 0;
  let count = 0;
  while (k < sorted.length && sorted[k].eventTime <= hi) {
    // One event: rows with the same eventTime and source, ascending knownAt.
    const e = sorted[k];
    let chosen: AltValue | null = null;
    while (
      k < sorted.length && sorted[k].eventTime === e.eventTime && sorted[k].source === e.source
    ) {
      if (sorted[k].knownAt <= hi) chosen = sorted[k];
      k++;
    }
    if (chosen !== null && Number.isFinite(chosen.value)) {
      sum += chosen.value;
      count++;
    }
  }
  return { sum, count };
}

/** First index with `a[k] > x` (a ascending). */
function upperBound(a: Float64Array, x: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
