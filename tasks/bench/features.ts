/**
 * `deno task bench features`: the feature pipeline of `../shared/bench/SPEC.md` section 2
 * (same synthetic data distributions, the same 14 features, long form with nulls
 * dropped), printed as the reference's JSON line; `--with-reference` runs the pandas
 * script too, in the same run; `--refresh` adds the full store refresh (features +
 * signals + upserts into an in-memory PGlite).
 *
 * @module
 */
import { resolve } from "node:path";
import pl from "nodejs-polars";
import { numberArg, parseCommand, PROJECT_ROOT } from "@lib/util/mod.ts";
import { openStore, upsertPrices } from "@lib/db/mod.ts";
import { median } from "./_util.ts";
import {
  FEATURE_SET_NAMES,
  FEATURE_SETS,
  featureDef,
  type FeatureSetName,
  featuresLazy,
  longFormLazy,
  refreshAll,
  syntheticBarColumns,
  syntheticBars,
  syntheticFrame,
} from "@lib/features/mod.ts";

const SPEC = {
  name: "bench features",
  summary:
    "SPEC.md section 2 feature pipeline over S symbols × D business days of seeded synthetic OHLCV. " +
    "Timed: sort + features + melt to long form + dropping nulls. Prints one JSON line per implementation.",
  options: {
    symbols: { type: "string", description: "Symbols S", default: "52", valueName: "S" },
    days: {
      type: "string",
      description: "Business days D (≥ 120)",
      default: "252",
      valueName: "D",
    },
    seed: {
      type: "string",
      description: "Seed of the synthetic data",
      default: "7",
      valueName: "N",
    },
    "with-reference": {
      type: "boolean",
      description:
        "Also run ../shared/bench/features_ref.py with /usr/bin/python3 (pandas) and print its line",
    },
    repeat: {
      type: "string",
      description:
        "Rounds, each in fresh processes (reference first when --with-reference); prints medians",
      default: "1",
      valueName: "N",
    },
    verify: {
      type: "boolean",
      description:
        "Also compare every output value with features_ref.py's compute_features on the same input " +
        "(CSV round trip through a temp dir; keep S·D small)",
    },
    profile: {
      type: "boolean",
      description:
        "Also time the stages one by one (sort, features, long form), each collected on its own, " +
        "wall and CPU milliseconds to stderr",
    },
    refresh: {
      type: "boolean",
      description:
        "Also time the full refresh of the S×D bars in an in-memory PGlite: read tt_prices, " +
        "features + signals, upserts into tt_features and tt_signal_scores",
    },
    "refresh-set": {
      type: "string",
      description: "Feature set of the refresh",
      choices: FEATURE_SET_NAMES,
      default: "all",
    },
  },
  examples: [
    "deno task bench features --symbols 500 --days 2520 --with-reference",
    "deno task bench features --symbols 52 --days 252 --refresh",
  ],
} as const;

/** Peak resident set of this process in MB (`VmHWM`), or NaN where /proc is absent. */
export function peakRssMb(): number {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(Deno.readTextFileSync("/proc/self/status"));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/**
 * The timed work of SPEC section 2: sort, the 14 features, melt to long form, drop nulls.
 * @param frame The synthetic bars frame.
 * @returns The long frame (instrument, timestamp, feature, value).
 */
export function specPipeline(frame: pl.DataFrame): pl.DataFrame {
  const names = FEATURE_SETS.spec;
  const wide = featuresLazy(frame.lazy(), names).select("instrument", "timestamp", ...names);
  return longFormLazy(wide, names).collectSync();
}

/** CPU time of this process (all threads) in ms, from /proc (NaN where absent). */
function cpuMs(): number {
  try {
    const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) * 10; // utime + stime, in ticks of 10 ms
  } catch {
    return NaN;
  }
}

/**
 * `--profile`: the timed stages collected one at a time (so each pays its own
 * materialisation), wall and CPU ms on stderr. Their sum exceeds the fused run.
 */
function profileStages(frame: pl.DataFrame): void {
  const names = FEATURE_SETS.spec;
  const stage = <T>(label: string, f: () => T): T => {
    const c0 = cpuMs(), t0 = performance.now();
    const out = f();
    const wall = Math.round(performance.now() - t0);
    console.error(`${label.padEnd(34)} wall ${wall} ms  cpu ${cpuMs() - c0} ms`);
    return out;
  };
  stage(
    "sort (2 keys, all 7 columns)",
    () => frame.lazy().sort(["instrument", "timestamp"]).collectSync(),
  );
  const series = names.filter((n) => featureDef(n).scope === "series");
  stage(
    `series features (${series.length}, incl. sort)`,
    () => featuresLazy(frame.lazy(), series).collectSync(),
  );
  const wide = stage(
    `all ${names.length} features (incl. sort)`,
    () =>
      featuresLazy(frame.lazy(), names).select("instrument", "timestamp", ...names).collectSync(),
  );
  stage("long form + drop nulls", () => longFormLazy(wide, names).collectSync());
}

