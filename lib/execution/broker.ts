/**
 * The one broker contract every execution mode talks to: the paper broker (historical
 * replay and live paper trading) and Interactive Brokers (paper or live account) both
 * implement {@linkcode Broker}, and the trading cycle only ever sees this interface, so a
 * model goes from replay to paper to a live account without changing code paths.
 *
 * Conventions:
 * - Quantities are positive; the side says the direction. Positions are signed.
 * - Every order carries a deterministic `ref` (see {@linkcode orderRef}): the run, the
 *   decision bar and the instrument. A broker never accepts a second live order with a
 *   ref it already knows (idempotency across crashes and reruns).
 * - Times are epoch milliseconds (UTC).
 * - Order states follow {@linkcode ORDER_STATUSES}; `filled`, `cancelled` and `rejected`
 *   are terminal.
 *
 * @module
 */

/** Order types: market, limit, market-on-open, market-on-close. */
export const ORDER_TYPES = ["MKT", "LMT", "MOO", "MOC"] as const;
/** One of {@linkcode ORDER_TYPES}. */
export type OrderType = typeof ORDER_TYPES[number];

/** Order sides. */
export const ORDER_SIDES = ["BUY", "SELL"] as const;
/** One of {@linkcode ORDER_SIDES}. */
export type OrderSide = typeof ORDER_SIDES[number];

/** The life of an order; the last three are terminal. */
export const ORDER_STATUSES = [
  "submitted",
  "partially-filled",
  "filled",
  "cancelled",
  "rejected",
] as const;
/** One of {@linkcode ORDER_STATUSES}. */
export type OrderStatus = typeof ORDER_STATUSES[number];

/** Statuses after which an order never changes again. */
export const TERMINAL_STATUSES: ReadonlySet<OrderStatus> = new Set([
  "filled",
  "cancelled",
  "rejected",
]);

/** What the trading cycle asks a broker to do. */
export interface OrderRequest {
  /** Deterministic reference (run, decision bar, instrument); unique per broker. */
  ref: string;
  symbol: string;
  side: OrderSide;
  /** Positive; whole shares unless the broker is {@linkcode Broker.fractional}. */
  quantity: number;
  type: OrderType;
  /** Limit price, required for `LMT`. */
  limitPrice?: number;
}

/** A broker's view of one order. */
export interface OrderState {
  ref: string;
  /** The broker's id (IB's order id; the paper broker numbers its own). */
  brokerOrderId: number;
  request: OrderRequest;
  status: OrderStatus;
  /** Shares filled so far. */
  filled: number;
  /** `request.quantity - filled` while live; 0 once terminal. */
  remaining: number;
  /** Volume-weighted fill price so far (NaN before the first fill). */
  avgFillPrice: number;
  /** Why it was rejected or cancelled, as the broker said it. */
  reason?: string;
  /** When the broker last changed it. */
  updatedAt: number;
}

/** One execution (a partial or a complete fill). */
export interface Fill {
  /** The broker's execution id; unique. */
  execId: string;
  ref: string;
  brokerOrderId: number;
  symbol: string;
  side: OrderSide;
  /** Positive. */
  quantity: number;
  /** Price paid or received per share, slippage and impact included. */
  price: number;
  /** Commission for this execution (NaN until the broker reports it). */
  commission: number;
  /** Slippage and impact in currency included in `price` (paper broker; NaN if unknown). */
  slippage: number;
  time: number;
}

/** A signed holding. */
export interface BrokerPosition {
  symbol: string;
  /** Signed shares; negative is short. */
  quantity: number;
  /** Average cost per share of the open quantity. */
  avgCost: number;
  /** Last price the broker marked it at (NaN when unknown). */
  marketPrice: number;
  /** `quantity × marketPrice` (NaN when unknown). */
  marketValue: number;
  unrealizedPnl: number;
  realizedPnl: number;
}

