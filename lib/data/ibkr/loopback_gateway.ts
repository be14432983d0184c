/**
 * A loopback TWS / IB Gateway: speaks the TWS API wire protocol that `@stoqey/ib`
 * 1.6.10 speaks (V100+ handshake, server version 176, nextValidId, managed accounts,
 * contract details, head timestamp, historical bars, errors) and serves bars from CSV
 * files or generated ones. It keeps its own pacing counters (IB's rules, measured on
 * its clock) and can inject faults: pacing errors, a dropped connection, "no security
 * definition" for a symbol asked without its primary exchange, ambiguous contracts,
 * slow answers, no answer at all, a later listing date.
 *
 * It also takes orders for one account (paper `DU…` by default): placeOrder /
 * cancelOrder, open, completed and all-open orders, executions with commission
 * reports, positions, account summary, P&L and single-position P&L, answered as IB
 * does; the book lives as long as the gateway, across client connections. Its market
 * moves one weekday per {@linkcode LoopbackGateway.advance} (or every
 * `autoAdvanceMs`), filling working orders from that day's bar (or a set quote) with
 * slippage and IBKR fixed commissions. Order faults: rejections, partial fills, a
 * disconnect on an order, duplicate order ids, delayed fills; and a count of every
 * orderRef received (the no-duplicate-order check). The order messages are in
 * `_tws_orders.ts`.
 *
 * A product, not a test fixture: `deno task fake-gateway` serves it so the IBKR
 * ingest can be tried without an IB account, and `tests/ibkr_ingest_test.ts` runs the
 * real ingest against it. The wire format is in `_tws_wire.ts`, the bars it serves in
 * `_tws_data.ts` (both private to this folder).
 *
 * @module
 */
import { type Clock, systemClock } from "./clock.ts";
import { IB_HISTORICAL_PACING, type PacingRules, smallBarRulesApply } from "./pacing.ts";
import {
  FieldCursor,
  frame,
  FrameReader,
  IN,
  OUT,
  readContract,
  type WireContract,
} from "./_tws_wire.ts";
import { CsvBars, type GatewayBar, generatedBars, isRegularSession } from "./_tws_data.ts";
import {
  type DeskExecution,
  type DeskFaults,
  type DeskOrder,
  type DeskPosition,
  IN_ORDERS,
  OUT_ORDERS,
  TradingDesk,
} from "./_tws_orders.ts";

export type { DeskExecution, DeskOrder, DeskPosition, GatewayBar };

/** The paper account the gateway reports unless told otherwise. */
export const LOOPBACK_PAPER_ACCOUNT = "DU0000000";

/** Server version announced (TWS 10.19's, below the client's maximum 193). */
export const LOOPBACK_SERVER_VERSION = 176;

/**
 * Faults the gateway injects on request. Order faults: `rejectSymbols` / `rejectRefs`
 * (answered with `rejectCode`, default 201, and `rejectMessage`), `maxFillPerTick`
 * (partial fills), `duplicateOrderIds` (the first N orders get error 103),
 * `disconnectOnOrder` (drop the client when its Nth order arrives, before the
 * acknowledgement), `fillDelayMs` (fills come that long after a tick).
 */
export interface GatewayFaults extends DeskFaults {
  /** Answer the first N historical-data requests with error 162 (pacing violation). */
  pacingErrors?: number;
  /** Drop the connection once, after sending this many messages after the handshake. */
  disconnectAfterMessages?: number;
  /** Symbols answered 200 "No security definition" unless asked with their primary exchange or conId. */
  requirePrimaryExchange?: string[];
  /** Symbols with a second SMART/USD listing (on PINK): contract details return both. */
  ambiguous?: string[];
  /** Clock ms before each historical-data / head-timestamp answer. */
  answerDelayMs?: number;
  /**
   * Complete the handshake, then answer no request at all (contract details, head
   * timestamp, historical data), like a gateway that is not logged in.
   */
  neverAnswer?: boolean;
  /** First available date per symbol (`YYYY-MM-DD`): head timestamp, and no bars before. */
  listings?: Record<string, string>;
}

