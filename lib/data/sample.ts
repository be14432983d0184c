/**
 * The sample source: real daily bars shipped inside npm packages (no network):
 * the S&P 500 index 2000-01-03…2020-04-17 (`vega-datasets`) and AAPL 2013-05-13…2018-05-11
 * (`@observablehq/sample-datasets`), imported through the same CSV path as vendor files.
 *
 * Both files have an adjusted-close column, and both are imported **adjusted**
 * (`adjust: true`): for the index it equals the close (k = 1); for AAPL it folds
 * dividends in, so returns are total returns like the `--adjust` vendor imports.
 *
 * @module
 */
import type { Store } from "../db/store.ts";
import { packageFile } from "../util/paths.ts";
import { type CsvSource, ingestCsv, type IngestOptions, type IngestSummary } from "./csv_ingest.ts";

/** One sample file: where it ships and the symbol it is stored under. */
export interface SampleDataset {
  symbol: string;
  package: string;
  file: string;
  description: string;
}

/** The sample files. */
export const SAMPLE_DATASETS: readonly SampleDataset[] = [
  {
    symbol: "SPX",
    package: "vega-datasets",
    file: "data/sp500-2000.csv",
    description: "S&P 500 index, daily, 2000-01-03…2020-04-17",
  },
  {
    symbol: "AAPL",
    package: "@observablehq/sample-datasets",
    file: "aapl.csv",
    description: "Apple Inc., daily, 2013-05-13…2018-05-11",
  },
];

/**
 * The sample files as CSV sources (absolute paths in `node_modules/`).
 * @returns One source per {@linkcode SAMPLE_DATASETS} entry.
 * @throws {Error} When the packages are not installed.
 * @example
 * ```ts
 * await ingestCsv(store, sampleSources(), { adjust: true }); // what ingestSample() does
 * ```
 */
export function sampleSources(): CsvSource[] {
  return SAMPLE_DATASETS.map((d) => ({ path: packageFile(d.package, d.file), symbol: d.symbol }));
}

/** Options of {@linkcode ingestSample}: the CSV options that make sense for the sample. */
export type SampleOptions = Pick<
  IngestOptions,
  "start" | "end" | "symbols" | "silent" | "skipBadRows" | "lineage"
>;

/**
 * Imports the sample bars (adjusted, daily).
 * @param store An open store.
 * @param options Filters and output.
 * @returns The ingest summary (source `sample`).
 * @example
 * ```ts
 * const s = await ingestSample(store);
 * s.symbols; // ["AAPL", "SPX"]
 * ```
 */
export function ingestSample(store: Store, options: SampleOptions = {}): Promise<IngestSummary> {
  return ingestCsv(store, sampleSources(), {
    ...options,
    source: "sample",
    adjust: true,
    barSize: "1 day",
  });
}
