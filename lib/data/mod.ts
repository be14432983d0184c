/**
 * Market data: sources (CSV files, the npm sample, Interactive Brokers), ingestion
 * into the store, data-quality diagnostics and the aligned price panel.
 *
 * @module
 */
export * from "./panel.ts";
export * from "./csv.ts";
export * from "./csv_ingest.ts";
export * from "./alt_ingest.ts";
export * from "./sample.ts";
export * from "./quality.ts";
export * from "./alt_quality.ts";
export * from "./calendars.ts";
export * from "./decision_time.ts";
export * from "./ibkr/mod.ts";