/** Options of {@linkcode LoopbackGateway}. */
export interface LoopbackGatewayOptions {
  /** Default 127.0.0.1. */
  hostname?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** CSV directories to serve. */
  dataDirs?: string[];
  /** Serve generated bars for symbols without a file. Default true. */
  generate?: boolean;
  /** Clock for pacing counters, delays and "now". Default the wall clock. */
  clock?: Clock;
  /** The rules the gateway checks (default IB's, no margin). */
  pacing?: Partial<PacingRules>;
  /** Answer a detected pacing violation with error 162 (as IB does). Default true. */
  enforcePacing?: boolean;
  /** Primary exchange per symbol. Default NASDAQ for everything not listed here. */
  primaryExchanges?: Record<string, string>;
  faults?: GatewayFaults;
  /** Log lines (requests, faults). */
  log?: (line: string) => void;
  /** Account id reported in managed accounts, orders and positions. Default {@linkcode LOOPBACK_PAPER_ACCOUNT} (a paper `DU…` id); a `U…` id looks live. */
  account?: string;
  /** Starting cash in USD. Default 1 000 000. */
  cash?: number;
  /** Slippage against the order in basis points. Default 0. */
  slippageBps?: number;
  /** Commission (IBKR fixed: per share, minimum, maximum as a fraction of trade value). Default 0.005, 1, 0.01. */
  commission?: { perShare?: number; min?: number; maxFraction?: number };
  /** Buying power as a multiple of net liquidation. Default 1 (a cash account). */
  leverage?: number;
  /** Accept fractional share quantities. Default false. */
  fractional?: boolean;
  /**
   * The market day the gateway's market starts at (epoch ms or `YYYY-MM-DD`); each
   * {@linkcode LoopbackGateway.advance} moves it to the next weekday and fills there
   * from that day's bar. Default: the clock's today.
   */
  marketStart?: number | string;
  /** Advance the market by itself every this many real ms (0/undefined: only on {@linkcode LoopbackGateway.advance}). */
  autoAdvanceMs?: number;
}

/** The gateway's book of its one account, for tests and `--json` summaries. */
export interface GatewayBook {
  account: string;
  cash: number;
  netLiquidation: number;
  marketDay: string;
  orders: DeskOrder[];
  executions: DeskExecution[];
  positions: Record<string, DeskPosition>;
}

/** One paced request as the gateway saw it. */
export interface GatewayRequest {
  kind: "historical" | "head";
  time: number;
  symbol: string;
  exchange: string;
  primaryExch: string;
  conId: number;
  barSize?: string;
  duration?: string;
  endDateTime?: string;
  whatToShow: string;
  /** Start of the window asked for (historical). */
  windowStart?: number;
  /** The symbol's first available bar. */
  head?: number;
  /** What the gateway answered: "bars" | error code. */
  answer?: string;
}

/** Counters tests assert on. */
export interface GatewayStats {
  connections: number;
  historicalRequests: number;
  headTimestampRequests: number;
  contractDetailsRequests: number;
  /** Requests that broke a pacing rule by the gateway's own counters. */
  pacingViolations: number;
  violations: string[];
  injected162: number;
  disconnects: number;
  /** Historical requests whose whole window lies before the symbol's first bar. */
  requestsBeforeHead: number;
  errorsSent: Record<number, number>;
  messagesSent: number;
  /** Requests left unanswered ({@linkcode GatewayFaults.neverAnswer}). */
  unanswered: number;
}

/** Bar sizes the gateway accepts and the longest duration for each (IB's table). */
const MAX_DURATION_S: Record<string, number> = {
  "1 secs": 1800,
  "5 secs": 3600,
  "10 secs": 14400,
  "15 secs": 14400,
  "30 secs": 28800,
  "1 min": 86400,
  "2 mins": 172800,
  "3 mins": 604800,
  "5 mins": 604800,
  "10 mins": 604800,
  "15 mins": 604800,
  "20 mins": 604800,
  "30 mins": 2678400,
  "1 hour": 2678400,
  "2 hours": 2678400,
  "3 hours": 2678400,
  "4 hours": 2678400,
  "8 hours": 2678400,
  "1 day": Infinity,
  "1 week": Infinity,
  "1 month": Infinity,
};
const BAR_SECONDS: Record<string, number> = {
  "1 secs": 1,
  "5 secs": 5,
  "10 secs": 10,
  "15 secs": 15,
  "30 secs": 30,
  "1 min": 60,
  "2 mins": 120,
  "3 mins": 180,
  "5 mins": 300,
  "10 mins": 600,
  "15 mins": 900,
  "20 mins": 1200,
  "30 mins": 1800,
  "1 hour": 3600,
  "2 hours": 7200,
  "3 hours": 10800,
  "4 hours": 14400,
  "8 hours": 28800,
  "1 day": 86400,
  "1 week": 604800,
  "1 month": 2592000,
};

interface Session {
  conn: Deno.Conn;
  clientId?: number;
  writing: Promise<void>;
  closed: boolean;
}

/**
 * The loopback gateway.
 * @example
 * ```ts
 * const gw = new LoopbackGateway({ dataDirs: ["../shared/data/daily_sp41"] });
 * const { port } = gw.start();
 * // ... ingest against 127.0.0.1:port ...
 * await gw.stop();
 * gw.stats.pacingViolations; // 0
 * ```
 */
export class LoopbackGateway {
  readonly stats: GatewayStats = {
    connections: 0,
    historicalRequests: 0,
    headTimestampRequests: 0,
    contractDetailsRequests: 0,
    pacingViolations: 0,
    violations: [],
    injected162: 0,
    disconnects: 0,
    requestsBeforeHead: 0,
    errorsSent: {},
    messagesSent: 0,
    unanswered: 0,
  };
  /** Every paced request, in arrival order. */
  readonly requests: GatewayRequest[] = [];
  /** Bars sent, by `SYMBOL|bar size` then time (the last values sent win). */
  readonly served = new Map<string, Map<number, GatewayBar>>();

