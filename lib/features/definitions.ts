/**
 * Declarative feature definitions: each feature is a named Polars expression with the
 * bars of history it needs, so the warm-up of every feature (and of a whole set) is
 * derived from the definitions instead of being guessed.
 *
 * Two scopes:
 * - `series`: evaluated per instrument over that instrument's own bars, in time order
 *   (the expression is wrapped in `.over("instrument")`). Windows include the current bar.
 * - `cross`: evaluated per timestamp across the instruments that have a bar at that
 *   timestamp (wrapped in `.over("timestamp")`); nulls are ignored and stay null.
 *
 * Nothing here looks forward: every series expression uses `shift(n ≥ 0)`, rolling
 * windows that end at the current bar, or exponential means over the past.
 *
 * @module
 */
import pl from "nodejs-polars";
import { ALT_FEATURE_NAMES, altFeature, isAltFeatureName } from "./alt_features.ts";

/** Where a feature is evaluated: along an instrument's history, or across a date's instruments. */
export type FeatureScope = "series" | "cross";

/** One feature: a named Polars expression plus what it needs. */
export interface FeatureDef {
  /** Column name (snake_case); names starting with `_` are helpers, never output. */
  readonly name: string;
  /** One line for docs and `--help`. */
  readonly description: string;
  readonly scope: FeatureScope;
  /** Raw columns (`open` … `volume`) or other features this one reads. */
  readonly inputs: readonly string[];
  /**
   * Extra bars beyond the inputs' own warm-up before the value is defined
   * (a rolling window of n adds n − 1, `shift(n)` adds n, a cross-sectional op adds 0).
   */
  readonly span: number;
  /**
   * True when the expression only combines shifted values of its inputs elementwise
   * (no rolling or exponential aggregation). Such a series feature is evaluated down
   * the whole (instrument, timestamp)-sorted column in one pass and masked to null
   * during its derived warm-up, which gives bit-identical values faster. Other series
   * features run `.over("instrument")`, so no float state crosses instruments.
   */
  readonly pointwise?: boolean;
  /** The expression before `.over(...)`; reads only `inputs`. */
  readonly expr: () => pl.Expr;
}

/** The raw bar columns every frame has. */
export const RAW_COLUMNS = ["open", "high", "low", "close", "volume"] as const;

const c = (name: string) => pl.col(name);

function pctChange(col: string, n: number): pl.Expr {
  return c(col).div(c(col).shift(n)).minus(1);
}

/** Percentile rank within the group: pandas `rank(method="average", pct=True)`, nulls ignored. */
function pctRank(col: string): pl.Expr {
  return c(col).rank("average").cast(pl.Float64).div(c(col).count().cast(pl.Float64));
}

function ewm(e: pl.Expr, alpha: number, minPeriods: number): pl.Expr {
  return e.ewmMean({ alpha, adjust: false, minPeriods, ignoreNulls: false });
}

function vol(n: number): FeatureDef {
  return {
    name: `vol_${n}`,
    description: `Sample std (ddof=1) of return_1 over the last ${n} bars`,
    scope: "series",
    inputs: ["return_1"],
    span: n - 1,
    // ddof=1 is Polars' default (and the only behaviour of nodejs-polars 0.25.2's rollingStd).
    expr: () => c("return_1").rollingStd({ windowSize: n }),
  };
}

function mom(n: number): FeatureDef {
  return {
    name: `mom_${n}`,
    description: `close / close ${n} bars ago − 1`,
    scope: "series",
    pointwise: true,
    inputs: ["close"],
    span: n,
    expr: () => pctChange("close", n),
  };
}

function rankMom(n: number): FeatureDef {
  return {
    name: `rank_mom_${n}`,
    description:
      `Percentile rank (average ties, in (0, 1]) of mom_${n} across the date's instruments`,
    scope: "cross",
    inputs: [`mom_${n}`],
    span: 0,
    expr: () => pctRank(`mom_${n}`),
  };
}

