/**
 * {@linkcode Broker} on Interactive Brokers through `@stoqey/ib`: `placeOrder` /
 * `cancelOrder` with ids from `nextValidId`, `reqAllOpenOrders`, `reqExecutions` with
 * commission reports, `reqPositions` with `reqPnLSingle` marks, `reqAccountSummary`
 * with `reqPnL`; market, limit, market-on-open (MKT, tif OPG) and market-on-close
 * orders. Every order carries `orderRef = request.ref`; on connect the broker learns
 * the orders and executions the account already has by their `orderRef`, so a ref sent
 * before a crash is recognised and never sent again.
 *
 * **Live accounts are refused** unless asked for: when IB reports a live account (see
 * {@linkcode isLiveAccount}) the broker is only created with `{ live: true, account }`
 * and `account` equal to the reported id; a given `account` that IB does not report is
 * refused too.
 *
 * One broker is one connection. After a drop it emits `{ type: "connection",
 * connected: false }` and every call fails with {@linkcode ConnectionLostError}; make a
 * new one with {@linkcode IbkrBroker.connect} (it relearns the book).
 *
 * @module
 */
import {
  type CommissionReport,
  type Contract,
  EventName,
  type Execution,
  IBApi,
  type Order,
  OrderAction,
  type OrderState as IbOrderState,
  OrderType as IbOrderType,
  SecType,
} from "@stoqey/ib";
import {
  ConnectionLostError,
  IbError,
  parseIbTime,
  RequestTimeoutError,
} from "../data/ibkr/mod.ts";
import {
  type AccountSnapshot,
  type Broker,
  type BrokerEvent,
  type BrokerListener,
  type BrokerPosition,
  type Fill,
  isLiveAccount,
  ORDER_TYPES,
  type OrderRequest,
  type OrderSide,
  type OrderState,
  type OrderStatus,
  type OrderType,
  TERMINAL_STATUSES,
} from "./broker.ts";

/** Where and how to connect, and which account is allowed. */
export interface IbkrBrokerOptions {
  /** TWS / IB Gateway host. Default `127.0.0.1`. */
  host?: string;
  /** API port: 4002 / 7497 paper, 4001 / 7496 live (or the loopback gateway's). */
  port: number;
  /** API client id; use the same one across reconnects. Default 1. */
  clientId?: number;
  /** Allow a live (real-money) account; requires `account` to equal the reported id. */
  live?: boolean;
  /** The account to trade; must be one IB reports (and is required for a live account). */
  account?: string;
  /** Whether fractional quantities are sent. Default false. */
  fractional?: boolean;
  /** Real ms to wait for the handshake and the first book. Default 10 000. */
  connectTimeoutMs?: number;
  /** Real ms to wait for any one answer (acknowledgement, open orders, positions …). Default 10 000. */
  requestTimeoutMs?: number;
  /** Primary exchange per symbol, sent with each contract (SMART routing either way). */
  primaryExchanges?: Record<string, string>;
}

/** IB reported a live account and the options did not allow it (or named another account). */
export class LiveAccountRefusedError extends Error {
  /** `"LiveAccountRefusedError"`. */
  override name = "LiveAccountRefusedError";
}

/** Codes IB sends with reqId -1 that mean the connection is unusable. */
const CONNECTION_CODES = new Set([326, 502, 504, 1100, 1300]);
/** Real ms to wait for a P&L answer before reporting NaN. */
const PNL_TIMEOUT_MS = 3_000;
/** Order errors that mean IB did not accept the order. */
const ORDER_REJECT_CODES = new Set([103, 110, 200, 201, 203, 321, 387, 10243]);

interface AckWaiter {
  resolve: (s: OrderState) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
  /** Settles when this returns true for the state after an update. */
  done: (s: OrderState) => boolean;
}

interface Track {
  state: OrderState;
  /** The first IB status message (or a rejection) has been seen. */
  acked: boolean;
  rejection?: { code: number; message: string };
  /** Learned from IB's completed orders on connect: id and average price come from executions. */
  completed?: boolean;
}

/**
 * An IBKR account behind the {@linkcode Broker} contract.
 * @example
 * ```ts
 * const broker = await IbkrBroker.connect({ port: 4002 }); // a paper account
 * const order = await broker.submit({ ref: "tt:7:201801020000:AAPL", symbol: "AAPL", side: "BUY", quantity: 10, type: "MOO" });
 * await broker.close();
 * ```
 */