  #o: LoopbackGatewayOptions;
  #rules: PacingRules;
  #clock: Clock;
  #csv: CsvBars;
  #listener?: Deno.Listener;
  #sessions = new Set<Session>();
  #history: { t: number; id: string; contract: string }[] = [];
  #open = 0;
  #disconnected = false;
  #pacingErrorsLeft: number;
  #accepting?: Promise<void>;
  #handlers = new Set<Promise<void>>();
  #desk: TradingDesk;
  #account: string;
  #autoTimer?: ReturnType<typeof setInterval>;

  /** @param options See {@linkcode LoopbackGatewayOptions}. */
  constructor(options: LoopbackGatewayOptions = {}) {
    this.#o = options;
    this.#rules = { ...IB_HISTORICAL_PACING, marginMs: 0, ...options.pacing };
    this.#clock = options.clock ?? systemClock;
    this.#csv = new CsvBars(options.dataDirs ?? []);
    this.#pacingErrorsLeft = options.faults?.pacingErrors ?? 0;
    this.#account = options.account ?? LOOPBACK_PAPER_ACCOUNT;
    const start = typeof options.marketStart === "string"
      ? Date.parse(`${options.marketStart}T00:00:00Z`)
      : options.marketStart ?? this.#clock.now();
    if (Number.isNaN(start)) {
      throw new RangeError(
        `LoopbackGateway: marketStart "${options.marketStart}" is not YYYY-MM-DD`,
      );
    }
    this.#desk = new TradingDesk(
      {
        account: this.#account,
        cash: options.cash ?? 1_000_000,
        slippageBps: options.slippageBps ?? 0,
        commission: {
          perShare: options.commission?.perShare ?? 0.005,
          min: options.commission?.min ?? 1,
          maxFraction: options.commission?.maxFraction ?? 0.01,
        },
        leverage: options.leverage ?? 1,
        fractional: options.fractional ?? false,
        faults: options.faults ?? {},
        barAt: (symbol, day) => this.#dailyBarAt(symbol, day),
        known: (symbol) => this.#known(symbol),
        conId: (symbol) => this.#conId(symbol),
        now: () => this.#clock.now(),
        sleep: (ms) => this.#clock.sleep(ms),
        log: (line) => this.#log(line),
      },
      {
        send: (clientId, fields) => {
          const s = this.#session(clientId);
          if (s) this.#write(s, frame(fields));
        },
        error: (clientId, id, code, message) => {
          const s = this.#session(clientId);
          if (s) this.#error(s, id, code, message);
        },
        drop: (clientId) => {
          const s = this.#session(clientId);
          if (s) {
            this.stats.disconnects++;
            this.#close(s);
          }
        },
        clients: () =>
          [...this.#sessions].flatMap((s) => s.clientId === undefined ? [] : [s.clientId]),
      },
      start,
    );
  }

  /** The account id the gateway reports. */
  get account(): string {
    return this.#account;
  }

