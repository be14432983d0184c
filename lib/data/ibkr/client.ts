/**
 * A promise-based wrapper over `@stoqey/ib`'s event API for the three requests the
 * ingest needs: contract details, head timestamp and historical bars. One wrapper is
 * one connection; after a drop, make a new one (the library would otherwise replay
 * buffered requests on reconnect).
 *
 * @module
 */
import { type Contract, type ContractDetails, EventName, IBApi } from "@stoqey/ib";
import { parseIbTime } from "./bar_sizes.ts";

/** An error IB answered for a request (or the connection), with IB's code. */
export class IbError extends Error {
  /** `"IbError"`. */
  override name = "IbError";
  /**
   * Wraps an error IB answered.
   * @param message IB's message, prefixed with what was asked.
   * @param code IB error code (162 pacing/HMDS, 200 no security definition, 366 …).
   * @param reqId The request id, or -1 for the connection.
   */
  constructor(message: string, readonly code: number, readonly reqId: number) {
    super(message);
  }
}

/** The connection dropped (or could not be made) while a request was open. */
export class ConnectionLostError extends Error {
  /** `"ConnectionLostError"`. */
  override name = "ConnectionLostError";
}

/** A request got no answer in time. */
export class RequestTimeoutError extends Error {
  /** `"RequestTimeoutError"`. */
  override name = "RequestTimeoutError";
}

/** One bar as IB sent it, time parsed to epoch ms UTC. */
export interface IbBar {
  /** Epoch ms, UTC: a daily bar at its date 00:00 UTC, an intraday bar at its start. */
  time: number;
  /** Open price. */
  open: number;
  /** High price. */
  high: number;
  /** Low price. */
  low: number;
  /** Close price. */
  close: number;
  /** Volume (0 when IB sends none). */
  volume: number;
}

/** Where and how to connect. */
export interface IbClientOptions {
  /** TWS / IB Gateway host, e.g. `"127.0.0.1"`. */
  host: string;
  /** API port: 4001/4002 (Gateway live/paper), 7496/7497 (TWS live/paper). */
  port: number;
  /** API client id, unique per connection to the gateway. */
  clientId: number;
  /** Real ms to wait for the handshake and `nextValidId`. Default 10 000. */
  connectTimeoutMs?: number;
  /** Real ms to wait for one answer. Default 120 000. */
  requestTimeoutMs?: number;
}

/** Parameters of {@linkcode IbClient.historicalBars}. */
export interface HistoricalQuery {
  /** `yyyyMMdd-HH:mm:ss` (UTC), or `""` for now. */
  endDateTime: string;
  /** IB duration, e.g. `"1 Y"`, `"30 D"`, `"3600 S"`. */
  duration: string;
  /** IB bar size, e.g. `"1 day"`. */
  barSize: string;
  /** Tick type, e.g. `"TRADES"`. */
  whatToShow: string;
  /** Regular trading hours only. */
  useRTH: boolean;
}

interface Pending {
  label: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
  bars?: IbBar[];
  details?: ContractDetails[];
}

/** Codes IB sends with reqId -1 that mean the connection is unusable. */
const CONNECTION_CODES = new Set([326, 502, 504, 1100, 1300]);

/**
 * One connection to TWS / IB Gateway.
 * @example
 * ```ts
 * const ib = new IbClient({ host: "127.0.0.1", port: 4002, clientId: 7 });
 * await ib.connect();
 * const bars = await ib.historicalBars(stockContract({ symbol: "AAPL" }), {
 *   endDateTime: "20251231-23:59:59", duration: "1 Y", barSize: "1 day", whatToShow: "TRADES", useRTH: true,
 * });
 * ib.disconnect();
 * ```
 */
export class IbClient {
  #options: Required<IbClientOptions>;
  #api: IBApi;
  #pending = new Map<number, Pending>();
  #nextReqId = 1;
  #connected = false;
  #closed = false;
  #serverVersion = 0;
  /** Messages IB sent that belong to no request (farm status, decoding problems …), newest last. */
  readonly notices: { code: number; message: string }[] = [];