/**
 * Times the full refresh of S×D synthetic bars in an in-memory PGlite ({@linkcode refreshAll}):
 * read tt_prices once, compute the feature set and the three signals, upsert both (a
 * second, idempotent run is timed too: it verifies every row against the stored one and
 * rewrites none). Opening the store and loading prices are not timed.
 * @returns The JSON line.
 */
async function fullRefresh(symbols: number, days: number, seed: number, set: FeatureSetName) {
  const store = await openStore({ dataDir: "memory://" });
  try {
    await upsertPrices(store, "1 day", syntheticBarColumns(syntheticBars(symbols, days, seed)));
    const first = await refreshAll(store, { set });
    const again = await refreshAll(store, { set });
    const r3 = (x: number) => Math.round(x * 1000) / 1000;
    const rows = first.features.rowsWritten + first.signals.rowsWritten;
    const phases = (x: typeof first) => ({
      read: r3(x.seconds.read),
      compute: r3(x.seconds.compute),
      write: r3(x.seconds.write),
      // Rows sent to the store per second of the write phase (PGlite's floor: ~100k/s
      // into these 4-column-key tables, ~450k/s into the same table without its index).
      write_rows_per_s: Math.round(rows / x.seconds.write),
    });
    return {
      impl: "nodejs-polars",
      workload: "full_refresh",
      store: store.kind,
      symbols,
      days,
      feature_set: set,
      feature_rows: first.features.rowsWritten,
      signal_rows: first.signals.rowsWritten,
      seconds: r3(first.seconds.total),
      phases: phases(first),
      rerun_seconds: r3(again.seconds.total),
      rerun_phases: phases(again),
    };
  } finally {
    await store.close();
  }
}

const COMPARE_PY = `
import importlib.util, json, sys
import numpy as np, pandas as pd
spec = importlib.util.spec_from_file_location("ref", sys.argv[1])
ref = importlib.util.module_from_spec(spec); spec.loader.exec_module(ref)
df = pd.read_csv(sys.argv[2]); df["timestamp"] = pd.to_datetime(df["timestamp"], unit="ms")
df["volume"] = df["volume"].astype(np.int64)
theirs = ref.compute_features(df); theirs["timestamp"] = theirs["timestamp"].astype("int64") // 10**6
ours = pd.read_csv(sys.argv[3])
m = theirs.merge(ours, on=["instrument", "timestamp", "feature"], how="outer", suffixes=("_pd", "_pl"), indicator=True)
both = m["_merge"] == "both"
rel = ((m["value_pd"] - m["value_pl"]).abs() / np.maximum(1.0, m["value_pd"].abs()))[both]
print(json.dumps({"check": "values_vs_pandas", "rows_pandas": len(theirs), "rows_ours": len(ours),
  "rows_matched": int(both.sum()), "max_rel_diff": float(rel.max()),
  "max_rel_diff_by_feature": {k: float(v) for k, v in m[both].assign(d=rel).groupby("feature")["d"].max().items()}}))
`;

/**
 * Runs the reference's `compute_features` on the same input (written as CSV) and
 * compares every (instrument, timestamp, feature) value with ours.
 * @returns The comparison line (or an error line).
 */
