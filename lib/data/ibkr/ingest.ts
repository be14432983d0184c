/**
 * Interactive Brokers historical bars into `tt_prices`: contract resolution, listing
 * awareness (head timestamp), request planning within IB's duration limits, pacing,
 * retries, reconnects and resume.
 *
 * @module
 */
import type { ContractDetails } from "@stoqey/ib";
import type { Store } from "../../db/store.ts";
import {
  finishIngestRun,
  startIngestRun,
  upsertInstruments,
  upsertPrices,
} from "../../db/prices_repo.ts";
import {
  type ChunkSeries,
  readIbkrCoverage,
  recentIbkrRequests,
  recordIbkrChunk,
  recordIbkrRequest,
} from "../../db/ibkr_repo.ts";
import type { BarColumns } from "../panel.ts";
import { Progress } from "../../util/progress.ts";
import { BAR_SIZES, barSizeSpec, type ChunkRequest, planChunks } from "./bar_sizes.ts";
import { type Clock, clockFromEnv } from "./clock.ts";
import { ConnectionLostError, IbClient, IbError, RequestTimeoutError } from "./client.ts";
import { pacingKey, stockContract, type StockSpec } from "./contracts.ts";
import { type PacingKey, PacingLimiter, type PacingRules } from "./pacing.ts";
import type { WatchlistEntry } from "./watchlist.ts";

/** The request plans of an IBKR ingest (see {@linkcode IbkrIngestOptions.mode}). */
export const IBKR_MODES = ["lean", "advanced"] as const;
/** One of {@linkcode IBKR_MODES}. */
export type IbkrMode = typeof IBKR_MODES[number];

/** Options of {@linkcode ingestIbkr}. */
export interface IbkrIngestOptions {
  /** Stocks to fetch (e.g. from {@linkcode readWatchlist}). */
  symbols: WatchlistEntry[];
  /** Inclusive start: `YYYY-MM-DD` (00:00 UTC) or an ISO date-time. */
  start: string;
  /** Inclusive end: `YYYY-MM-DD` (the whole day) or an ISO date-time. */
  end: string;
  /** IB bar size: `"1 day"`, `"1 hour"`, `"5 mins"` … (stored as `tt_prices.bar_size`). */
  barSize: string;
  /**
   * `"lean"`: one `Stock(symbol, "SMART", "USD")` request per symbol (with the watchlist's
   * primary exchange when it gives one), chunked only where IB's limits force it. `"advanced"`: contract details first (SMART + primary exchange
   * fallback), head timestamp clipping, chunks of at most IB's limits, resume.
   */
  mode: IbkrMode;
  /** TWS / IB Gateway host. */
  host: string;
  /** TWS / IB Gateway API port (4002 paper Gateway, 7497 paper TWS …). */
  port: number;
  /** API client id (unique per connection). */
  clientId: number;
  /** No progress bars. Default false. */
  silent?: boolean;
  /** IB tick type. Default `"TRADES"` (split-adjusted by IB); `"ADJUSTED_LAST"` also adjusts for dividends. */
  whatToShow?: string;
  /** Regular trading hours only. Default true. */
  useRTH?: boolean;
  /** Clock for pacing and back-off. Default: {@linkcode clockFromEnv} (the wall clock unless a test compresses time). */
  clock?: Clock;
  /** Overrides of IB's pacing rules (tests). Default {@linkcode IB_HISTORICAL_PACING}. */
  pacing?: Partial<PacingRules>;
  /** Symbols fetched at once. Default 4. */
  concurrency?: number;
  /** Retries per request after a pacing violation, transient error, timeout or dropped connection. Default 8. */
  maxRetries?: number;
  /** First back-off in clock ms, doubled per retry up to 5 minutes. Default 2 000. */
  backoffMs?: number;
  /** Reconnect attempts in a row before giving up. Default 10. */
  maxReconnects?: number;
  /** Real ms to wait for the gateway's handshake. Default 10 000. */
  connectTimeoutMs?: number;
  /** Real ms to wait for one answer. Default 120 000. */
  requestTimeoutMs?: number;
  /**
   * Real ms to wait for the first answer of the run (to any request, an IB error
   * included). Until one arrives a request that gets no answer in this time stops the run
   * with {@linkcode NoAnswerError} instead of being retried. Default 30 000.
   */
  firstAnswerTimeoutMs?: number;
}