  /** Order counters: received, accepted, rejected, cancels, fills, injected 103s and disconnects. */
  get trading(): TradingDesk["counts"] {
    return { ...this.#desk.counts };
  }

  /**
   * How many PLACE_ORDER messages carried this `orderRef` (accepted or not), over the
   * gateway's lifetime: the no-duplicate-order check.
   * @param ref The order reference.
   * @returns The count (0 when never seen).
   */
  orderRefCount(ref: string): number {
    return this.#desk.received.get(ref) ?? 0;
  }

  /** PLACE_ORDER messages received per orderRef over the gateway's lifetime. */
  refCounts(): Record<string, number> {
    return Object.fromEntries(this.#desk.received);
  }

  /** A snapshot of the account: cash, orders, executions, positions. */
  book(): GatewayBook {
    const d = this.#desk;
    return {
      account: this.#account,
      cash: d.cash,
      netLiquidation: d.netLiquidation(),
      marketDay: new Date(d.marketDay).toISOString().slice(0, 10),
      orders: [...d.orders.values()].map((o) => ({ ...o })),
      executions: d.executions.map((e) => ({ ...e })),
      positions: Object.fromEntries([...d.positions].map(([k, p]) => [k, { ...p }])),
    };
  }

  /**
   * Moves the market to the next weekday and fills the working orders placed before
   * (MKT at the day's open, MOC at its close, LMT when the bar reaches the limit, or
   * all at a quote set with {@linkcode LoopbackGateway.setQuote}).
   * @returns Resolves once the fills are sent.
   */
  advance(): Promise<void> {
    return this.#desk.tick();
  }

  /**
   * Sets the price orders of a symbol fill and are marked at, instead of bars.
   * @param symbol Ticker.
   * @param price The quote, or `undefined` to go back to bars.
   */
  setQuote(symbol: string, price: number | undefined): void {
    this.#desk.setQuote(symbol.toUpperCase(), price);
  }

  /**
   * The price the gateway marks a symbol at now (its quote, else the market day's close).
   * @param symbol Ticker.
   * @returns The price, or `undefined` for an unknown symbol or a day before its data.
   */
  markPrice(symbol: string): number | undefined {
    return this.#desk.mark(symbol.toUpperCase());
  }

  #session(clientId: number): Session | undefined {
    for (const s of this.#sessions) if (s.clientId === clientId && !s.closed) return s;
    return undefined;
  }

  #dailyBarAt(symbol: string, day: number): GatewayBar | undefined {
    const file = this.#csv.bars(symbol, "1 day", "TRADES");
    if (file) return file.findLast((b) => b.time <= day);
    if (this.#o.generate === false) return undefined;
    return generatedBars(symbol, 86_400, day - 7 * 86_400_000, day + 1).at(-1);
  }

  /** What the gateway serves, for `--help`-style printing. */
  describe(): string[] {
    const files = this.#csv.describe();
    return [
      `server version ${LOOPBACK_SERVER_VERSION}, account ${this.#account}, market day ${
        new Date(this.#desk.marketDay).toISOString().slice(0, 10)
      }`,
      files.length ? `${files.length} CSV series: ${files.join(", ")}` : "no CSV files",
      this.#o.generate === false
        ? "no generated bars"
        : "generated bars for any other symbol and bar size",
    ];
  }

  /**
   * Starts listening.
   * @returns The port.
   */
  start(): { port: number; hostname: string } {
    const hostname = this.#o.hostname ?? "127.0.0.1";
    this.#listener = Deno.listen({ hostname, port: this.#o.port ?? 0 });
    const port = (this.#listener.addr as Deno.NetAddr).port;
    this.#accepting = (async () => {
      try {
        for await (const conn of this.#listener!) {
          const h = this.#handle(conn).catch((e) =>
            this.#log(`session error: ${(e as Error).message}`)
          );
          this.#handlers.add(h);
          h.finally(() => this.#handlers.delete(h));
        }
      } catch { /* listener closed */ }
    })();
    if (this.#o.autoAdvanceMs) {
      this.#autoTimer = setInterval(() => void this.advance(), this.#o.autoAdvanceMs);
    }
    return { port, hostname };
  }

  /** Stops listening and closes every session. */
  async stop(): Promise<void> {
    clearInterval(this.#autoTimer);
    try {
      this.#listener?.close();
    } catch { /* closed */ }
    for (const s of this.#sessions) this.#close(s);
    await this.#accepting;
    await Promise.allSettled([...this.#handlers]);
  }

  /** Drops every open connection now (as if the gateway restarted). */
  dropConnections(): void {
    for (const s of this.#sessions) this.#close(s);
  }

  /**
   * The series the gateway serves for a symbol (before windowing), as the tests' ground truth.
   * @param symbol Ticker.
   * @param barSize IB bar size.
   * @param options Tick type and RTH filter, as in a request.
   * @returns Bars in `[from, to)`.
   */
  seriesFor(
    symbol: string,
    barSize: string,
    from: number,
    to: number,
    options: { whatToShow?: string; useRTH?: boolean } = {},
  ): GatewayBar[] {
    const head = this.#head(symbol, barSize, options.whatToShow ?? "TRADES");
    return this.#bars(
      symbol,
      barSize,
      options.whatToShow ?? "TRADES",
      options.useRTH ?? true,
      Math.max(from, head ?? from),
      to,
    );
  }

  #log(line: string) {
    this.#o.log?.(line);
  }

  #close(s: Session) {
    if (s.closed) return;
    s.closed = true;
    try {
      s.conn.close();
    } catch { /* closed */ }
    this.#sessions.delete(s);
    if (s.clientId !== undefined) this.#desk.clientGone(s.clientId);
  }

  async #handle(conn: Deno.Conn): Promise<void> {
    const s: Session = { conn, writing: Promise.resolve(), closed: false };
    this.#sessions.add(s);
    this.stats.connections++;
    const reader = new FrameReader();
    const buf = new Uint8Array(64 * 1024);
    let version = 0;
    try {
      for (;;) {
        const n = await conn.read(buf).catch(() => null);
        if (n === null || s.closed) break;
        reader.push(buf.subarray(0, n));
        if (!version) {
          const range = reader.handshake();
          if (!range) continue;
          if (range.max < LOOPBACK_SERVER_VERSION && range.max < 100) break;
          version = Math.min(LOOPBACK_SERVER_VERSION, range.max);
          // First message: server version and connection time, framed.
          this.#write(s, frame([version, connectionTime(this.#clock.now())]), false);
        }
        for (let msg = reader.next(); msg; msg = reader.next()) {
          this.#dispatch(s, msg);
          if (s.closed) break;
        }
      }
    } finally {
      this.#close(s);
    }
  }

  #write(s: Session, bytes: Uint8Array, counted = true): void {
    if (s.closed) return;
    if (counted) {
      const limit = this.#o.faults?.disconnectAfterMessages;
      if (limit !== undefined && !this.#disconnected && this.stats.messagesSent >= limit) {
        this.#disconnected = true;
        this.stats.disconnects++;
        this.#log(`fault: dropping the connection after ${limit} messages`);
        this.#close(s);
        return;
      }
      this.stats.messagesSent++;
    }
    s.writing = s.writing.then(async () => {
      let off = 0;
      while (off < bytes.length && !s.closed) off += await s.conn.write(bytes.subarray(off));
    }).catch(() => this.#close(s));
  }

  #error(s: Session, id: number, code: number, message: string): void {
    this.stats.errorsSent[code] = (this.stats.errorsSent[code] ?? 0) + 1;
    this.#write(s, frame([IN.ERR_MSG, 2, id, code, message, ""]));
  }

  #dispatch(s: Session, msg: string[]): void {
    const c = new FieldCursor(msg);
    const id = c.int();
    const request = id === OUT.REQ_CONTRACT_DATA || id === OUT.REQ_HEAD_TIMESTAMP ||
      id === OUT.REQ_HISTORICAL_DATA;
    if (request && this.#o.faults?.neverAnswer) {
      this.stats.unanswered++;
      this.#log(`fault: leaving message ${id} unanswered`);
      return;
    }
    switch (id) {
      case OUT.START_API: {
        c.int(); // version
        const clientId = c.int();
        for (const other of this.#sessions) {
          if (other !== s && other.clientId === clientId) {
            this.#error(
              s,
              -1,
              326,
              `Unable to connect as the client id is already in use. Retry with a unique client id.`,
            );
            void s.writing.then(() => this.#close(s)); // once the error is on the wire
            return;
          }
        }
        s.clientId = clientId;
        this.#write(s, frame([IN.MANAGED_ACCTS, 1, this.#account]));
        this.#write(s, frame([IN.NEXT_VALID_ID, 1, this.#desk.nextValidId()]));
        this.#error(s, -1, 2104, "Market data farm connection is OK:usfarm");
        this.#error(s, -1, 2106, "HMDS data farm connection is OK:ushmds");
        this.#error(s, -1, 2158, "Sec-def data farm connection is OK:secdefnj");
        return;
      }
      case OUT.REQ_CONTRACT_DATA:
        return this.#contractDetails(s, c);
      // Answered concurrently, like IB: a slow answer does not hold later requests.
      case OUT.REQ_HEAD_TIMESTAMP:
        this.#track(this.#headTimestamp(s, c, msg));
        return;
      case OUT.REQ_HISTORICAL_DATA:
        this.#track(this.#historical(s, c, msg));
        return;
      case OUT.CANCEL_HISTORICAL_DATA:
      case OUT.CANCEL_HEAD_TIMESTAMP:
        return;
    }
    if (s.clientId === undefined) return this.#log(`message ${id} before START_API ignored`);
    const desk = this.#desk, clientId = s.clientId;
    switch (id) {
      case OUT_ORDERS.PLACE_ORDER:
        return desk.place(clientId, c);
      case OUT_ORDERS.CANCEL_ORDER:
        return desk.cancel(clientId, c);
      case OUT_ORDERS.REQ_OPEN_ORDERS:
        return desk.openOrders(clientId, false);
      case OUT_ORDERS.REQ_ALL_OPEN_ORDERS:
        return desk.openOrders(clientId, true);
      case OUT_ORDERS.REQ_AUTO_OPEN_ORDERS:
        return;
      case OUT_ORDERS.REQ_IDS:
        return this.#write(s, frame([IN.NEXT_VALID_ID, 1, desk.nextValidId()]));
      case OUT_ORDERS.REQ_MANAGED_ACCTS:
        return this.#write(s, frame([IN_ORDERS.MANAGED_ACCTS, 1, this.#account]));
      case OUT_ORDERS.REQ_COMPLETED_ORDERS:
        return desk.completedOrders(clientId);
      case OUT_ORDERS.REQ_EXECUTIONS:
        return desk.executionsFor(clientId, c);
      case OUT_ORDERS.REQ_POSITIONS:
        return desk.positionsFor(clientId);
      case OUT_ORDERS.CANCEL_POSITIONS:
        return;
      case OUT_ORDERS.REQ_ACCOUNT_SUMMARY:
        return desk.accountSummary(clientId, c);
      case OUT_ORDERS.CANCEL_ACCOUNT_SUMMARY:
        return;
      case OUT_ORDERS.REQ_PNL:
        return desk.subscribePnl(clientId, c, false);
      case OUT_ORDERS.REQ_PNL_SINGLE:
        return desk.subscribePnl(clientId, c, true);
      case OUT_ORDERS.CANCEL_PNL:
      case OUT_ORDERS.CANCEL_PNL_SINGLE:
        return desk.unsubscribePnl(c);
      default:
        this.#log(`ignored message ${id}`);
    }
  }

