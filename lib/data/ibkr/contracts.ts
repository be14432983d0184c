/**
 * US stock contracts as the ingest asks IB for them, and the keys the pacing
 * limiter uses for them.
 *
 * @module
 */
import type { Contract } from "@stoqey/ib";
import type { PacingKey } from "./pacing.ts";

/** A stock as the ingest knows it: always routed through SMART in USD. */
export interface StockSpec {
  /** Ticker, e.g. `"AAPL"`. */
  symbol: string;
  /** Primary listing exchange (`NASDAQ`, `NYSE`, `ARCA` …) to disambiguate SMART. */
  primaryExchange?: string;
  /** IB's contract id once resolved. */
  conId?: number;
  /** Routing exchange. Default `"SMART"`. */
  exchange?: string;
  /** Default `"USD"`. */
  currency?: string;
}

/**
 * Builds the `@stoqey/ib` contract for a stock: `Stock(symbol, "SMART", "USD")`
 * plus `primaryExch` and `conId` when known.
 * @param spec The stock.
 * @returns A contract for `reqHistoricalData` and friends.
 * @example
 * ```ts
 * stockContract({ symbol: "MSFT", primaryExchange: "NASDAQ" });
 * // { symbol: "MSFT", secType: "STK", exchange: "SMART", primaryExch: "NASDAQ", currency: "USD" }
 * ```
 */
export function stockContract(spec: StockSpec): Contract {
  const c: Contract = {
    symbol: spec.symbol,
    secType: "STK" as Contract["secType"],
    exchange: spec.exchange ?? "SMART",
    currency: spec.currency ?? "USD",
  };
  if (spec.primaryExchange) c.primaryExch = spec.primaryExchange;
  if (spec.conId) c.conId = spec.conId;
  return c;
}

/**
 * The pacing key of a historical request: `request` identifies it exactly (IB's
 * "identical request"), `contract` is contract + exchange + tick type (IB's
 * "same contract, exchange and tick type"), kept coarse on purpose (primary
 * exchange and conId left out) so two spellings of one stock share a budget.
 *
 * @param spec The stock.
 * @param what Request kind and parameters, e.g. `["HIST", endDateTime, duration, barSize, "TRADES", "1"]`.
 * @param whatToShow Tick type, e.g. `"TRADES"`.
 * @returns The key for {@linkcode PacingLimiter.acquire}.
 */
export function pacingKey(spec: StockSpec, what: string[], whatToShow: string): PacingKey {
  const exchange = spec.exchange ?? "SMART";
  return {
    request: [spec.symbol, exchange, spec.primaryExchange ?? "", ...what].join("|"),
    contract: `${spec.symbol}@${exchange}/${whatToShow}`,
  };
}