/** What an IBKR ingest did. */
export interface IbkrIngestSummary {
  /** Paced requests sent (historical data + head timestamps, retries included). */
  requests: number;
  /** Requests that waited for the pacing limiter. */
  pacingWaits: number;
  /** Total clock ms spent waiting for the pacing limiter. */
  pacingWaitMs: number;
  /** Requests retried (pacing violation, transient error, timeout, dropped connection). */
  retries: number;
  /** Reconnections after a dropped connection. */
  reconnects: number;
  /** Requests earlier runs sent to this gateway within the pacing look-back, counted by the limiter. */
  earlierRequests: number;
  /** Bars written (upserted). */
  rowsWritten: number;
  /** Requests not made because the store already had their range (resume, advanced mode). */
  chunksSkipped: number;
  /** Symbols left out and why. */
  symbolsSkipped: { symbol: string; reason: string }[];
  /** Wall-clock seconds. */
  seconds: number;
  /** `tt_ingest_runs.id`. */
  runId: number;
}

const DAY = 86_400_000;

/** The symbol cannot be fetched (no definition, ambiguous, no data); the run goes on. */
class SkipSymbol extends Error {}

/** The gateway stayed unreachable through every reconnect attempt; the run stops. */
export class GatewayUnreachableError extends Error {
  /** `"GatewayUnreachableError"`. */
  override name = "GatewayUnreachableError";
}

/**
 * The gateway took the connection but answered no request within the first-answer
 * timeout: it is most likely not logged in, or its API is not enabled. The run stops.
 */
export class NoAnswerError extends Error {
  /** `"NoAnswerError"`. */
  override name = "NoAnswerError";
}

/** Default of {@linkcode IbkrIngestOptions.firstAnswerTimeoutMs}. */
export const FIRST_ANSWER_TIMEOUT_MS = 30_000;

/**
 * Ingests IB historical bars for `options.symbols` into `tt_prices`, one transaction
 * per request (bars + resume record), lineage in `tt_ingest_runs`.
 *
 * @param store The store.
 * @param options See {@linkcode IbkrIngestOptions}.
 * @returns The summary; symbols that could not be fetched are listed, not thrown.
 * @throws ConnectionLostError when the gateway cannot be reached at all.
 * @throws NoAnswerError when it connects but answers nothing within `firstAnswerTimeoutMs`.
 * @example
 * ```ts
 * const summary = await ingestIbkr(store, {
 *   symbols: await readWatchlist("lib/data/ibkr/watchlist_us50.txt"),
 *   start: "2025-01-01", end: "2025-08-17", barSize: "1 day", mode: "advanced",
 *   host: "127.0.0.1", port: 4002, clientId: 7,
 * });
 * ```
 */