  #track(p: Promise<void>): void {
    const h = p.catch((e) => this.#log(`request failed: ${(e as Error).message}`));
    this.#handlers.add(h);
    h.finally(() => this.#handlers.delete(h));
  }

  #primary(symbol: string): string {
    return this.#o.primaryExchanges?.[symbol] ?? "NASDAQ";
  }

  #conId(symbol: string): number {
    let h = 0;
    for (const ch of symbol) h = (h * 31 + ch.charCodeAt(0)) % 1_000_000;
    return 100_000 + h;
  }

  #known(symbol: string, barSize = "1 day"): boolean {
    return this.#o.generate !== false || this.#csv.bars(symbol, barSize, "TRADES") !== undefined ||
      this.#csv.symbols("1 day").includes(symbol) || this.#csv.symbols("1 hour").includes(symbol);
  }

  /** Resolves a requested contract like IB: `undefined` plus the error to send when it cannot. */
  #resolve(k: WireContract): { error?: [number, string] } {
    const faults = this.#o.faults ?? {};
    if (!this.#known(k.symbol)) {
      return { error: [200, "No security definition has been found for the request"] };
    }
    if (k.currency && k.currency !== "USD") {
      return { error: [200, "No security definition has been found for the request"] };
    }
    if (k.conId && k.conId !== this.#conId(k.symbol)) {
      return { error: [200, "No security definition has been found for the request"] };
    }
    if (k.primaryExch && k.primaryExch !== this.#primary(k.symbol)) {
      return { error: [200, "No security definition has been found for the request"] };
    }
    const pinned = k.conId || k.primaryExch;
    if (!pinned && faults.requirePrimaryExchange?.includes(k.symbol)) {
      return { error: [200, "No security definition has been found for the request"] };
    }
    if (!pinned && faults.ambiguous?.includes(k.symbol)) {
      return { error: [200, `The contract description specified for ${k.symbol} is ambiguous.`] };
    }
    return {};
  }

  #contractDetails(s: Session, c: FieldCursor): void {
    this.stats.contractDetailsRequests++;
    c.int(); // version 8
    const reqId = c.int();
    const k = readContract(c);
    const faults = this.#o.faults ?? {};
    const pinned = k.conId || k.primaryExch;
    const listings: { primary: string; conId: number }[] = [];
    const r = this.#resolve(k);
    if (!pinned && faults.ambiguous?.includes(k.symbol) && this.#known(k.symbol)) {
      listings.push({ primary: this.#primary(k.symbol), conId: this.#conId(k.symbol) });
      listings.push({ primary: "PINK", conId: this.#conId(k.symbol) + 5_000_000 });
    } else if (r.error) {
      this.#error(s, reqId, r.error[0], r.error[1]);
      return;
    } else {
      listings.push({ primary: this.#primary(k.symbol), conId: this.#conId(k.symbol) });
    }
    for (const l of listings) {
      this.#write(s, frame(contractDataFields(reqId, k.symbol, l.primary, l.conId)));
    }
    this.#write(s, frame([IN.CONTRACT_DATA_END, 1, reqId]));
  }

  /** Records a paced request on the gateway's own counters; returns a violation description or undefined. */
  #pace(
    msg: string[],
    reqId: number,
    k: WireContract,
    whatToShow: string,
    barSize?: string,
  ): string | undefined {
    const now = this.#clock.now();
    const r = this.#rules;
    // IB's window, identical and burst rules are for bars of 30 secs or less; head
    // timestamps (no bar size) and larger bars meet only the open-request cap.
    const small = barSize !== undefined && smallBarRulesApply(barSize);
    const identity = msg.filter((_, i) => i !== 1).join("|"); // everything but the request id
    const contract = `${k.symbol}@${k.exchange}/${whatToShow}`;
    const inWindow = this.#history.filter((h) => h.t > now - r.windowMs).length;
    const last = this.#history.findLast((h) => h.id === identity);
    const burst =
      this.#history.filter((h) => h.contract === contract && h.t > now - r.burstMs).length;
    let violation: string | undefined;
    if (small && inWindow >= r.maxInWindow) {
      violation = `${inWindow} requests in the last ${r.windowMs} ms`;
    } else if (small && last && now - last.t < r.identicalMs) {
      violation = `identical request after ${now - last.t} ms`;
    } else if (small && burst >= r.maxBurst) {
      violation = `${burst} requests for ${contract} in ${r.burstMs} ms`;
    } else if (this.#open >= r.maxOpen) violation = `${this.#open} requests open`;
    this.#history.push({ t: now, id: identity, contract });
    if (this.#history.length > 4096) this.#history.splice(0, 2048);
    if (violation) {
      this.stats.pacingViolations++;
      this.stats.violations.push(`reqId ${reqId} ${k.symbol}: ${violation}`);
      this.#log(`pacing violation: reqId ${reqId} ${k.symbol}: ${violation}`);
    }
    return violation;
  }

  #head(symbol: string, barSize: string, whatToShow: string): number | undefined {
    const listing = this.#o.faults?.listings?.[symbol];
    const listed = listing ? Date.parse(`${listing}T00:00:00Z`) : undefined;
    const file = this.#csv.bars(symbol, barSize, whatToShow) ??
      this.#csv.bars(symbol, "1 day", whatToShow);
    if (file?.length) return Math.max(file[0].time, listed ?? -Infinity);
    if (this.#o.generate === false) return undefined;
    return listed ?? Date.UTC(2000, 0, 3);
  }

  #bars(
    symbol: string,
    barSize: string,
    whatToShow: string,
    rth: boolean,
    from: number,
    to: number,
  ): GatewayBar[] {
    const file = this.#csv.bars(symbol, barSize, whatToShow);
    let bars: GatewayBar[];
    if (file) bars = file.filter((b) => b.time >= from && b.time < to);
    else if (this.#o.generate === false) bars = [];
    else bars = generatedBars(symbol, BAR_SECONDS[barSize], from, to);
    const daily = BAR_SECONDS[barSize] >= 86_400;
    return rth && !daily ? bars.filter((b) => isRegularSession(b.time)) : bars;
  }

  async #headTimestamp(s: Session, c: FieldCursor, msg: string[]): Promise<void> {
    this.stats.headTimestampRequests++;
    const reqId = c.int();
    const k = readContract(c);
    c.str(); // useRTH
    const whatToShow = c.str();
    const formatDate = c.int();
    const req: GatewayRequest = {
      kind: "head",
      time: this.#clock.now(),
      symbol: k.symbol,
      exchange: k.exchange,
      primaryExch: k.primaryExch,
      conId: k.conId,
      whatToShow,
    };
    this.requests.push(req);
    const violation = this.#pace(msg, reqId, k, whatToShow);
    this.#open++;
    try {
      if (this.#o.faults?.answerDelayMs) await this.#clock.sleep(this.#o.faults.answerDelayMs);
      if (violation && this.#o.enforcePacing !== false) {
        req.answer = "162";
        return this.#error(
          s,
          reqId,
          162,
          "Historical Market Data Service error message:Historical data request pacing violation",
        );
      }
      const r = this.#resolve(k);
      if (r.error) {
        req.answer = String(r.error[0]);
        return this.#error(s, reqId, r.error[0], r.error[1]);
      }
      const head = this.#head(k.symbol, "1 day", whatToShow);
      if (head === undefined) {
        req.answer = "162";
        return this.#error(
          s,
          reqId,
          162,
          "Historical Market Data Service error message:HMDS query returned no data",
        );
      }
      req.head = head;
      req.answer = "head";
      this.#write(
        s,
        frame([
          IN.HEAD_TIMESTAMP,
          reqId,
          formatDate === 2 ? String(Math.floor(head / 1000)) : ibUtc(head),
        ]),
      );
    } finally {
      this.#open--;
    }
  }

  async #historical(s: Session, c: FieldCursor, msg: string[]): Promise<void> {
    this.stats.historicalRequests++;
    const reqId = c.int();
    const k = readContract(c);
    const endDateTime = c.str();
    const barSize = c.str();
    const duration = c.str();
    const useRTH = c.int() === 1;
    const whatToShow = c.str();
    const formatDate = c.int();
    const keepUpToDate = c.int() === 1;
    const req: GatewayRequest = {
      kind: "historical",
      time: this.#clock.now(),
      symbol: k.symbol,
      exchange: k.exchange,
      primaryExch: k.primaryExch,
      conId: k.conId,
      barSize,
      duration,
      endDateTime,
      whatToShow,
    };
    this.requests.push(req);
    const violation = this.#pace(msg, reqId, k, whatToShow, barSize);
    this.#open++;
    try {
      if (this.#o.faults?.answerDelayMs) await this.#clock.sleep(this.#o.faults.answerDelayMs);
      if (s.closed) return;
      if (violation && this.#o.enforcePacing !== false) {
        req.answer = "162";
        return this.#error(
          s,
          reqId,
          162,
          "Historical Market Data Service error message:Historical data request pacing violation",
        );
      }
      if (this.#pacingErrorsLeft > 0) {
        this.#pacingErrorsLeft--;
        this.stats.injected162++;
        req.answer = "162";
        this.#log(`fault: answering reqId ${reqId} with 162`);
        return this.#error(
          s,
          reqId,
          162,
          "Historical Market Data Service error message:Historical data request pacing violation",
        );
      }
      if (keepUpToDate) {
        return this.#error(
          s,
          reqId,
          321,
          "Error validating request.-'bP' : cause - keepUpToDate is not served here",
        );
      }
      if (!(barSize in MAX_DURATION_S)) {
        req.answer = "321";
        return this.#error(
          s,
          reqId,
          321,
          `Error validating request.-'bP' : cause - Invalid bar size: ${barSize}`,
        );
      }
      const end = endDateTime === "" ? this.#clock.now() : parseEndDateTime(endDateTime);
      const dur = /^(\d+) ([SDWMY])$/.exec(duration);
      if (end === undefined || !dur) {
        req.answer = "321";
        return this.#error(
          s,
          reqId,
          321,
          `Error validating request.-'bP' : cause - bad end "${endDateTime}" or duration "${duration}"`,
        );
      }
      const n = Number(dur[1]), u = dur[2];
      if (u === "D" && n > 365) {
        req.answer = "321";
        return this.#error(
          s,
          reqId,
          321,
          "Error validating request.-'bP' : cause - Historical data requests for durations longer than 365 days must be made in years.",
        );
      }
      if (u === "S" && n > 86400) {
        req.answer = "321";
        return this.#error(
          s,
          reqId,
          321,
          "Error validating request.-'bP' : cause - Historical data requests for durations longer than 86400 seconds must be made in days.",
        );
      }
      const start = u === "Y"
        ? yearsBefore(end, n)
        : end - n * ({ S: 1, D: 86400, W: 604800, M: 2678400 }[u]!) * 1000;
      if ((end - start) / 1000 > MAX_DURATION_S[barSize] + 1) {
        req.answer = "162";
        return this.#error(
          s,
          reqId,
          162,
          "Historical Market Data Service error message:Time length exceed max.",
        );
      }
      const r = this.#resolve(k);
      if (r.error) {
        req.answer = String(r.error[0]);
        return this.#error(s, reqId, r.error[0], r.error[1]);
      }
      const head = this.#head(k.symbol, barSize, whatToShow);
      req.windowStart = start;
      req.head = head;
      if (head !== undefined && end < head) this.stats.requestsBeforeHead++;
      // Window (start, end]: a daily bar belongs to its date.
      const bars = head === undefined
        ? []
        : this.#bars(k.symbol, barSize, whatToShow, useRTH, Math.max(start + 1, head), end + 1);
      if (!bars.length) {
        req.answer = "162";
        return this.#error(
          s,
          reqId,
          162,
          `Historical Market Data Service error message:HMDS query returned no data: ${k.symbol}@${k.exchange} ${whatToShow}`,
        );
      }
      const daily = BAR_SECONDS[barSize] >= 86_400;
      const key = `${k.symbol}|${barSize}`;
      const served = this.served.get(key) ?? new Map<number, GatewayBar>();
      this.served.set(key, served);
      const fields: (string | number)[] = [
        IN.HISTORICAL_DATA,
        reqId,
        ibUtc(start),
        ibUtc(end),
        bars.length,
      ];
      for (const b of bars) {
        served.set(b.time, b);
        const date = daily
          ? ymd(b.time)
          : formatDate === 2
          ? String(Math.floor(b.time / 1000))
          : `${ibUtc(b.time).replace("-", " ")} UTC`;
        const wap = (b.open + b.high + b.low + b.close) / 4;
        fields.push(date, b.open, b.high, b.low, b.close, b.volume, Number(wap.toFixed(4)), 1);
      }
      req.answer = "bars";
      this.#write(s, frame(fields));
    } finally {
      this.#open--;
    }
  }
}