export class IbkrBroker implements Broker {
  readonly kind = "ibkr" as const;
  readonly fractional: boolean;
  #accountId = "";
  #o: Required<Omit<IbkrBrokerOptions, "account" | "primaryExchanges">> & {
    account?: string;
    primaryExchanges: Record<string, string>;
  };
  #api: IBApi;
  #where: string;
  #connected = false;
  #closed = false;
  #lostWhy = "";
  #nextId = 0;
  /** Request ids live far above order ids: IB's error messages share one id field. */
  #nextReqId = 1_000_000_000;
  #listeners = new Set<BrokerListener>();
  #tracks = new Map<string, Track>();
  #byId = new Map<number, string>();
  #fills = new Map<string, Fill>();
  #inflight = new Map<string, Promise<OrderState>>();
  #acks = new Map<number, AckWaiter[]>();
  #requests = new Map<number, { fail: (e: Error) => void }>();
  #serial: Promise<unknown> = Promise.resolve();
  #idWaiters: ((id: number) => void)[] = [];
  /** Messages IB sent that belong to no request (farm status, decoding problems …), newest last. */
  readonly notices: { code: number; message: string }[] = [];

  private constructor(options: IbkrBrokerOptions) {
    this.#o = {
      host: options.host ?? "127.0.0.1",
      port: options.port,
      clientId: options.clientId ?? 1,
      live: options.live ?? false,
      account: options.account,
      fractional: options.fractional ?? false,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      primaryExchanges: options.primaryExchanges ?? {},
    };
    this.fractional = this.#o.fractional;
    this.#where = `IB at ${this.#o.host}:${this.#o.port} (client ${this.#o.clientId})`;
    this.#api = new IBApi({ host: this.#o.host, port: this.#o.port, clientId: this.#o.clientId });
    this.#wire();
  }

  /**
   * Connects, checks the account (live accounts refused unless allowed) and learns the
   * account's open orders and executions by `orderRef`.
   * @param options See {@linkcode IbkrBrokerOptions}.
   * @returns A connected broker.
   * @throws LiveAccountRefusedError for a live account without `{ live: true, account }`
   *   or an `account` IB does not report; ConnectionLostError when IB cannot be reached
   *   or does not answer within `connectTimeoutMs`.
   * @example
   * ```ts
   * const broker = await IbkrBroker.connect({ port: 4001, live: true, account: "U1234567" });
   * ```
   */
  static async connect(options: IbkrBrokerOptions): Promise<IbkrBroker> {
    if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) {
      throw new RangeError(`IbkrBroker: port must be 1..65535, got ${options.port}`);
    }
    if (options.live && !options.account) {
      throw new LiveAccountRefusedError(
        "IbkrBroker: live trading needs the account id too (--live --account U…), so the wrong account is never traded",
      );
    }
    const b = new IbkrBroker(options);
    try {
      const accounts = await b.#handshake();
      b.#accountId = b.#chooseAccount(accounts);
      await b.#syncBook();
    } catch (e) {
      b.#closed = true;
      b.#connected = false;
      try {
        b.#api.disconnect();
      } catch { /* closed */ }
      throw e;
    }
    return b;
  }

  /** The account orders go to. */
  get accountId(): string {
    return this.#accountId;
  }

  /** True for a real-money account. */
  get live(): boolean {
    return isLiveAccount(this.#accountId);
  }

  /** True until the connection drops or {@linkcode IbkrBroker.close}. */
  get connected(): boolean {
    return this.#connected;
  }

  /**
   * Sends an order unless its ref is known; resolves on IB's acknowledgement.
   * @param order The request (`ref` becomes IB's `orderRef`).
   * @returns The order's state (`submitted`, or already `filled` / `rejected`).
   * @example
   * ```ts
   * await broker.submit({ ref: "tt:7:201801020000:MSFT", symbol: "MSFT", side: "SELL", quantity: 5, type: "LMT", limitPrice: 90 });
   * ```
   */
  submit(order: OrderRequest): Promise<OrderState> {
    try {
      this.#validate(order);
    } catch (e) {
      return Promise.reject(e);
    }
    const known = this.#tracks.get(order.ref);
    if (known) return Promise.resolve(copy(known.state));
    const pending = this.#inflight.get(order.ref);
    if (pending) return pending.then(copy);
    if (!this.#connected) return Promise.reject(this.#notConnected(`submit ${order.ref}`));
    const p = this.#place({ ...order }).finally(() => this.#inflight.delete(order.ref));
    this.#inflight.set(order.ref, p);
    return p.then(copy);
  }

  /**
   * Cancels a working order by ref.
   * @param ref The order's ref.
   * @returns Its final state (`cancelled`, or `filled` if it filled first).
   * @example
   * ```ts
   * await broker.cancel("tt:7:201801020000:MSFT");
   * ```
   */
  async cancel(ref: string): Promise<OrderState> {
    const pending = this.#inflight.get(ref);
    if (pending) await pending.catch(() => undefined);
    const t = this.#tracks.get(ref);
    if (!t) throw new Error(`IbkrBroker.cancel: no order with ref "${ref}" at ${this.#where}`);
    if (TERMINAL_STATUSES.has(t.state.status)) return copy(t.state);
    if (!this.#connected) throw this.#notConnected(`cancel ${ref}`);
    const id = t.state.brokerOrderId;
    const done = this.#waitAck(id, `cancel ${ref}`, (s) => TERMINAL_STATUSES.has(s.status));
    this.#api.cancelOrder(id);
    return copy(await done);
  }

  /**
   * Orders that are not terminal, after asking IB for every open order of the account.
   * @returns Working orders, by broker order id.
   * @example
   * ```ts
   * for (const o of await broker.openOrders()) console.log(o.ref, o.status, o.remaining);
   * ```
   */
  async openOrders(): Promise<OrderState[]> {
    await this.#syncOpenOrders();
    return [...this.#tracks.values()].map((t) => t.state)
      .filter((s) => !TERMINAL_STATUSES.has(s.status))
      .sort((a, b) => a.brokerOrderId - b.brokerOrderId).map(copy);
  }

  /**
   * An order by ref, from this session or learned from IB on connect.
   * @param ref The ref.
   * @returns Its state, or `undefined` when unknown.
   * @example
   * ```ts
   * (await broker.order("tt:7:201801020000:AAPL"))?.status; // "filled"
   * ```
   */
  order(ref: string): Promise<OrderState | undefined> {
    const t = this.#tracks.get(ref);
    return Promise.resolve(t ? copy(t.state) : undefined);
  }

  /**
   * Current positions (`reqPositions`), marked with `reqPnLSingle` (value, unrealized and realized P&L).
   * @returns Non-zero positions, by symbol.
   * @example
   * ```ts
   * const book = await broker.positions(); // [{ symbol: "AAPL", quantity: 10, avgCost: 171.2, … }]
   * ```
   */
  positions(): Promise<BrokerPosition[]> {
    return this.#exclusive(async () => {
      const raw = await this.#collect<{ symbol: string; conId: number; qty: number; cost: number }>(
        "positions",
        (push, end) => {
          const onPos = (account: string, c: Contract, pos?: number, avgCost?: number) => {
            if (account === this.#accountId && pos) {
              push({ symbol: c.symbol ?? "", conId: c.conId ?? 0, qty: pos, cost: avgCost ?? NaN });
            }
          };
          const onEnd = () => end();
          this.#api.on(EventName.position, onPos).on(EventName.positionEnd, onEnd);
          this.#api.reqPositions();
          return () => {
            this.#api.off(EventName.position, onPos).off(EventName.positionEnd, onEnd);
            this.#api.cancelPositions();
          };
        },
      );
      const out: BrokerPosition[] = [];
      for (const r of raw) {
        const pnl = await this.#pnlSingle(r.conId, r.symbol);
        out.push({
          symbol: r.symbol,
          quantity: r.qty,
          avgCost: r.cost,
          marketPrice: pnl ? pnl.value / r.qty : NaN,
          marketValue: pnl?.value ?? NaN,
          unrealizedPnl: pnl?.unrealized ?? NaN,
          realizedPnl: pnl?.realized ?? NaN,
        });
      }
      return out.sort((a, b) => a.symbol.localeCompare(b.symbol));
    });
  }

  /**
   * Account values (`reqAccountSummary`) and the day's P&L (`reqPnL`).
   * @returns The snapshot.
   * @example
   * ```ts
   * const { netLiquidation, cash } = await broker.account();
   * ```
   */
  account(): Promise<AccountSnapshot> {
    return this.#exclusive(async () => {
      const reqId = this.#nextReqId++;
      const tags = "NetLiquidation,TotalCashValue,GrossPositionValue,BuyingPower," +
        "RealizedPnL,UnrealizedPnL";
      const rows = await this.#collect<{ tag: string; value: string; currency: string }>(
        "account summary",
        (push, end) => {
          const onRow = (id: number, account: string, tag: string, value: string, cur: string) => {
            if (id === reqId && account === this.#accountId) push({ tag, value, currency: cur });
          };
          const onEnd = (id: number) => id === reqId && end();
          this.#api.on(EventName.accountSummary, onRow).on(EventName.accountSummaryEnd, onEnd);
          this.#api.reqAccountSummary(reqId, "All", tags);
          return () => {
            this.#api.off(EventName.accountSummary, onRow).off(EventName.accountSummaryEnd, onEnd);
            this.#api.cancelAccountSummary(reqId);
          };
        },
        reqId,
      );
      const v = (tag: string) => {
        const r = rows.find((x) => x.tag === tag);
        return r ? Number(r.value) : NaN;
      };
      const pnl = await this.#pnl();
      return {
        accountId: this.#accountId,
        currency: rows.find((r) => r.tag === "NetLiquidation")?.currency || "USD",
        netLiquidation: v("NetLiquidation"),
        cash: v("TotalCashValue"),
        grossPositionValue: v("GrossPositionValue"),
        buyingPower: v("BuyingPower"),
        realizedPnl: pnl?.realized ?? v("RealizedPnL"),
        unrealizedPnl: pnl?.unrealized ?? v("UnrealizedPnL"),
        dailyPnl: pnl?.daily ?? NaN,
        time: Date.now(),
      };
    });
  }

  /**
   * Executions of the account (`reqExecutions`), with commissions once IB reports them.
   * @param since Only executions at or after this time (epoch ms).
   * @returns Oldest first.
   * @example
   * ```ts
   * const fills = await broker.executions(Date.UTC(2025, 0, 2));
   * ```
   */
  async executions(since?: number): Promise<Fill[]> {
    await this.#syncExecutions(since);
    return [...this.#fills.values()].filter((f) => since === undefined || f.time >= since)
      .sort((a, b) => a.time - b.time || a.execId.localeCompare(b.execId)).map((f) => ({ ...f }));
  }

  /**
   * Subscribes to order, fill, commission, error and connection events.
   * @param listener Called for each event, in arrival order.
   * @returns Unsubscribe.
   * @example
   * ```ts
   * const off = broker.on((e) => e.type === "fill" && console.log(e.fill));
   * ```
   */
  on(listener: BrokerListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Disconnects. Idempotent.
   * @example
   * ```ts
   * await broker.close();
   * ```
   */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#lost("closed by the client");
    try {
      this.#api.disconnect();
    } catch { /* closed */ }
    return Promise.resolve();
  }

  // ---- internals ----

  #emit(e: BrokerEvent): void {
    for (const l of [...this.#listeners]) {
      try {
        l(e);
      } catch { /* a listener's error is its own */ }
    }
  }

  #notice(code: number, message: string): void {
    this.notices.push({ code, message });
    if (this.notices.length > 200) this.notices.splice(0, 100);
  }

  #notConnected(what: string): ConnectionLostError {
    return new ConnectionLostError(
      `${what}: not connected to ${this.#where}${this.#lostWhy ? ` (${this.#lostWhy})` : ""}; ` +
        "connect a new IbkrBroker to continue (it relearns open orders and executions)",
    );
  }

  #validate(o: OrderRequest): void {
    const where = `IbkrBroker.submit(${JSON.stringify(o.ref)})`;
    if (typeof o.ref !== "string" || !o.ref.trim() || !/^[\x20-\x7e]+$/.test(o.ref)) {
      throw new TypeError(`${where}: ref must be non-empty printable ASCII`);
    }
    if (!o.symbol?.trim()) throw new TypeError(`${where}: symbol is empty`);
    if (o.side !== "BUY" && o.side !== "SELL") {
      throw new TypeError(`${where}: side must be BUY or SELL, got ${o.side}`);
    }
    if (!ORDER_TYPES.includes(o.type)) {
      throw new TypeError(`${where}: type must be one of ${ORDER_TYPES.join(", ")}, got ${o.type}`);
    }
    if (!(o.quantity > 0) || !Number.isFinite(o.quantity)) {
      throw new RangeError(`${where}: quantity must be positive, got ${o.quantity}`);
    }
    if (!this.fractional && !Number.isInteger(o.quantity)) {
      throw new RangeError(
        `${where}: quantity ${o.quantity} is fractional; this broker sends whole shares`,
      );
    }
    if (o.type === "LMT" && !(Number(o.limitPrice) > 0)) {
      throw new RangeError(`${where}: a LMT order needs a positive limitPrice`);
    }
  }

  #handshake(): Promise<string[]> {
    const { connectTimeoutMs } = this.#o;
    return new Promise<string[]>((resolve, reject) => {
      let accounts: string[] | undefined;
      let id: number | undefined;
      const api = this.#api;
      const finish = (e?: Error) => {
        clearTimeout(timer);
        api.off(EventName.managedAccounts, onAccounts).off(EventName.nextValidId, onId)
          .off(EventName.error, onError).off(EventName.info, onInfo)
          .off(EventName.disconnected, onDrop);
        if (e) return reject(e);
        this.#connected = true;
        this.#nextId = id!;
        resolve(accounts!);
      };
      const check = () => accounts && id !== undefined && finish();
      const onAccounts = (list: string) => {
        accounts = list.split(",").map((a) => a.trim()).filter(Boolean);
        check();
      };
      const onId = (n: number) => {
        id = n;
        check();
      };
      const fail = (message: string, code: number) =>
        finish(
          new ConnectionLostError(`Cannot connect to ${this.#where}: ${message} (code ${code})`),
        );
      const onError = (err: Error, code: number, reqId: number) => {
        if ((reqId === -1 || reqId === undefined) && (CONNECTION_CODES.has(code) || code === 502)) {
          fail(err.message, code);
        }
      };
      const onInfo = (message: string, code: number) =>
        CONNECTION_CODES.has(code) && fail(message, code);
      const onDrop = () =>
        finish(
          new ConnectionLostError(
            `Cannot connect to ${this.#where}: connection closed during the handshake`,
          ),
        );
      const timer = setTimeout(
        () =>
          finish(
            new ConnectionLostError(
              `Cannot connect to ${this.#where}: no managed account and next order id within ${connectTimeoutMs} ms`,
            ),
          ),
        connectTimeoutMs,
      );
      api.on(EventName.managedAccounts, onAccounts).on(EventName.nextValidId, onId)
        .on(EventName.error, onError).on(EventName.info, onInfo)
        .on(EventName.disconnected, onDrop);
      api.connect();
    });
  }

  #chooseAccount(accounts: string[]): string {
    const want = this.#o.account?.trim();
    const reported = accounts.join(", ") || "none";
    if (want && !accounts.includes(want)) {
      throw new LiveAccountRefusedError(
        `IbkrBroker: account ${want} was asked for but ${this.#where} manages ${reported}; refusing to trade`,
      );
    }
    const chosen = want ?? (accounts.length === 1 ? accounts[0] : undefined);
    if (!chosen) {
      throw new LiveAccountRefusedError(
        `IbkrBroker: ${this.#where} manages ${reported}; say which one with --account`,
      );
    }
    if (isLiveAccount(chosen) && !(this.#o.live && want === chosen)) {
      throw new LiveAccountRefusedError(
        `IbkrBroker: ${chosen} at ${this.#where} is a LIVE (real-money) account; refusing to trade it ` +
          `without --live --account ${chosen}`,
      );
    }
    return chosen;
  }

  async #syncBook(): Promise<void> {
    await this.#syncOpenOrders();
    await this.#exclusive(() =>
      this.#collect<never>("completed orders", (_push, end) => {
        const onEnd = () => end();
        this.#api.on(EventName.completedOrdersEnd, onEnd);
        this.#api.reqCompletedOrders(true);
        return () => this.#api.off(EventName.completedOrdersEnd, onEnd);
      })
    );
    await this.#syncExecutions();
  }

  #syncOpenOrders(): Promise<void> {
    return this.#exclusive(async () => {
      await this.#collect<never>("open orders", (_push, end) => {
        const onEnd = () => end();
        this.#api.on(EventName.openOrderEnd, onEnd);
        this.#api.reqAllOpenOrders();
        return () => this.#api.off(EventName.openOrderEnd, onEnd);
      });
    });
  }

  #syncExecutions(since?: number): Promise<void> {
    return this.#exclusive(async () => {
      const reqId = this.#nextReqId++;
      await this.#collect<never>("executions", (_push, end) => {
        const onEnd = (id: number) => id === reqId && end();
        this.#api.on(EventName.execDetailsEnd, onEnd);
        this.#api.reqExecutions(reqId, {
          acctCode: this.#accountId,
          time: since === undefined ? undefined : ibFilterTime(since),
        });
        return () => this.#api.off(EventName.execDetailsEnd, onEnd);
      }, reqId);
    });
  }

  async #pnl(): Promise<{ daily: number; unrealized: number; realized: number } | undefined> {
    const reqId = this.#nextReqId++;
    const got = await this.#collect<{ daily: number; unrealized: number; realized: number }>(
      "P&L",
      (push, end) => {
        const on = (id: number, daily: number, unrealized?: number, realized?: number) => {
          if (id !== reqId) return;
          push({ daily, unrealized: unrealized ?? NaN, realized: realized ?? NaN });
          end();
        };
        this.#api.on(EventName.pnl, on);
        this.#api.reqPnL(reqId, this.#accountId, "");
        return () => {
          this.#api.off(EventName.pnl, on);
          this.#api.cancelPnL(reqId);
        };
      },
      reqId,
      PNL_TIMEOUT_MS,
    ).catch((e) => this.#optional(e));
    return got[0];
  }

  async #pnlSingle(
    conId: number,
    symbol: string,
  ): Promise<{ value: number; unrealized: number; realized: number } | undefined> {
    if (!conId) return undefined;
    const reqId = this.#nextReqId++;
    const got = await this.#collect<{ value: number; unrealized: number; realized: number }>(
      `P&L of ${symbol}`,
      (push, end) => {
        const on = (
          id: number,
          _pos?: number,
          _daily?: number,
          unrealized?: number,
          realized?: number,
          value?: number,
        ) => {
          if (id !== reqId) return;
          push({ value: value ?? NaN, unrealized: unrealized ?? NaN, realized: realized ?? NaN });
          end();
        };
        this.#api.on(EventName.pnlSingle, on);
        this.#api.reqPnLSingle(reqId, this.#accountId, "", conId);
        return () => {
          this.#api.off(EventName.pnlSingle, on);
          this.#api.cancelPnLSingle(reqId);
        };
      },
      reqId,
      PNL_TIMEOUT_MS,
    ).catch((e) => this.#optional(e));
    return got[0];
  }

  /** P&L is a nicety: a slow or refused P&L request leaves NaN (noted), a lost connection still fails. */
  #optional(e: unknown): never[] {
    if (e instanceof ConnectionLostError) throw e;
    this.#notice(0, `P&L unavailable: ${(e as Error).message}`);
    return [];
  }

  /** Runs one request-with-an-end at a time (IB's open-order and position ends carry no id). */
  #exclusive<T>(f: () => Promise<T>): Promise<T> {
    const run = this.#serial.then(f, f);
    this.#serial = run.catch(() => undefined);
    return run;
  }

  /**
   * Sends a request and collects what it answers until its end (or a timeout / drop /
   * an IB error for its reqId).
   */
  #collect<T>(
    label: string,
    start: (push: (x: T) => void, end: () => void) => () => void,
    reqId?: number,
    timeoutMs = this.#o.requestTimeoutMs,
  ): Promise<T[]> {
    if (!this.#connected) return Promise.reject(this.#notConnected(label));
    return new Promise<T[]>((resolve, reject) => {
      const items: T[] = [];
      const h: { stop?: () => void } = {};
      let settled = false;
      const key = reqId ?? -(this.#nextReqId++);
      const finish = (e?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#requests.delete(key);
        try {
          h.stop?.();
        } catch { /* connection gone */ }
        if (e) reject(e);
        else resolve(items);
      };
      const timer = setTimeout(
        () =>
          finish(
            new RequestTimeoutError(
              `${label}: no answer from ${this.#where} within ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      );
      this.#requests.set(key, { fail: (e) => finish(e) });
      h.stop = start((x) => items.push(x), () => finish());
      if (settled) h.stop();
    });
  }

  #waitAck(id: number, label: string, done: (s: OrderState) => boolean): Promise<OrderState> {
    return new Promise<OrderState>((resolve, reject) => {
      const list = this.#acks.get(id) ?? [];
      const w: AckWaiter = {
        resolve,
        reject,
        done,
        timer: setTimeout(() => {
          this.#dropAck(id, w);
          reject(
            new RequestTimeoutError(
              `${label}: no answer from ${this.#where} within ${this.#o.requestTimeoutMs} ms ` +
                `(order id ${id}; reconnect to learn its state)`,
            ),
          );
        }, this.#o.requestTimeoutMs),
      };
      list.push(w);
      this.#acks.set(id, list);
    });
  }

  #dropAck(id: number, w: AckWaiter): void {
    const list = this.#acks.get(id)?.filter((x) => x !== w) ?? [];
    if (list.length) this.#acks.set(id, list);
    else this.#acks.delete(id);
  }

  #settleAcks(id: number, s: OrderState): void {
    for (const w of this.#acks.get(id) ?? []) {
      if (!w.done(s)) continue;
      clearTimeout(w.timer);
      this.#dropAck(id, w);
      w.resolve(s);
    }
  }

  async #freshId(): Promise<number> {
    const got = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new RequestTimeoutError(`next order id: no answer from ${this.#where}`)),
        this.#o.requestTimeoutMs,
      );
      this.#idWaiters.push((id) => {
        clearTimeout(timer);
        resolve(id);
      });
    });
    this.#api.reqIds(1);
    return await got;
  }

  async #place(req: OrderRequest): Promise<OrderState> {
    for (let attempt = 0;; attempt++) {
      const id = this.#nextId++;
      const now = Date.now();
      const track: Track = {
        acked: false,
        state: {
          ref: req.ref,
          brokerOrderId: id,
          request: req,
          status: "submitted",
          filled: 0,
          remaining: req.quantity,
          avgFillPrice: NaN,
          updatedAt: now,
        },
      };
      this.#byId.set(id, req.ref);
      const ack = this.#waitAck(id, `submit ${req.ref}`, () => true);
      this.#pendingTracks.set(id, track);
      this.#api.placeOrder(id, this.#contract(req.symbol), this.#ibOrder(req));
      let state: OrderState;
      try {
        state = await ack;
      } catch (e) {
        this.#pendingTracks.delete(id);
        if (e instanceof RequestTimeoutError || e instanceof ConnectionLostError) {
          // The order may be live at IB: remember the ref so it is never sent twice.
          track.state.reason = `unacknowledged: ${(e as Error).message}`;
          this.#tracks.set(req.ref, track);
        }
        throw e;
      }
      this.#pendingTracks.delete(id);
      if (track.rejection?.code === 103 && attempt < 3) {
        this.#byId.delete(id);
        this.#tracks.delete(req.ref);
        this.#nextId = Math.max(this.#nextId, await this.#freshId());
        continue;
      }
      return state;
    }
  }

  /** Orders sent and not acknowledged yet, by id. */
  #pendingTracks = new Map<number, Track>();

  #contract(symbol: string): Contract {
    const primaryExch = this.#o.primaryExchanges[symbol];
    return {
      symbol,
      secType: SecType.STK,
      exchange: "SMART",
      currency: "USD",
      ...(primaryExch ? { primaryExch } : {}),
    };
  }

  #ibOrder(req: OrderRequest): Order {
    const base: Order = {
      action: req.side === "BUY" ? OrderAction.BUY : OrderAction.SELL,
      totalQuantity: req.quantity,
      orderType: IbOrderType.MKT,
      tif: "DAY",
      orderRef: req.ref,
      account: this.#accountId,
      transmit: true,
    };
    switch (req.type) {
      case "LMT":
        return { ...base, orderType: IbOrderType.LMT, lmtPrice: req.limitPrice };
      case "MOO":
        return { ...base, tif: "OPG" };
      case "MOC":
        return { ...base, orderType: IbOrderType.MOC };
      default:
        return base;
    }
  }

  /** The track of an order id: a pending one, or a known one. */
  #trackOf(id: number): Track | undefined {
    const pending = this.#pendingTracks.get(id);
    if (pending) return pending;
    const ref = this.#byId.get(id);
    return ref === undefined ? undefined : this.#tracks.get(ref);
  }

  /** Applies a change to an order and emits it (never after a terminal state). */
  #update(t: Track, change: Partial<OrderState>): void {
    const s = t.state;
    const wasTerminal = TERMINAL_STATUSES.has(s.status) && t.acked;
    if (wasTerminal) return;
    const next = { ...s, ...change };
    const changed = !t.acked || next.status !== s.status || next.filled !== s.filled ||
      next.reason !== s.reason;
    if (TERMINAL_STATUSES.has(next.status)) next.remaining = 0;
    next.updatedAt = Date.now();
    t.state = next;
    const first = !t.acked;
    t.acked = true;
    if (first && !this.#tracks.has(s.ref)) this.#tracks.set(s.ref, t);
    if (changed && !(first && t.rejection?.code === 103)) {
      this.#emit({ type: "order", order: copy(next) });
    }
    this.#settleAcks(s.brokerOrderId, next);
  }

  #learn(orderId: number, ref: string, request: OrderRequest): Track {
    const t: Track = {
      acked: false,
      state: {
        ref,
        brokerOrderId: orderId,
        request,
        status: "submitted",
        filled: 0,
        remaining: request.quantity,
        avgFillPrice: NaN,
        updatedAt: Date.now(),
      },
    };
    this.#tracks.set(ref, t);
    this.#byId.set(orderId, ref);
    return t;
  }

  #wire(): void {
    const api = this.#api;
    api.on(EventName.nextValidId, (id: number) => {
      this.#nextId = Math.max(this.#nextId, id);
      for (const w of this.#idWaiters.splice(0)) w(id);
    });
    api.on(
      EventName.openOrder,
      (orderId: number, contract: Contract, order: Order, os: IbOrderState) => {
        const ref = order.orderRef;
        if (!ref || (order.account && this.#accountId && order.account !== this.#accountId)) return;
        let t = this.#trackOf(orderId);
        if (!t) {
          const known = this.#tracks.get(ref);
          if (known) {
            this.#byId.set(orderId, ref);
            t = known;
          } else {
            t = this.#learn(orderId, ref, {
              ref,
              symbol: contract.symbol ?? "",
              side: order.action === "SELL" ? "SELL" : "BUY",
              quantity: order.totalQuantity ?? 0,
              type: orderTypeOf(order),
              ...(order.lmtPrice !== undefined && order.orderType === "LMT"
                ? { limitPrice: order.lmtPrice }
                : {}),
            });
          }
        }
        const status = mapStatus(String(os?.status ?? ""), t.state.filled, !!t.rejection);
        if (status) this.#update(t, { status });
      },
    );
    api.on(EventName.completedOrder, (contract: Contract, order: Order, os: IbOrderState) => {
      const ref = order.orderRef;
      if (!ref || (order.account && order.account !== this.#accountId)) return;
      const status = mapStatus(String(os?.status ?? ""), order.filledQuantity ?? 0, false);
      if (!status || !TERMINAL_STATUSES.has(status)) return;
      const known = this.#tracks.get(ref);
      const reason = os?.completedStatus ? `IB: ${os.completedStatus}` : undefined;
      if (known) {
        if (!TERMINAL_STATUSES.has(known.state.status)) this.#update(known, { status, reason });
        return;
      }
      const t: Track = {
        acked: true,
        completed: true,
        state: {
          ref,
          brokerOrderId: 0,
          request: {
            ref,
            symbol: contract.symbol ?? "",
            side: order.action === "SELL" ? "SELL" : "BUY",
            quantity: order.totalQuantity ?? 0,
            type: orderTypeOf(order),
            ...(order.orderType === "LMT" && order.lmtPrice !== undefined
              ? { limitPrice: order.lmtPrice }
              : {}),
          },
          status,
          filled: order.filledQuantity ?? 0,
          remaining: 0,
          avgFillPrice: NaN,
          reason,
          updatedAt: Date.now(),
        },
      };
      this.#tracks.set(ref, t);
    });
    api.on(
      EventName.orderStatus,
      (id: number, status: string, filled?: number, remaining?: number, avg?: number) => {
        const t = this.#trackOf(id);
        if (!t) return;
        const f = filled ?? t.state.filled;
        const mapped = mapStatus(status, f, !!t.rejection);
        if (!mapped) return;
        this.#update(t, {
          status: mapped,
          filled: f,
          remaining: remaining ?? Math.max(0, t.state.request.quantity - f),
          avgFillPrice: f > 0 && avg ? avg : t.state.avgFillPrice,
        });
      },
    );
    api.on(EventName.execDetails, (_reqId: number, contract: Contract, e: Execution) => {
      if (!e.execId || (e.acctNumber && this.#accountId && e.acctNumber !== this.#accountId)) {
        return;
      }
      if (this.#fills.has(e.execId)) return;
      const side: OrderSide = e.side === "SLD" || e.side === "SELL" ? "SELL" : "BUY";
      const ref = e.orderRef ?? "";
      let time = Date.now();
      try {
        if (e.time) time = parseIbTime(e.time);
      } catch (err) {
        this.#notice(0, `execution ${e.execId}: ${(err as Error).message}`);
      }
      const fill: Fill = {
        execId: e.execId,
        ref,
        brokerOrderId: e.orderId ?? 0,
        symbol: contract.symbol ?? "",
        side,
        quantity: e.shares ?? 0,
        price: e.price ?? NaN,
        commission: NaN,
        slippage: NaN,
        time,
      };
      this.#fills.set(e.execId, fill);
      if (ref && !this.#tracks.has(ref) && !this.#trackOf(fill.brokerOrderId)) {
        // An order learned from its executions only (no longer open): it traded cumQty.
        const t = this.#learn(fill.brokerOrderId, ref, {
          ref,
          symbol: fill.symbol,
          side,
          quantity: e.cumQty ?? fill.quantity,
          type: "MKT",
        });
        t.acked = true;
        t.state = {
          ...t.state,
          status: "filled",
          filled: e.cumQty ?? fill.quantity,
          remaining: 0,
          avgFillPrice: e.avgPrice ?? fill.price,
          reason: "learned from executions (type not reported; MKT assumed)",
        };
      } else if (ref && this.#tracks.get(ref)?.completed) {
        // A completed order learned on connect: its executions give its id and average price.
        const t = this.#tracks.get(ref)!;
        if (!t.state.brokerOrderId) {
          t.state.brokerOrderId = fill.brokerOrderId;
          this.#byId.set(fill.brokerOrderId, ref);
        }
        if (e.avgPrice !== undefined && e.cumQty !== undefined && e.cumQty >= t.state.filled) {
          t.state.avgFillPrice = e.avgPrice;
        }
      } else if (ref) {
        const t = this.#tracks.get(ref);
        if (t && e.cumQty && t.state.request.quantity < e.cumQty) {
          t.state = { ...t.state, request: { ...t.state.request, quantity: e.cumQty } };
        }
      }
      this.#emit({ type: "fill", fill: { ...fill } });
    });
    api.on(EventName.commissionReport, (r: CommissionReport) => {
      const f = r.execId ? this.#fills.get(r.execId) : undefined;
      if (!f || r.commission === undefined) return;
      const known = Number.isFinite(f.commission);
      f.commission = r.commission;
      if (!known) this.#emit({ type: "commission", execId: f.execId, commission: r.commission });
    });
    api.on(EventName.error, (err: Error, code: number, reqId: number) => {
      const message = err?.message ?? String(err);
      const t = reqId !== undefined && reqId >= 0 ? this.#trackOf(reqId) : undefined;
      if (t) return this.#orderError(t, reqId, code, message);
      const r = this.#requests.get(reqId);
      if (r) {
        return r.fail(new IbError(`${this.#where}: IB error ${code}: ${message}`, code, reqId));
      }
      this.#notice(code, message);
      if (/^(Decoding|Underrun) error/.test(message)) {
        this.#emit({ type: "error", message, code });
      }
      if (CONNECTION_CODES.has(code)) this.#lost(`IB error ${code}: ${message}`);
    });
    api.on(EventName.info, (message: string, code: number) => {
      this.#notice(code, message);
      if (CONNECTION_CODES.has(code)) this.#lost(`IB ${code}: ${message}`);
    });
    api.on(EventName.disconnected, () => this.#lost("connection closed by IB"));
  }

  #orderError(t: Track, id: number, code: number, message: string): void {
    const ref = t.state.ref;
    if (code === 202) return; // "Order Canceled": the orderStatus follows
    this.#emit({ type: "error", message, code, ref });
    if (code === 10147 || code === 161) {
      // Not cancellable (gone or already done): answer the cancel with what is known.
      for (const w of this.#acks.get(id) ?? []) {
        clearTimeout(w.timer);
        w.resolve(copy(t.state));
      }
      this.#acks.delete(id);
      return;
    }
    if (ORDER_REJECT_CODES.has(code)) {
      if (code === 103 && t.acked) return; // a duplicate id for a live order: that order stands
      t.rejection = { code, message };
      this.#update(t, { status: "rejected", reason: `IB ${code}: ${message}` });
    }
  }

  #lost(why: string): void {
    const was = this.#connected;
    this.#connected = false;
    if (!this.#lostWhy) this.#lostWhy = why;
    const err = this.#notConnected("request");
    for (const [id, list] of [...this.#acks]) {
      for (const w of list) {
        clearTimeout(w.timer);
        w.reject(
          new ConnectionLostError(
            `order id ${id}: connection to ${this.#where} lost before IB answered (${why}); ` +
              "the order may be live: reconnect to learn it",
          ),
        );
      }
    }
    this.#acks.clear();
    for (const r of [...this.#requests.values()]) r.fail(err);
    if (was) {
      this.#emit({ type: "connection", connected: false });
      if (!this.#closed) {
        try {
          this.#api.disconnect();
        } catch { /* closed */ }
      }
    }
  }
}

function copy(s: OrderState): OrderState {
  return { ...s, request: { ...s.request } };
}

/** IB's status → ours; `undefined` for statuses that change nothing. */
function mapStatus(ib: string, filled: number, rejected: boolean): OrderStatus | undefined {
  switch (ib) {
    case "PendingSubmit":
    case "PreSubmitted":
    case "Submitted":
    case "ApiPending":
    case "PendingCancel":
      return filled > 0 ? "partially-filled" : "submitted";
    case "Filled":
      return "filled";
    case "Cancelled":
    case "ApiCancelled":
      return rejected ? "rejected" : "cancelled";
    case "Inactive":
      return "rejected";
    default:
      return undefined;
  }
}

function orderTypeOf(o: Order): OrderType {
  if (o.orderType === "LMT") return "LMT";
  if (o.orderType === "MOC") return "MOC";
  return o.tif === "OPG" ? "MOO" : "MKT";
}

function ibFilterTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}