  /**
   * Prepares a connection (nothing is sent until {@linkcode IbClient.connect}).
   * @param options See {@linkcode IbClientOptions}.
   */
  constructor(options: IbClientOptions) {
    this.#options = {
      ...options,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 120_000,
    };
    this.#api = new IBApi({ host: options.host, port: options.port, clientId: options.clientId });
    const api = this.#api;
    api.on(
      EventName.historicalData,
      (reqId: number, date: string, o: number, h: number, l: number, c: number, v?: number) => {
        const p = this.#pending.get(reqId);
        if (!p?.bars) return;
        if (date.startsWith("finished")) return this.#settle(reqId, p.bars);
        try {
          p.bars.push({
            time: parseIbTime(date),
            open: o,
            high: h,
            low: l,
            close: c,
            volume: v ?? 0,
          });
        } catch (e) {
          this.#fail(reqId, e as Error);
        }
      },
    );
    api.on(EventName.contractDetails, (reqId: number, details: ContractDetails) => {
      this.#pending.get(reqId)?.details?.push(details);
    });
    api.on(EventName.contractDetailsEnd, (reqId: number) => {
      const p = this.#pending.get(reqId);
      if (p?.details) this.#settle(reqId, p.details);
    });
    api.on(EventName.headTimestamp, (reqId: number, ts: string) => {
      if (!this.#pending.has(reqId)) return;
      try {
        this.#settle(reqId, parseIbTime(ts));
      } catch (e) {
        this.#fail(reqId, e as Error);
      }
      api.cancelHeadTimestamp(reqId); // IB keeps head-timestamp requests open until cancelled
    });
    api.on(EventName.error, (err: Error, code: number, reqId: number) => {
      const p = this.#pending.get(reqId);
      if (p) {
        return this.#fail(
          reqId,
          new IbError(`${p.label}: IB error ${code}: ${err.message}`, code, reqId),
        );
      }
      this.#notice(code, err.message);
      if (CONNECTION_CODES.has(code)) this.#lost(`IB error ${code}: ${err.message}`);
    });
    api.on(EventName.info, (message: string, code: number) => {
      this.#notice(code, message);
      if (CONNECTION_CODES.has(code)) this.#lost(`IB ${code}: ${message}`);
    });
    api.on(EventName.disconnected, () => this.#lost("connection closed by the gateway"));
  }

  /** True between a successful {@linkcode IbClient.connect} and a drop or {@linkcode IbClient.disconnect}. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Server version the gateway announced (0 before connecting). */
  get serverVersion(): number {
    return this.#serverVersion;
  }

  /**
   * Connects and waits for `nextValidId` (the gateway is ready for requests).
   * @returns The server version.
   * @throws ConnectionLostError when the gateway refuses, drops or does not answer in time.
   */
  connect(): Promise<number> {
    const { host, port, connectTimeoutMs } = this.#options;
    return new Promise<number>((resolve, reject) => {
      const where = `${host}:${port}`;
      const cleanup = () => {
        clearTimeout(timer);
        this.#api.off(EventName.nextValidId, onReady);
        this.#api.off(EventName.error, onError);
        this.#api.off(EventName.disconnected, onDrop);
        this.#api.off(EventName.info, onInfo);
      };
      const onReady = () => {
        cleanup();
        this.#connected = true;
        this.#serverVersion = this.#api.serverVersion;
        resolve(this.#serverVersion);
      };
      const onError = (err: Error, code: number, reqId: number) => {
        if (reqId !== -1 && reqId !== undefined) return;
        if (!CONNECTION_CODES.has(code) && code !== 506 && code !== 503) return;
        cleanup();
        this.#api.disconnect();
        reject(
          new ConnectionLostError(
            `Cannot connect to IB at ${where}: ${err.message} (code ${code})`,
          ),
        );
      };
      // IB sends connection-level errors (e.g. 326 client id in use) with id -1, which the library reports as info.
      const onInfo = (message: string, code: number) => {
        if (!CONNECTION_CODES.has(code)) return;
        cleanup();
        this.#api.disconnect();
        reject(
          new ConnectionLostError(`Cannot connect to IB at ${where}: ${message} (code ${code})`),
        );
      };
      const onDrop = () => {
        cleanup();
        reject(
          new ConnectionLostError(
            `Cannot connect to IB at ${where}: connection closed during the handshake`,
          ),
        );
      };
      const timer = setTimeout(() => {
        cleanup();
        this.#closed = true;
        this.#api.disconnect();
        reject(
          new ConnectionLostError(
            `Cannot connect to IB at ${where}: no answer within ${connectTimeoutMs} ms`,
          ),
        );
      }, connectTimeoutMs);
      this.#api.on(EventName.nextValidId, onReady);
      this.#api.on(EventName.error, onError);
      this.#api.on(EventName.disconnected, onDrop);
      this.#api.on(EventName.info, onInfo);
      this.#api.connect();
    });
  }

  /** Closes the connection; open requests fail with {@linkcode ConnectionLostError}. */
  disconnect(): void {
    this.#closed = true;
    this.#lost("disconnected by the client");
    try {
      this.#api.disconnect();
    } catch { /* already closed */ }
  }

  /**
   * `reqContractDetails`: every contract matching `contract`.
   * @param contract The (partial) contract.
   * @returns Matches (several when ambiguous).
   */
  contractDetails(contract: Contract): Promise<ContractDetails[]> {
    return this.#request(
      `contract details of ${contract.symbol}`,
      { details: [] },
      (id) => this.#api.reqContractDetails(id, contract),
    );
  }