export async function ingestIbkr(
  store: Store,
  options: IbkrIngestOptions,
): Promise<IbkrIngestSummary> {
  const t0 = performance.now();
  const spec = barSizeSpec(options.barSize);
  const [rangeStart, rangeEnd] = parseRange(options.start, options.end);
  if (!options.symbols.length) throw new RangeError("ingestIbkr(): no symbols");
  const o = {
    whatToShow: options.whatToShow ?? "TRADES",
    useRTH: options.useRTH ?? true,
    clock: options.clock ?? clockFromEnv(),
    concurrency: Math.max(1, options.concurrency ?? 4),
    maxRetries: options.maxRetries ?? 8,
    backoffMs: options.backoffMs ?? 2_000,
    maxReconnects: options.maxReconnects ?? 10,
    firstAnswerTimeoutMs: options.firstAnswerTimeoutMs ?? FIRST_ANSWER_TIMEOUT_MS,
  };
  if (!(o.firstAnswerTimeoutMs > 0 && Number.isFinite(o.firstAnswerTimeoutMs))) {
    throw new RangeError(
      `ingestIbkr(): firstAnswerTimeoutMs must be a positive number; got ${o.firstAnswerTimeoutMs}`,
    );
  }
  const clock = o.clock;
  const limiter = new PacingLimiter({ clock, rules: options.pacing });
  const summary: IbkrIngestSummary = {
    requests: 0,
    pacingWaits: 0,
    pacingWaitMs: 0,
    retries: 0,
    reconnects: 0,
    earlierRequests: 0,
    rowsWritten: 0,
    chunksSkipped: 0,
    symbolsSkipped: [],
    seconds: 0,
    runId: 0,
  };
  summary.runId = await startIngestRun(store, "ibkr", {
    symbols: options.symbols.map((s) =>
      s.primaryExchange ? `${s.symbol},${s.primaryExchange}` : s.symbol
    ),
    start: options.start,
    end: options.end,
    barSize: options.barSize,
    mode: options.mode,
    whatToShow: o.whatToShow,
    useRTH: o.useRTH,
    gateway: `${options.host}:${options.port}`,
    clientId: options.clientId,
  });
  // Requests earlier processes sent to this gateway still count for IB's pacing.
  const gatewayName = `${options.host}:${options.port}`;
  const rules = limiter.rules;
  const lookBack = Math.max(rules.windowMs, rules.identicalMs, rules.burstMs) + rules.marginMs;
  const earlier = await recentIbkrRequests(store, gatewayName, clock.now() - lookBack);
  // The ledger keeps no bar size; a historical request names it among its parts. Head
  // timestamps stay without one, so they count for the small-bar rules (the safe side).
  limiter.restore(
    earlier.map((r) => ({
      at: r.at,
      key: {
        request: r.request,
        contract: r.contract,
        barSize: r.request.split("|").find((part) => part in BAR_SIZES),
      },
    })),
  );
  summary.earlierRequests = earlier.length;
  const conn = new Connection(
    options,
    clock,
    o.backoffMs,
    o.maxReconnects,
    () => summary.reconnects++,
  );
  const overall = new Progress("ibkr", {
    total: options.symbols.length,
    unit: "symbols",
    silent: options.silent,
  });
  const waitNote = () => `pacing wait ${(summary.pacingWaitMs / 1000).toFixed(1)}s`;

  // Until the gateway has answered once, a silent gateway stops the run quickly.
  let answered = false;
  async function firstAnswer<T>(request: Promise<T>): Promise<T> {
    if (answered) return await request;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        if (answered) return;
        const secs = Number((o.firstAnswerTimeoutMs / 1000).toFixed(3));
        reject(
          new NoAnswerError(
            `connected to ${gatewayName} but no historical-data request was answered in ${secs} s: is the gateway logged in and the API enabled?`,
          ),
        );
      }, o.firstAnswerTimeoutMs);
    });
    try {
      const value = await Promise.race([request, timeout]);
      answered = true;
      return value;
    } catch (e) {
      if (e instanceof IbError) answered = true;
      throw e;
    } finally {
      clearTimeout(timer);
      request.catch(() => {}); // settled later by close() when the race was lost
    }
  }

  /** Runs one paced request with retries. */
  async function paced<T>(
    key: PacingKey | null,
    label: string,
    fn: (c: IbClient) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 0;; attempt++) {
      try {
        if (!key) return await firstAnswer(fn(await conn.get()));
        const ahead = limiter.earliestStart(key) - clock.now();
        if (ahead > 0) {
          overall.note(
            `${label}: waiting ${(ahead / 1000).toFixed(1)}s for pacing (${waitNote()})`,
          );
        }
        const permit = await limiter.acquire(key);
        try {
          await recordIbkrRequest(store, gatewayName, { at: permit.startedAt, ...key });
        } catch (e) {
          permit.release();
          throw e;
        }
        if (permit.waitedMs > 0) {
          summary.pacingWaits++;
          summary.pacingWaitMs += permit.waitedMs;
        }
        summary.requests++;
        try {
          // The connection is taken after the wait: it may have dropped meanwhile.
          return await firstAnswer(fn(await conn.get()));
        } finally {
          permit.release();
        }
      } catch (e) {
        const kind = classify(e);
        if (kind === "fatal") throw e;
        if (attempt >= o.maxRetries) {
          throw new SkipSymbol(`gave up after ${o.maxRetries} retries: ${(e as Error).message}`);
        }
        summary.retries++;
        // After a pacing violation start at IB's identical-request gap (15 s): eight
        // doublings then outlast a whole 10-minute window filled by someone else.
        const base = kind === "pacing"
          ? Math.max(o.backoffMs, limiter.rules.identicalMs)
          : o.backoffMs;
        const backoff = Math.min(base * 2 ** attempt, 300_000);
        if (kind === "pacing") limiter.pause(backoff);
        overall.note(
          `${label}: ${(e as Error).message}; retry ${attempt + 1} in ${
            (backoff / 1000).toFixed(1)
          }s`,
        );
        await clock.sleep(backoff);
      }
    }
  }

  async function resolve(entry: WatchlistEntry): Promise<StockSpec> {
    const details = async (s: StockSpec): Promise<ContractDetails[]> => {
      try {
        return await paced(
          null,
          `${entry.symbol} details`,
          (c) => c.contractDetails(stockContract(s)),
        );
      } catch (e) {
        if (e instanceof IbError && e.code === 200) return [];
        throw e;
      }
    };
    const usable = (list: ContractDetails[]) =>
      list.filter((d) => (d.contract.currency ?? "USD") === "USD");
    let found = usable(await details({ symbol: entry.symbol }));
    let why = "no security definition for SMART/USD";
    if (found.length > 1) {
      const match = found.filter((d) =>
        entry.primaryExchange && d.contract.primaryExch === entry.primaryExchange
      );
      if (match.length === 1) found = match;
      else why = `ambiguous on SMART/USD (${found.map((d) => d.contract.primaryExch).join(", ")})`;
    }
    if (found.length !== 1) {
      if (!entry.primaryExchange) {
        throw new SkipSymbol(`${why} and no primary exchange in the watchlist`);
      }
      // Fallback: SMART with the primary exchange.
      found = usable(
        await details({ symbol: entry.symbol, primaryExchange: entry.primaryExchange }),
      );
      if (found.length !== 1) {
        throw new SkipSymbol(
          `${why}; with primary exchange ${entry.primaryExchange}: ${found.length} matches`,
        );
      }
    }
    const d = found[0];
    const primaryExchange = d.contract.primaryExch || entry.primaryExchange;
    const resolved: StockSpec = { symbol: entry.symbol, primaryExchange, conId: d.contract.conId };
    await upsertInstruments(store, [{
      symbol: entry.symbol,
      secType: "STK",
      exchange: "SMART",
      primaryExchange: primaryExchange ?? null,
      currency: d.contract.currency ?? "USD",
      conId: d.contract.conId ?? null,
    }]);
    return resolved;
  }

  async function ingestSymbol(entry: WatchlistEntry): Promise<void> {
    const symbol = entry.symbol;
    let stock: StockSpec = { symbol, primaryExchange: entry.primaryExchange };
    let from = rangeStart;
    const series: ChunkSeries = {
      symbol,
      barSize: options.barSize,
      whatToShow: o.whatToShow,
      useRth: o.useRTH,
    };
    if (options.mode === "advanced") {
      stock = await resolve(entry);
      const head = await paced(
        // Paced by the run's bar size: heads of a daily run are not held by small-bar rules.
        {
          ...pacingKey(stock, ["HEAD", o.whatToShow, o.useRTH ? "1" : "0"], o.whatToShow),
          barSize: options.barSize,
        },
        `${symbol} head timestamp`,
        (c) => c.headTimestamp(stockContract(stock), o.whatToShow, o.useRTH),
      );
      await upsertInstruments(store, [{ symbol, firstBar: head }]);
      // A daily head timestamp is a session's time; its bar is stamped at the date.
      const firstBar = spec.daily ? Math.floor(head / DAY) * DAY : head;
      from = Math.max(from, firstBar);
      if (from >= rangeEnd) {
        throw new SkipSymbol(`first bar ${new Date(head).toISOString()} is after --end`);
      }
    }
    let chunks = planChunks(from, rangeEnd, options.barSize, { mode: options.mode });
    let resumed = 0;
    if (options.mode === "advanced") {
      const covered = await readIbkrCoverage(store, series);
      const todo = chunks.filter((c) => !isCovered(covered, c.start, c.end));
      resumed = chunks.length - todo.length;
      summary.chunksSkipped += resumed;
      chunks = todo;
    }
    const bar = new Progress(`  ${symbol}`, {
      total: chunks.length,
      unit: "requests",
      silent: options.silent,
      lineEvery: 3600,
    });
    let rows = 0;
    for (const chunk of chunks) {
      const bars = await fetchChunk(stock, chunk);
      const lo = Math.max(chunk.start, from), hi = Math.min(chunk.end, rangeEnd);
      const cols = toColumns(symbol, bars.filter((b) => b.time >= lo && b.time < hi));
      const n = cols.timestamp.length;
      await store.transaction(async (tx) => {
        if (n) await upsertPrices(tx, options.barSize, cols, { runId: summary.runId });
        // Only a range entirely in the past is complete (today's bar may still change).
        if (options.mode === "advanced" && chunk.end <= clock.now()) {
          await recordIbkrChunk(tx, series, { start: chunk.start, end: chunk.end, rows: n });
        }
      });
      rows += n;
      summary.rowsWritten += n;
      bar.tick(1, `${rows} bars, ${waitNote()}`);
      overall.note(`${symbol} ${bar.done}/${chunks.length} requests, ${waitNote()}`);
    }
    bar.finish(
      `${rows} bars${resumed ? `, ${resumed} requests already in the store` : ""}, ${waitNote()}`,
    );
  }

  function fetchChunk(stock: StockSpec, chunk: ChunkRequest) {
    const q = {
      endDateTime: chunk.endDateTime,
      duration: chunk.duration,
      barSize: options.barSize,
      whatToShow: o.whatToShow,
      useRTH: o.useRTH,
    };
    const key: PacingKey = {
      ...pacingKey(stock, [
        "HIST",
        q.endDateTime,
        q.duration,
        q.barSize,
        o.useRTH ? "1" : "0",
      ], o.whatToShow),
      barSize: q.barSize,
    };
    return paced(key, `${stock.symbol} ${q.duration} to ${q.endDateTime}`, async (c) => {
      try {
        return await c.historicalBars(stockContract(stock), q);
      } catch (e) {
        // IB answers an empty window with 162 "HMDS query returned no data".
        if (e instanceof IbError && e.code === 162 && /no data/i.test(e.message)) return [];
        throw e;
      }
    });
  }

  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < options.symbols.length && failure === undefined) {
      const entry = options.symbols[next++];
      try {
        await ingestSymbol(entry);
      } catch (e) {
        if (e instanceof SkipSymbol || e instanceof IbError) {
          summary.symbolsSkipped.push({ symbol: entry.symbol, reason: e.message });
        } else {
          failure ??= e;
        }
      }
      overall.tick(1, `${entry.symbol} done, ${summary.rowsWritten} bars, ${waitNote()}`);
    }
  };
  try {
    await conn.get(true);
    await Promise.all(
      Array.from({ length: Math.min(o.concurrency, options.symbols.length) }, worker),
    );
    if (failure !== undefined) throw failure;
  } catch (e) {
    conn.close();
    summary.seconds = (performance.now() - t0) / 1000;
    await finishIngestRun(store, summary.runId, {
      rowsWritten: summary.rowsWritten,
      status: "failed",
      message: (e as Error).message,
    });
    throw e;
  }
  conn.close();
  overall.finish(`${summary.rowsWritten} bars, ${summary.requests} requests, ${waitNote()}`);
  summary.seconds = (performance.now() - t0) / 1000;
  await finishIngestRun(store, summary.runId, {
    rowsWritten: summary.rowsWritten,
    status: "ok",
    message: summary.symbolsSkipped.length
      ? `skipped: ${summary.symbolsSkipped.map((s) => `${s.symbol} (${s.reason})`).join("; ")}`
      : undefined,
  });
  return summary;
}

