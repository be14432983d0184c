/**
 * What a user asks of the IBKR source (dates, a watchlist and/or symbols, a bar size,
 * a request plan, the gateway's address), turned into checked
 * {@linkcode IbkrIngestOptions} before anything connects or writes.
 *
 * @module
 */
import { BAR_SIZES } from "./bar_sizes.ts";
import {
  FIRST_ANSWER_TIMEOUT_MS,
  IBKR_MODES,
  type IbkrIngestOptions,
  type IbkrMode,
  parseRange,
} from "./ingest.ts";
import { readWatchlist, type WatchlistEntry } from "./watchlist.ts";

/** Defaults of an {@linkcode IbkrRequest}: IB Gateway's paper port on this machine, daily bars. */
export const IBKR_REQUEST_DEFAULTS: Readonly<{
  barSize: string;
  mode: IbkrMode;
  host: string;
  port: number;
  clientId: number;
  requestTimeoutSeconds: number;
}> = Object.freeze({
  barSize: "1 day",
  mode: "advanced",
  host: "127.0.0.1",
  port: 4002,
  clientId: 1,
  requestTimeoutSeconds: FIRST_ANSWER_TIMEOUT_MS / 1000,
});

/** What to fetch from IB; defaults in {@linkcode IBKR_REQUEST_DEFAULTS}. */
export interface IbkrRequest {
  /** Inclusive start: `YYYY-MM-DD` or an ISO date-time. */
  start: string;
  /** Inclusive end: `YYYY-MM-DD` (the whole day) or an ISO date-time. */
  end: string;
  /** Watchlist file (symbols with their primary exchanges). */
  watchlist?: string;
  /** With a watchlist: keep only these of its symbols. Without: the symbols to fetch. */
  symbols?: readonly string[];
  /** IB bar size, a key of {@linkcode BAR_SIZES}. */
  barSize?: string;
  /** Request plan, one of {@linkcode IBKR_MODES}. */
  mode?: string;
  /** TWS / IB Gateway host. */
  host?: string;
  /** TWS / IB Gateway API port. */
  port?: number;
  /** API client id. */
  clientId?: number;
  /** No progress bars. Default false. */
  silent?: boolean;
  /**
   * Seconds to wait for the gateway's first answer before stopping the run (a gateway
   * that connects but is not logged in answers nothing). Default 30.
   */
  requestTimeoutSeconds?: number;
}

/**
 * The stocks of a request: the watchlist's entries (filtered to `symbols` when both
 * are given, in watchlist order, matched in any case), else `symbols` as given, without
 * a primary exchange.
 * @param watchlist Entries read from a watchlist file, if any.
 * @param symbols Symbols asked for, if any.
 * @param source Where the watchlist came from, for the error message.
 * @returns At least one entry.
 * @throws {RangeError} When nothing is left to fetch.
 * @example
 * ```ts
 * selectWatchlist([{ symbol: "AAPL", primaryExchange: "NASDAQ" }, { symbol: "SPY" }], ["SPY"]);
 * // [{ symbol: "SPY" }]
 * selectWatchlist(undefined, ["MSFT"]); // [{ symbol: "MSFT" }]
 * ```
 */
export function selectWatchlist(
  watchlist: readonly WatchlistEntry[] | undefined,
  symbols: readonly string[] | undefined,
  source = "the watchlist",
): WatchlistEntry[] {
  if (watchlist) {
    // Watchlist symbols are upper case; a symbol asked for matches in any case.
    const wanted = symbols?.map((s) => s.toUpperCase());
    const kept = wanted ? watchlist.filter((w) => wanted.includes(w.symbol)) : [...watchlist];
    if (kept.length === 0) {
      throw new RangeError(`None of the symbols ${symbols!.join(", ")} is in ${source}`);
    }
    return kept;
  }
  if (!symbols || symbols.length === 0) {
    throw new RangeError("An IBKR ingest needs a watchlist or a list of symbols");
  }
  return symbols.map((symbol) => ({ symbol }));
}

/**
 * Checks a request and fills in its defaults: the date range parses and is not empty,
 * the bar size is one IB knows, the mode is a plan, and the watchlist (read from disk)
 * and symbols leave at least one stock. Nothing connects or writes.
 * @param request See {@linkcode IbkrRequest}.
 * @returns Options for {@linkcode ingestIbkr}.
 * @throws {RangeError} For a bad date range, bar size, mode or request timeout, or no stock to fetch.
 * @throws {SyntaxError} For a malformed watchlist (naming the line); `Error` when it cannot be read.
 * @example
 * ```ts
 * const options = await ibkrIngestOptions({ start: "2024-01-01", end: "2024-12-31", symbols: ["AAPL"] });
 * const summary = await ingestIbkr(store, options);
 * ```
 */
export async function ibkrIngestOptions(request: IbkrRequest): Promise<IbkrIngestOptions> {
  const d = IBKR_REQUEST_DEFAULTS;
  parseRange(request.start, request.end);
  const barSize = request.barSize ?? d.barSize;
  if (!(barSize in BAR_SIZES)) {
    throw new RangeError(
      `Bar size "${barSize}" is not an IB bar size; one of: ${Object.keys(BAR_SIZES).join(", ")}`,
    );
  }
  const mode = request.mode ?? d.mode;
  if (!isIbkrMode(mode)) {
    throw new RangeError(`IBKR mode "${mode}" is not one of ${IBKR_MODES.join(", ")}`);
  }
  const timeout = request.requestTimeoutSeconds ?? d.requestTimeoutSeconds;
  if (!(timeout > 0 && Number.isFinite(timeout))) {
    throw new RangeError(
      `The request timeout must be a positive number of seconds; got ${timeout}`,
    );
  }
  const watchlist = request.watchlist === undefined
    ? undefined
    : await readWatchlist(request.watchlist);
  return {
    symbols: selectWatchlist(watchlist, request.symbols, `the watchlist ${request.watchlist}`),
    start: request.start,
    end: request.end,
    barSize,
    mode,
    host: request.host ?? d.host,
    port: request.port ?? d.port,
    clientId: request.clientId ?? d.clientId,
    silent: request.silent ?? false,
    firstAnswerTimeoutMs: timeout * 1000,
  };
}

function isIbkrMode(mode: string): mode is IbkrMode {
  return (IBKR_MODES as readonly string[]).includes(mode);
}