function verifyAgainstPandas(frame: pl.DataFrame, long: pl.DataFrame): Record<string, unknown> {
  const dir = Deno.makeTempDirSync({ prefix: "tt_bench_features_" });
  try {
    const toMs = pl.col("timestamp").cast(pl.Int64);
    frame.withColumns(pl.col("instrument").cast(pl.Utf8), toMs).writeCSV(`${dir}/in.csv`);
    long.withColumns(pl.col("instrument").cast(pl.Utf8), pl.col("feature").cast(pl.Utf8), toMs)
      .writeCSV(`${dir}/ours.csv`);
    Deno.writeTextFileSync(`${dir}/compare.py`, COMPARE_PY);
    const script = resolve(PROJECT_ROOT, "..", "shared", "bench", "features_ref.py");
    const out = new Deno.Command("/usr/bin/python3", {
      args: [`${dir}/compare.py`, script, `${dir}/in.csv`, `${dir}/ours.csv`],
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    const text = new TextDecoder().decode(out.success ? out.stdout : out.stderr).trim();
    return out.success
      ? JSON.parse(text)
      : { check: "values_vs_pandas", error: text.split("\n").slice(-2).join(" | ") };
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

interface BenchLine {
  seconds: number;
  peak_rss_mb: number;
  rows_out: number;
}

function ratios(ref: BenchLine[], ours: BenchLine[]) {
  const rs = median(ref.map((r) => r.seconds)), os = median(ours.map((r) => r.seconds));
  const rm = median(ref.map((r) => r.peak_rss_mb)), om = median(ours.map((r) => r.peak_rss_mb));
  return {
    runs: ours.length,
    pandas_seconds_median: rs,
    polars_seconds_median: os,
    speedup: Math.round((rs / os) * 10) / 10,
    memory_ratio: Math.round((om / rm) * 1000) / 1000,
    rows_match: ref.every((r) => r.rows_out === ours[0].rows_out),
  };
}

/**
 * `--repeat N`: N rounds, each running (the reference, then) this benchmark in a fresh
 * process, so that both see the same machine load; prints every line and the medians.
 */
function alternate(
  symbols: number,
  days: number,
  seed: number,
  repeat: number,
  withReference: boolean,
): void {
  const ref: BenchLine[] = [], ours: BenchLine[] = [];
  const self = resolve(PROJECT_ROOT, "tasks", "bench.ts");
  for (let k = 0; k < repeat; k++) {
    if (withReference) {
      const line = runReference(symbols, days, seed);
      console.log(line);
      const parsed = JSON.parse(line);
      if (typeof parsed.seconds === "number") ref.push(parsed);
    }
    const out = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        self,
        "features",
        "--symbols",
        `${symbols}`,
        "--days",
        `${days}`,
        "--seed",
        `${seed}`,
      ],
      stdout: "piped",
    }).outputSync();
    const line = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!;
    console.log(line);
    ours.push(JSON.parse(line));
  }
  if (ref.length) console.log(JSON.stringify(ratios(ref, ours)));
}

function runReference(symbols: number, days: number, seed: number): string {
  const script = resolve(PROJECT_ROOT, "..", "shared", "bench", "features_ref.py");
  const out = new Deno.Command("/usr/bin/python3", {
    args: [script, "--symbols", String(symbols), "--days", String(days), "--seed", String(seed)],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" | ");
    return JSON.stringify({ impl: "pandas", error: `features_ref.py failed: ${err}` });
  }
  return new TextDecoder().decode(out.stdout).trim();
}

/**
 * Runs the benchmark.
 * @param args Command-line arguments after `features`.
 */
export async function main(args: string[]): Promise<void> {
  const a = parseCommand(SPEC, args);
  const symbols = numberArg(a, "symbols", { min: 1, integer: true })!;
  const days = numberArg(a, "days", { min: 120, integer: true })!;
  const seed = numberArg(a, "seed", { integer: true })!;

  const repeat = numberArg(a, "repeat", { min: 1, integer: true })!;
  if (repeat > 1) {
    alternate(symbols, days, seed, repeat, a["with-reference"] === true);
    return;
  }

  // The reference runs first, in its own process, so its memory never overlaps ours.
  const reference = a["with-reference"] ? runReference(symbols, days, seed) : undefined;

  const frame = syntheticFrame(symbols, days, seed);
  const t0 = performance.now();
  const long = specPipeline(frame);
  const seconds = (performance.now() - t0) / 1000;
  const line = {
    impl: "nodejs-polars",
    symbols,
    days,
    rows_out: long.height,
    seconds: Math.round(seconds * 1000) / 1000,
    peak_rss_mb: Math.round(peakRssMb() * 10) / 10,
  };
  if (reference) console.log(reference);
  console.log(JSON.stringify(line));
  if (reference) {
    try {
      const ref = JSON.parse(reference);
      if (typeof ref.seconds === "number") console.log(JSON.stringify(ratios([ref], [line])));
    } catch { /* the reference line is printed as is */ }
  }
  if (a.profile) profileStages(frame);
  if (a.verify) console.log(JSON.stringify(verifyAgainstPandas(frame, long)));
  if (a.refresh) {
    console.log(
      JSON.stringify(await fullRefresh(symbols, days, seed, a["refresh-set"] as FeatureSetName)),
    );
  }
}