/** Every feature, in dependency order (inputs come before the features that read them). */
export const FEATURES: readonly FeatureDef[] = [
  {
    name: "return_1",
    description: "close / previous close − 1",
    scope: "series",
    pointwise: true,
    inputs: ["close"],
    span: 1,
    expr: () => pctChange("close", 1),
  },
  vol(5),
  vol(10),
  vol(20),
  {
    name: "_volume_mean_20",
    description: "Rolling 20-bar mean of volume (helper)",
    scope: "series",
    inputs: ["volume"],
    span: 19,
    expr: () => c("volume").rollingMean({ windowSize: 20 }),
  },
  {
    name: "norm_volume",
    description: "volume / its rolling 20-bar mean",
    scope: "series",
    pointwise: true,
    inputs: ["volume", "_volume_mean_20"],
    span: 0,
    expr: () => c("volume").div(c("_volume_mean_20")),
  },
  mom(20),
  mom(60),
  mom(120),
  rankMom(20),
  rankMom(60),
  rankMom(120),
  {
    name: "vol_decile",
    description: "clip(ceil(10 · pct_rank(vol_20)), 1, 10) across the date's instruments",
    scope: "cross",
    inputs: ["vol_20"],
    span: 0,
    expr: () => pctRank("vol_20").mul(10).ceil().clip(1, 10),
  },
  {
    name: "volume_surge",
    description: "1 if volume > 2 · rolling 20-bar mean volume else 0 (null until the mean exists)",
    scope: "series",
    pointwise: true,
    inputs: ["volume", "_volume_mean_20"],
    span: 0,
    // A null mean makes the comparison null, and the cast keeps it null.
    expr: () => c("volume").gt(c("_volume_mean_20").mul(2)).cast(pl.Float64),
  },
  {
    name: "rel_strength",
    description: "mom_20 − the mean of mom_20 across the date's instruments",
    scope: "cross",
    inputs: ["mom_20"],
    span: 0,
    expr: () => c("mom_20").minus(c("mom_20").mean()),
  },
  {
    name: "_rsi_gain_14",
    description: "Wilder-smoothed gains of close (α = 1/14, seeded with the first change) (helper)",
    scope: "series",
    inputs: ["close"],
    span: 14,
    expr: () => {
      const d = c("close").minus(c("close").shift(1));
      return ewm(d.plus(d.abs()).div(2), 1 / 14, 14);
    },
  },
  {
    name: "_rsi_loss_14",
    description: "Wilder-smoothed losses of close (helper)",
    scope: "series",
    inputs: ["close"],
    span: 14,
    expr: () => {
      const d = c("close").minus(c("close").shift(1));
      return ewm(d.abs().minus(d).div(2), 1 / 14, 14);
    },
  },
  {
    name: "rsi_14",
    description: "Wilder RSI(14) in [0, 100]: 100 · gain / (gain + loss); 50 when flat",
    scope: "series",
    pointwise: true,
    inputs: ["_rsi_gain_14", "_rsi_loss_14"],
    span: 0,
    expr: () => {
      const total = c("_rsi_gain_14").plus(c("_rsi_loss_14"));
      // 0/0 (flat) is NaN: the cheap fill keeps `total` from being evaluated twice.
      return c("_rsi_gain_14").mul(100).div(total).fillNan(50);
    },
  },
  {
    name: "_macd_line",
    description: "MACD(12,26) line in price units: EMA12 − EMA26 of close (helper)",
    scope: "series",
    inputs: ["close"],
    span: 25,
    expr: () => ewm(c("close"), 2 / 13, 12).minus(ewm(c("close"), 2 / 27, 26)),
  },
  {
    name: "_macd_signal_line",
    description: "MACD(12,26,9) signal line in price units: EMA9 of the MACD line (helper)",
    scope: "series",
    inputs: ["_macd_line"],
    span: 8,
    expr: () => ewm(c("_macd_line"), 2 / 10, 9),
  },
  {
    name: "macd",
    description: "MACD(12,26) line (EMA12 − EMA26 of close) divided by close",
    scope: "series",
    pointwise: true,
    inputs: ["_macd_line", "close"],
    span: 0,
    expr: () => c("_macd_line").div(c("close")),
  },
  {
    name: "macd_signal",
    description: "MACD(12,26,9) signal line (EMA9 of EMA12 − EMA26) divided by close",
    scope: "series",
    pointwise: true,
    inputs: ["_macd_signal_line", "close"],
    span: 0,
    expr: () => c("_macd_signal_line").div(c("close")),
  },
  {
    name: "macd_hist",
    description: "MACD histogram (MACD line − signal line) divided by close",
    scope: "series",
    pointwise: true,
    inputs: ["_macd_line", "_macd_signal_line", "close"],
    span: 0,
    expr: () => c("_macd_line").minus(c("_macd_signal_line")).div(c("close")),
  },
  {
    name: "bb_pctb_20",
    description:
      "Bollinger %b(20, 2): (close − lower) / (upper − lower), bands mean ± 2 population stds (ddof=0)",
    scope: "series",
    inputs: ["close"],
    span: 19,
    expr: () => {
      // nodejs-polars 0.25.2's Expr.rollingStd drops the `ddof` option (always ddof=1),
      // so the population std is rescaled from the sample one: √((n−1)/n).
      // %b = (close − (mean − 2sd)) / 4sd = (close − mean) / 4sd + ½, with sd read once.
      const sd = c("close").rollingStd({ windowSize: 20 }).mul(Math.sqrt(19 / 20));
      return c("close").minus(c("close").rollingMean({ windowSize: 20 })).div(sd.mul(4)).plus(0.5);
    },
  },
  {
    name: "atr_14",
    description: "Wilder ATR(14) of the true range (H−L on the first bar), divided by close",
    scope: "series",
    inputs: ["high", "low", "close"],
    span: 13,
    expr: () => {
      const prev = c("close").shift(1);
      const tr = pl.maxHorizontal([
        c("high").minus(c("low")),
        c("high").minus(prev).abs(),
        c("low").minus(prev).abs(),
      ]);
      return ewm(tr, 1 / 14, 14).div(c("close"));
    },
  },
  {
    name: "zscore_20",
    description: "(close − 20-bar mean close) / 20-bar sample std (ddof=1) of close",
    scope: "series",
    inputs: ["close"],
    span: 19,
    expr: () => {
      const mean = c("close").rollingMean({ windowSize: 20 });
      return c("close").minus(mean).div(c("close").rollingStd({ windowSize: 20 }));
    },
  },
];