/** How a failed request is handled. */
function classify(e: unknown): "pacing" | "retry" | "fatal" {
  if (e instanceof GatewayUnreachableError || e instanceof NoAnswerError) return "fatal";
  if (e instanceof ConnectionLostError || e instanceof RequestTimeoutError) return "retry";
  if (e instanceof IbError) {
    if (e.code === 162 && /pacing/i.test(e.message)) return "pacing";
    // 162 other HMDS hiccups, 366 "no historical data query found", 322 server error, 10197 competing session.
    if ([162, 366, 322, 10197, 1100, 1101, 1102].includes(e.code) && !/no data/i.test(e.message)) {
      return "retry";
    }
  }
  return "fatal";
}

/** One connection at a time, reconnected on demand after a drop. */
class Connection {
  #client?: IbClient;
  #opening?: Promise<IbClient>;
  #everConnected = false;
  constructor(
    readonly options: {
      host: string;
      port: number;
      clientId: number;
      connectTimeoutMs?: number;
      requestTimeoutMs?: number;
    },
    readonly clock: Clock,
    readonly backoffMs: number,
    readonly maxReconnects: number,
    readonly onReconnect: () => void,
  ) {}

  get(first = false): Promise<IbClient> {
    if (this.#client?.connected) return Promise.resolve(this.#client);
    this.#opening ??= this.#open(first).finally(() => (this.#opening = undefined));
    return this.#opening;
  }

  async #open(first: boolean): Promise<IbClient> {
    this.#client?.disconnect();
    for (let attempt = 0;; attempt++) {
      const client = new IbClient({
        host: this.options.host,
        port: this.options.port,
        clientId: this.options.clientId,
        connectTimeoutMs: this.options.connectTimeoutMs,
        requestTimeoutMs: this.options.requestTimeoutMs,
      });
      try {
        await client.connect();
        if (this.#everConnected) this.onReconnect();
        this.#everConnected = true;
        this.#client = client;
        return client;
      } catch (e) {
        client.disconnect();
        if (first) throw e;
        if (attempt >= this.maxReconnects) {
          throw new GatewayUnreachableError(
            `IB gateway ${this.options.host}:${this.options.port} unreachable after ${
              attempt + 1
            } reconnect attempts: ${(e as Error).message}`,
            { cause: e },
          );
        }
        await this.clock.sleep(Math.min(this.backoffMs * 2 ** attempt, 60_000));
      }
    }
  }

  close(): void {
    this.#client?.disconnect();
    this.#client = undefined;
  }
}

function isCovered(covered: [number, number][], start: number, end: number): boolean {
  return covered.some(([s, e]) => s <= start && e >= end);
}

function toColumns(
  symbol: string,
  bars: { time: number; open: number; high: number; low: number; close: number; volume: number }[],
): BarColumns {
  const byTime = new Map(bars.map((b) => [b.time, b]));
  const sorted = [...byTime.values()].sort((a, b) => a.time - b.time);
  return {
    instrument: sorted.map(() => symbol),
    timestamp: sorted.map((b) => b.time),
    open: sorted.map((b) => b.open),
    high: sorted.map((b) => b.high),
    low: sorted.map((b) => b.low),
    close: sorted.map((b) => b.close),
    volume: sorted.map((b) => b.volume),
  };
}

/**
 * Parses `--start` / `--end` into `[start, endExclusive)` epoch ms: a date-only end
 * includes that whole day.
 * @param start Date or ISO date-time.
 * @param end Date or ISO date-time.
 * @returns The half-open range.
 * @throws RangeError for an unparsable date or an empty range.
 */
export function parseRange(start: string, end: string): [number, number] {
  const parse = (v: string, isEnd: boolean) => {
    const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(v);
    const t = dateOnly ? Date.parse(`${v}T00:00:00Z`) : Date.parse(v);
    if (Number.isNaN(t)) {
      throw new RangeError(`Not a date: "${v}" (use YYYY-MM-DD or an ISO date-time)`);
    }
    return isEnd ? (dateOnly ? t + DAY : t + 1) : t;
  };
  const s = parse(start, false), e = parse(end, true);
  if (e <= s) throw new RangeError(`--end ${end} is before --start ${start}`);
  return [s, e];
}
