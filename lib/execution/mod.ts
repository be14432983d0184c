/**
 * Execution: the broker contract, the paper and IBKR brokers, risk overlays and the trading cycle.
 * @module
 */
export * from "./broker.ts";
export * from "./risk.ts";
export * from "./ibkr_broker.ts";
export * from "./paper_broker.ts";
export * from "./cycle.ts";