const BY_NAME: ReadonlyMap<string, FeatureDef> = new Map(FEATURES.map((f) => [f.name, f]));

/** Named sets for `--set`. */
export const FEATURE_SETS = {
  /** The seed's basic set. */
  basic: ["return_1", "vol_10", "vol_20"],
  /** The seed's training set. */
  training: ["vol_5", "vol_10", "norm_volume"],
  /** Cross-sectional features (seed roadmap). */
  cross: [
    "rank_mom_20",
    "rank_mom_60",
    "rank_mom_120",
    "vol_decile",
    "volume_surge",
    "rel_strength",
  ],
  /** Technical indicators. */
  technical: ["rsi_14", "macd", "macd_signal", "macd_hist", "bb_pctb_20", "atr_14", "zscore_20"],
  /** The 14 features of `../shared/bench/SPEC.md` section 2. */
  spec: [
    "return_1",
    "vol_5",
    "vol_10",
    "vol_20",
    "norm_volume",
    "mom_20",
    "mom_60",
    "mom_120",
    "rank_mom_20",
    "rank_mom_60",
    "rank_mom_120",
    "vol_decile",
    "volume_surge",
    "rel_strength",
  ],
  /** Every public feature computed from bars (the alternative-data ones are in `alt`). */
  all: FEATURES.filter((f) => !f.name.startsWith("_")).map((f) => f.name),
  /**
   * The declared as-of features over alternative data (`lib/features/alt_features.ts`):
   * computed from `tt_alt_data` at each bar's decision time, never stored in `tt_features`.
   */
  alt: ALT_FEATURE_NAMES,
} as const satisfies Record<string, readonly string[]>;

/** A named feature set. */
export type FeatureSetName = keyof typeof FEATURE_SETS;

/** The set names, for CLI choices. */
export const FEATURE_SET_NAMES = Object.keys(FEATURE_SETS) as FeatureSetName[];

/**
 * Looks a feature up by name.
 * @param name Feature name.
 * @returns Its definition.
 * @throws {RangeError} For an unknown name.
 * @example
 * ```ts
 * featureDef("vol_20").scope; // "series"
 * ```
 */
export function featureDef(name: string): FeatureDef {
  const def = BY_NAME.get(name);
  if (!def && isAltFeatureName(name)) {
    throw new RangeError(
      `"${name}" is an as-of feature over alternative data: it is computed by computeFeaturePanel ` +
        `from tt_alt_data (lib/features/alt_features.ts), not from bars alone`,
    );
  }
  if (!def) {
    throw new RangeError(
      `Unknown feature "${name}"; known: ${FEATURE_SETS.all.join(", ")}`,
    );
  }
  return def;
}

/**
 * The number of bars of an instrument's history before a feature is first defined,
 * derived from the definitions: `span + max(lookback of its inputs)`.
 * @param name Feature name.
 * @returns Warm-up bars (0 = defined on the first bar).
 * @example
 * ```ts
 * lookback("vol_5"); // 5: return_1 needs 1 bar, then a 5-bar window adds 4
 * lookback("mom_120"); // 120
 * lookback("sentiment_mean_5d"); // 5 (alternative data: the feature's own lookback)
 * ```
 */
export function lookback(name: string): number {
  if ((RAW_COLUMNS as readonly string[]).includes(name)) return 0;
  if (isAltFeatureName(name)) return altFeature(name).lookback;
  const def = featureDef(name);
  return def.span + Math.max(0, ...def.inputs.map(lookback));
}

/**
 * Resolves the feature names to compute: a set, explicit names, or both (default set `all`).
 * Names may include as-of features over alternative data (the set `alt`, or `alt:…`
 * names, written in their canonical spelling).
 * @param options `set` and/or `names`.
 * @returns Distinct names: bar features in definition order, then alternative-data
 *   features (the declared ones in declaration order, then `alt:…` ones in the order given).
 * @throws {RangeError} For an unknown feature or set.
 * @throws {SyntaxError} For a malformed `alt:…` name.
 * @example
 * ```ts
 * resolveFeatureNames({ set: "basic" }); // ["return_1", "vol_10", "vol_20"]
 * resolveFeatureNames({ names: ["days_since_earnings", "vol_5"] }); // ["vol_5", "days_since_earnings"]
 * ```
 */