/** Account values as the broker reports them. */
export interface AccountSnapshot {
  accountId: string;
  currency: string;
  /** Cash plus positions at market. */
  netLiquidation: number;
  /** Settled plus unsettled cash (negative when borrowing). */
  cash: number;
  /** Sum of absolute position values. */
  grossPositionValue: number;
  /** What can still be bought (cash accounts: cash; margin accounts: the broker's figure). */
  buyingPower: number;
  realizedPnl: number;
  unrealizedPnl: number;
  /** P&L since the start of the trading day (NaN when unknown). */
  dailyPnl: number;
  time: number;
}

/** Everything a broker tells its listeners, in the order it happened. */
export type BrokerEvent =
  | { type: "order"; order: OrderState }
  | { type: "fill"; fill: Fill }
  | { type: "commission"; execId: string; commission: number }
  | { type: "error"; message: string; code?: number; ref?: string }
  | { type: "connection"; connected: boolean };

/** A listener of {@linkcode BrokerEvent}s. */
export type BrokerListener = (event: BrokerEvent) => void;

/** Which implementation it is. */
export const BROKER_KINDS = ["paper", "ibkr"] as const;
/** One of {@linkcode BROKER_KINDS}. */
export type BrokerKind = typeof BROKER_KINDS[number];

/**
 * The broker contract. Both implementations pass the same contract suite
 * (`tests/execution_broker_contract_test.ts`).
 */
export interface Broker {
  readonly kind: BrokerKind;
  /** The account orders go to. */
  readonly accountId: string;
  /** True for a real-money account (IB live accounts do not start with `D`). */
  readonly live: boolean;
  /** Whether fractional quantities are accepted. */
  readonly fractional: boolean;
  /**
   * Sends an order. Resolves once the broker has acknowledged it (status `submitted`,
   * or already `filled` / `rejected`). A second call with a ref the broker already knows
   * resolves to the existing order and sends nothing.
   */
  submit(order: OrderRequest): Promise<OrderState>;
  /** Cancels a live order by ref; resolves to its final state. Terminal orders are returned as they are. */
  cancel(ref: string): Promise<OrderState>;
  /** Orders that are not terminal. */
  openOrders(): Promise<OrderState[]>;
  /** Every order the broker knows from this session or its persisted state, by ref. */
  order(ref: string): Promise<OrderState | undefined>;
  /** Current positions (zero positions omitted). */
  positions(): Promise<BrokerPosition[]>;
  /** Account values. */
  account(): Promise<AccountSnapshot>;
  /** Executions at or after `since` (all when omitted), oldest first. */
  executions(since?: number): Promise<Fill[]>;
  /** Subscribes to events; returns the unsubscribe function. */
  on(listener: BrokerListener): () => void;
  /** Disconnects and frees resources. Idempotent. */
  close(): Promise<void>;
}

/**
 * The deterministic reference of an order: the same run, decision bar and instrument
 * always give the same ref, so a rerun after a crash recognises orders it already sent.
 * IB limits `orderRef` to printable text; this stays short and ASCII.
 * @param runId The trading run.
 * @param decisionBar Timestamp (ms) of the bar whose close produced the decision.
 * @param symbol The instrument.
 * @returns `tt:<run>:<bar as YYYYMMDDHHmm>:<symbol>`.
 * @example
 * ```ts
 * orderRef(7, Date.UTC(2018, 0, 2), "AAPL"); // "tt:7:201801020000:AAPL"
 * ```
 */
export function orderRef(runId: number, decisionBar: number, symbol: string): string {
  const iso = new Date(decisionBar).toISOString(); // 2018-01-02T00:00:00.000Z
  const stamp = iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) +
    iso.slice(14, 16);
  return `tt:${runId}:${stamp}:${symbol}`;
}

/**
 * Whether an IB account id is a live (real-money) account: paper accounts start with `D`
 * (e.g. `DU1234567`), live ones do not (e.g. `U1234567`).
 * @param accountId The id IB reports.
 * @returns True for a live account.
 * @example
 * ```ts
 * isLiveAccount("DU1234567"); // false
 * isLiveAccount("U1234567"); // true
 * ```
 */
export function isLiveAccount(accountId: string): boolean {
  return !accountId.trim().toUpperCase().startsWith("D");
}