/** CONTRACT_DATA fields for server version 176 (the order `@stoqey/ib`'s decoder reads). */
function contractDataFields(
  reqId: number,
  symbol: string,
  primary: string,
  conId: number,
): (string | number)[] {
  return [
    IN.CONTRACT_DATA,
    reqId,
    symbol,
    "STK",
    "", // lastTradeDateOrContractMonth
    0, // strike
    "", // right
    "SMART",
    "USD",
    symbol, // localSymbol
    "NMS", // marketName
    symbol, // tradingClass
    conId,
    0.01, // minTick
    "", // multiplier
    "ACTIVETIM,AD,ADJUST,ALERT,ALGO,ALLOC,AVGCOST,BASKET,LMT,MKT,STP", // orderTypes
    `SMART,${primary},ARCA,BATS,IEX`, // validExchanges
    1, // priceMagnifier
    0, // underConId
    `${symbol} INC`, // longName
    primary, // primaryExch
    "", // contractMonth
    "Technology", // industry
    "Computers", // category
    "Computers", // subcategory
    "US/Eastern", // timeZoneId
    "20250101:0400-20250101:2000", // tradingHours
    "20250101:0930-20250101:1600", // liquidHours
    "", // evRule
    "", // evMultiplier
    0, // secIdList count
    1, // aggGroup
    "", // underSymbol
    "", // underSecType
    "26,26,26,26,26", // marketRuleIds
    "", // realExpirationDate
    "COMMON", // stockType
    "0.0001", // minSize
    "0.0001", // sizeIncrement
    "100", // suggestedSizeIncrement
  ];
}

function p2(n: number): string {
  return String(n).padStart(2, "0");
}

function ymd(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}${p2(d.getUTCMonth() + 1)}${p2(d.getUTCDate())}`;
}

/** `yyyyMMdd-HH:mm:ss` in UTC. */
function ibUtc(ms: number): string {
  const d = new Date(ms);
  return `${ymd(ms)}-${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`;
}

function connectionTime(ms: number): string {
  return `${ibUtc(ms).replace("-", " ")} UTC`;
}

/** Accepts `yyyyMMdd-HH:mm:ss` (UTC) and `yyyyMMdd HH:mm:ss UTC`. */
function parseEndDateTime(s: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(?:-| )(\d{2}):(\d{2}):(\d{2})(?: (UTC|GMT))?$/.exec(s.trim());
  if (!m) return undefined;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
}

function yearsBefore(ms: number, n: number): number {
  const d = new Date(ms);
  d.setUTCFullYear(d.getUTCFullYear() - n);
  return d.getTime();
}
