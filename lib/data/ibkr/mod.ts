/**
 * Interactive Brokers as a data source: a pacing limiter for IB's historical-data
 * rules, IB's duration ↔ bar-size limits, a promise wrapper over `@stoqey/ib`,
 * watchlists, the checked request of an ingest, the ingest into `tt_prices`, and a
 * loopback IB Gateway speaking the TWS protocol (`deno task fake-gateway`).
 *
 * @module
 */
export * from "./clock.ts";
export * from "./pacing.ts";
export * from "./bar_sizes.ts";
export * from "./contracts.ts";
export * from "./client.ts";
export * from "./watchlist.ts";
export * from "./ingest.ts";
export * from "./request.ts";
export * from "./loopback_gateway.ts";