  /**
   * `reqHeadTimestamp`: the time of the first available bar.
   * @param contract The contract.
   * @param whatToShow Tick type, e.g. `"TRADES"`.
   * @param useRTH Regular trading hours only.
   * @returns Epoch ms.
   */
  headTimestamp(contract: Contract, whatToShow: string, useRTH: boolean): Promise<number> {
    return this.#request(`head timestamp of ${contract.symbol}`, {}, (id) =>
      // deno-lint-ignore no-explicit-any
      this.#api.reqHeadTimestamp(id, contract, whatToShow as any, useRTH, 2));
  }

  /**
   * `reqHistoricalData` (not kept up to date, dates as epoch seconds / `yyyyMMdd`).
   * @param contract The contract.
   * @param q End, duration, bar size, tick type, RTH.
   * @returns Bars in the order IB sent them.
   */
  historicalBars(contract: Contract, q: HistoricalQuery): Promise<IbBar[]> {
    const label =
      `historical ${q.barSize} bars of ${contract.symbol} (${q.duration} to ${q.endDateTime})`;
    return this.#request(label, { bars: [] }, (id) =>
      this.#api.reqHistoricalData(
        id,
        contract,
        q.endDateTime,
        q.duration,
        // deno-lint-ignore no-explicit-any
        q.barSize as any,
        // deno-lint-ignore no-explicit-any
        q.whatToShow as any,
        q.useRTH ? 1 : 0,
        2,
        false,
      ));
  }

  #request<T>(label: string, init: Partial<Pending>, send: (reqId: number) => void): Promise<T> {
    if (!this.#connected) return Promise.reject(new ConnectionLostError(`${label}: not connected`));
    const id = this.#nextReqId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#fail(
          id,
          new RequestTimeoutError(
            `${label}: no answer within ${this.#options.requestTimeoutMs} ms`,
          ),
        );
        if (init.bars) this.#api.cancelHistoricalData(id);
      }, this.#options.requestTimeoutMs);
      this.#pending.set(id, {
        label,
        resolve: resolve as (v: unknown) => void,
        reject,
        timer,
        ...init,
      });
      send(id);
    });
  }

  #notice(code: number, message: string): void {
    this.notices.push({ code, message });
    if (this.notices.length > 200) this.notices.splice(0, 100);
  }

  #settle(reqId: number, value: unknown): void {
    const p = this.#pending.get(reqId);
    if (!p) return;
    this.#pending.delete(reqId);
    clearTimeout(p.timer);
    p.resolve(value);
  }

  #fail(reqId: number, error: Error): void {
    const p = this.#pending.get(reqId);
    if (!p) return;
    this.#pending.delete(reqId);
    clearTimeout(p.timer);
    p.reject(error);
  }

  #lost(why: string): void {
    const wasConnected = this.#connected;
    this.#connected = false;
    for (const [id, p] of [...this.#pending]) {
      this.#fail(id, new ConnectionLostError(`${p.label}: ${why}`));
    }
    if (wasConnected && !this.#closed) {
      try {
        this.#api.disconnect();
      } catch { /* already closed */ }
    }
  }
}