export function resolveFeatureNames(
  options: { set?: FeatureSetName; names?: readonly string[] } = {},
): string[] {
  const wanted = new Set<string>();
  if (options.set !== undefined) {
    if (!(options.set in FEATURE_SETS)) {
      throw new RangeError(
        `Unknown feature set "${options.set}"; one of ${FEATURE_SET_NAMES.join(", ")}`,
      );
    }
    for (const n of FEATURE_SETS[options.set]) wanted.add(n);
  }
  for (const n of options.names ?? []) {
    if (n.startsWith("_")) throw new RangeError(`"${n}" is an internal helper, not a feature`);
    if (isAltFeatureName(n)) {
      wanted.add(altFeature(n).name);
      continue;
    }
    featureDef(n);
    wanted.add(n);
  }
  if (options.set === undefined && !options.names?.length) {
    for (const n of FEATURE_SETS.all) wanted.add(n);
  }
  const bar = FEATURES.map((f) => f.name).filter((n) => wanted.has(n));
  const declared = ALT_FEATURE_NAMES.filter((n) => wanted.has(n));
  const generic = [...wanted].filter((n) => n.startsWith("alt:"));
  return [...bar, ...declared, ...generic];
}

/**
 * Resolves a feature spec, the text of `--with-features`: comma-separated set names and
 * feature names (bar features, declared alternative-data features, `alt:…`), mixed freely.
 * @param spec e.g. `"basic"` or `"basic,earnings_surprise_last,alt:vendor:score:decay=5"`.
 * @returns The names, as {@linkcode resolveFeatureNames} orders them.
 * @throws {RangeError} For an empty spec or an unknown set or feature (naming it).
 * @throws {SyntaxError} For a malformed `alt:…` name.
 * @example
 * ```ts
 * resolveFeatureSpec("basic,days_since_earnings"); // ["return_1", "vol_10", "vol_20", "days_since_earnings"]
 * ```
 */
export function resolveFeatureSpec(spec: string): string[] {
  const parts = spec.split(",").map((p) => p.trim()).filter((p) => p !== "");
  if (parts.length === 0) {
    throw new RangeError(`Feature spec "${spec}" names no feature set and no feature`);
  }
  const names: string[] = [];
  for (const p of parts) {
    if (p in FEATURE_SETS) names.push(...FEATURE_SETS[p as FeatureSetName]);
    else names.push(p);
  }
  return resolveFeatureNames({ names });
}

/**
 * Splits feature names into those computed from bars and the alternative-data ones.
 * @param names Resolved feature names.
 * @returns `{ bar, alt }`, each in the order of `names`.
 * @example
 * ```ts
 * splitFeatureNames(["vol_5", "days_since_earnings"]); // { bar: ["vol_5"], alt: ["days_since_earnings"] }
 * ```
 */
export function splitFeatureNames(names: readonly string[]): { bar: string[]; alt: string[] } {
  return {
    bar: names.filter((n) => !isAltFeatureName(n)),
    alt: names.filter(isAltFeatureName),
  };
}

/**
 * The definitions needed to compute `names` (their inputs, recursively), grouped in
 * evaluation levels: every definition's inputs are in an earlier level.
 * @param names Feature names.
 * @returns Levels of definitions, first to last.
 * @example
 * ```ts
 * plan(["vol_5"]).map((l) => l.map((d) => d.name)); // [["return_1"], ["vol_5"]]
 * ```
 */
export function plan(names: readonly string[]): FeatureDef[][] {
  const level = new Map<string, number>();
  const visit = (name: string): number => {
    if ((RAW_COLUMNS as readonly string[]).includes(name)) return -1;
    const known = level.get(name);
    if (known !== undefined) return known;
    const def = featureDef(name);
    const l = 1 + Math.max(-1, ...def.inputs.map(visit));
    level.set(name, l);
    return l;
  };
  for (const n of names) visit(n);
  // Cross-sectional features nothing else reads all go to the last level, so their
  // `.over("timestamp")` windows share one grouping of the rows.
  const read = new Set([...level.keys()].flatMap((n) => featureDef(n).inputs));
  const last = Math.max(-1, ...level.values());
  for (const n of level.keys()) {
    if (featureDef(n).scope === "cross" && !read.has(n)) level.set(n, last);
  }
  const levels: FeatureDef[][] = [];
  for (const def of FEATURES) {
    const l = level.get(def.name);
    if (l === undefined) continue;
    (levels[l] ??= []).push(def);
  }
  return levels.filter((l) => l !== undefined);
}
