/**
 * The loopback gateway's trading desk: the order, execution, position and account
 * messages of the TWS API as `@stoqey/ib` 1.6.10 decodes them at server version 176,
 * and a small matching engine that keeps one account's orders, executions, positions
 * and cash for the gateway's lifetime (across client connections), fills on market
 * ticks from bars or set quotes, and injects order faults on request.
 *
 * Private to this folder: {@linkcode LoopbackGateway} is the public face.
 *
 * @module
 */
import { FieldCursor } from "./_tws_wire.ts";
import type { GatewayBar } from "./_tws_data.ts";

/** Order-related message ids the client sends. */
export const OUT_ORDERS = {
  PLACE_ORDER: 3,
  CANCEL_ORDER: 4,
  REQ_OPEN_ORDERS: 5,
  REQ_ACCOUNT_DATA: 6,
  REQ_EXECUTIONS: 7,
  REQ_IDS: 8,
  REQ_AUTO_OPEN_ORDERS: 15,
  REQ_ALL_OPEN_ORDERS: 16,
  REQ_MANAGED_ACCTS: 17,
  REQ_GLOBAL_CANCEL: 58,
  REQ_POSITIONS: 61,
  REQ_ACCOUNT_SUMMARY: 62,
  CANCEL_ACCOUNT_SUMMARY: 63,
  CANCEL_POSITIONS: 64,
  REQ_PNL: 92,
  CANCEL_PNL: 93,
  REQ_PNL_SINGLE: 94,
  CANCEL_PNL_SINGLE: 95,
  REQ_COMPLETED_ORDERS: 99,
} as const;

/** Order-related message ids the server sends. */
export const IN_ORDERS = {
  ORDER_STATUS: 3,
  ERR_MSG: 4,
  OPEN_ORDER: 5,
  NEXT_VALID_ID: 9,
  EXECUTION_DATA: 11,
  MANAGED_ACCTS: 15,
  OPEN_ORDER_END: 53,
  EXECUTION_DATA_END: 55,
  COMMISSION_REPORT: 59,
  POSITION: 61,
  POSITION_END: 62,
  ACCOUNT_SUMMARY: 63,
  ACCOUNT_SUMMARY_END: 64,
  PNL: 94,
  PNL_SINGLE: 95,
  COMPLETED_ORDER: 101,
  COMPLETED_ORDERS_END: 102,
} as const;

/** IB's order statuses (the subset the desk uses). */
export type IbOrderStatus = "Submitted" | "Filled" | "Cancelled" | "Inactive";

/** One order as the desk keeps it. */
export interface DeskOrder {
  orderId: number;
  clientId: number;
  permId: number;
  account: string;
  conId: number;
  symbol: string;
  exchange: string;
  primaryExch: string;
  currency: string;
  action: "BUY" | "SELL";
  quantity: number;
  /** IB order type: MKT, LMT, MOC. */
  orderType: string;
  lmtPrice?: number;
  /** DAY, GTC or OPG (market-on-open). */
  tif: string;
  orderRef: string;
  status: IbOrderStatus;
  filled: number;
  avgFillPrice: number;
  lastFillPrice: number;
  /** Ticks seen when it was placed: fills on later ticks only. */
  placedTick: number;
  placedAt: number;
  /** When it became terminal (epoch ms). */
  completedAt?: number;
  /** IB's reason for a rejection or cancel. */
  reason?: string;
}

/** One execution as the desk keeps it. */
export interface DeskExecution {
  execId: string;
  orderId: number;
  clientId: number;
  permId: number;
  account: string;
  conId: number;
  symbol: string;
  side: "BOT" | "SLD";
  shares: number;
  price: number;
  cumQty: number;
  avgPrice: number;
  orderRef: string;
  commission: number;
  realizedPnl: number;
  time: number;
}

/** A holding. */
export interface DeskPosition {
  conId: number;
  quantity: number;
  avgCost: number;
  realized: number;
}

/** Order faults the desk injects. */
export interface DeskFaults {
  /** Symbols whose orders are rejected (error {@linkcode DeskFaults.rejectCode}). */
  rejectSymbols?: string[];
  /** Order refs that are rejected. */
  rejectRefs?: string[];
  /** Error code of an injected rejection. Default 201 (IB's "Order rejected"). */
  rejectCode?: number;
  /** Reason of an injected rejection. Default "Order rejected - reason:rejected by the loopback gateway (fault)". */
  rejectMessage?: string;
  /** Fill at most this many shares of one order per tick (partial fills). */
  maxFillPerTick?: number;
  /** Answer the first N orders with error 103 "Duplicate order id" and keep nothing. */
  duplicateOrderIds?: number;
  /** Drop the placing client's connection when the Nth accepted order (1-based) arrives, before its acknowledgement. */
  disconnectOnOrder?: number;
  /** Wait this many clock ms between a tick and the fills it makes. */
  fillDelayMs?: number;
}

/** Settings of the desk. */
export interface DeskOptions {
  account: string;
  cash: number;
  /** Slippage in basis points against the order (buy pays more, sell gets less). */
  slippageBps: number;
  /** IBKR fixed pricing: per share, minimum and maximum (fraction of trade value). */
  commission: { perShare: number; min: number; maxFraction: number };
  /** Buying power as a multiple of net liquidation (1 = cash account). */
  leverage: number;
  /** Accept fractional quantities. */
  fractional: boolean;
  faults: DeskFaults;
  /** The daily bar of a symbol at or before a day (undefined: unknown symbol or no data yet). */
  barAt: (symbol: string, day: number) => GatewayBar | undefined;
  /** Whether a symbol can be traded at all (else error 200). */
  known: (symbol: string) => boolean;
  conId: (symbol: string) => number;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  log: (line: string) => void;
}

/** Where the desk's messages go: a client id, or every connected client. */
export interface DeskOutput {
  send(clientId: number, fields: (string | number | boolean | undefined)[]): void;
  error(clientId: number, id: number, code: number, message: string): void;
  /** Drops the connection of a client id. */
  drop(clientId: number): void;
  /** Client ids connected now. */
  clients(): number[];
}

const DAY = 86_400_000;
const MAX = 1.7976931348623157e308; // Double.MAX_VALUE: "unset" for optional doubles

/** Epoch ms → `yyyyMMdd HH:mm:ss UTC`. */
export function ibExecTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} UTC`;
}

function num(x: number): string {
  return Number.isFinite(x) ? String(Number(x.toFixed(8))) : "";
}

/** OPEN_ORDER fields at server version 176 (the order `@stoqey/ib`'s OrderDecoder reads them). */
export function openOrderFields(o: DeskOrder): (string | number)[] {
  return [
    IN_ORDERS.OPEN_ORDER,
    o.orderId,
    // contract
    o.conId,
    o.symbol,
    "STK",
    "", // lastTradeDateOrContractMonth
    0, // strike
    "", // right
    "", // multiplier
    o.exchange,
    o.currency,
    o.symbol, // localSymbol
    o.symbol, // tradingClass
    // order
    o.action,
    num(o.quantity),
    o.orderType,
    o.lmtPrice === undefined ? "" : num(o.lmtPrice),
    "", // auxPrice
    o.tif,
    "", // ocaGroup
    o.account,
    "", // openClose
    0, // origin (customer)
    o.orderRef,
    o.clientId,
    o.permId,
    0, // outsideRth
    0, // hidden
    0, // discretionaryAmt
    "", // goodAfterTime
    "", // sharesAllocation (deprecated)
    "", // faGroup
    "", // faMethod
    "", // faPercentage
    "", // faProfile (server version < 177)
    "", // modelCode
    "", // goodTillDate
    "", // rule80A
    "", // percentOffset
    "", // settlingFirm
    0, // shortSaleSlot
    "", // designatedLocation
    -1, // exemptCode
    0, // auctionStrategy
    "", // startingPrice
    "", // stockRefPrice
    "", // delta
    "", // stockRangeLower
    "", // stockRangeUpper
    "", // displaySize
    0, // blockOrder
    0, // sweepToFill
    0, // allOrNone
    "", // minQty
    3, // ocaType
    0, // eTradeOnly
    0, // firmQuoteOnly
    "", // nbboPriceCap
    0, // parentId
    0, // triggerMethod
    "", // volatility
    0, // volatilityType
    "", // deltaNeutralOrderType (empty: no delta-neutral fields follow)
    "", // deltaNeutralAuxPrice
    0, // continuousUpdate
    0, // referencePriceType
    "", // trailStopPrice
    "", // trailingPercent
    "", // basisPoints
    "", // basisPointsType
    "", // comboLegsDescription
    0, // comboLegs count
    0, // orderComboLegs count
    0, // smartComboRoutingParams count
    "", // scaleInitLevelSize
    "", // scaleSubsLevelSize
    "", // scalePriceIncrement (empty: no scale fields follow)
    "", // hedgeType
    0, // optOutSmartRouting
    "", // clearingAccount
    "", // clearingIntent
    0, // notHeld
    0, // deltaNeutralContract present
    "", // algoStrategy
    0, // solicited
    0, // whatIf
    o.status, // orderState.status
    "", // initMarginBefore
    "", // maintMarginBefore
    "", // equityWithLoanBefore
    "", // initMarginChange
    "", // maintMarginChange
    "", // equityWithLoanChange
    "", // initMarginAfter
    "", // maintMarginAfter
    "", // equityWithLoanAfter
    "", // commission
    "", // minCommission
    "", // maxCommission
    "", // commissionCurrency
    "", // warningText
    0, // randomizeSize
    0, // randomizePrice
    0, // conditions count
    "", // adjustedOrderType
    "", // triggerPrice
    "", // trailStopPrice
    "", // lmtPriceOffset
    "", // adjustedStopPrice
    "", // adjustedStopLimitPrice
    "", // adjustedTrailingAmount
    0, // adjustableTrailingUnit
    "", // softDollarTier name
    "", // softDollarTier value
    "", // softDollarTier displayName
    "", // cashQty
    0, // dontUseAutoPriceForHedge
    0, // isOmsContainer
    0, // discretionaryUpToLimitPrice
    0, // usePriceMgmtAlgo
    "", // duration
    "", // postToAts
    0, // autoCancelParent
    "", // minTradeQty
    "", // minCompeteSize
    "", // competeAgainstBestOffset
    "", // midOffsetAtWhole
    "", // midOffsetAtHalf
  ];
}

/**
 * COMPLETED_ORDER fields at server version 176: the decoder reads them with order
 * version `Number.MAX_VALUE` and no order id (IB identifies completed orders by permId).
 */
export function completedOrderFields(o: DeskOrder): (string | number)[] {
  return [
    IN_ORDERS.COMPLETED_ORDER,
    o.conId,
    o.symbol,
    "STK",
    "", // lastTradeDateOrContractMonth
    0, // strike
    "", // right
    "", // multiplier
    o.exchange,
    o.currency,
    o.symbol, // localSymbol
    o.symbol, // tradingClass
    o.action,
    num(o.quantity),
    o.orderType,
    o.lmtPrice === undefined ? "" : num(o.lmtPrice),
    "", // auxPrice
    o.tif,
    "", // ocaGroup
    o.account,
    "", // openClose
    0, // origin
    o.orderRef,
    o.permId,
    0, // outsideRth
    0, // hidden
    0, // discretionaryAmt
    "", // goodAfterTime
    "", // faGroup
    "", // faMethod
    "", // faPercentage
    "", // modelCode
    "", // goodTillDate
    "", // rule80A
    "", // percentOffset
    "", // settlingFirm
    0, // shortSaleSlot
    "", // designatedLocation
    -1, // exemptCode
    "", // startingPrice
    "", // stockRefPrice
    "", // delta
    "", // stockRangeLower
    "", // stockRangeUpper
    "", // displaySize
    0, // sweepToFill
    0, // allOrNone
    "", // minQty
    3, // ocaType
    0, // triggerMethod
    "", // volatility
    0, // volatilityType
    "", // deltaNeutralOrderType
    "", // deltaNeutralAuxPrice
    0, // continuousUpdate
    0, // referencePriceType
    "", // trailStopPrice
    "", // trailingPercent
    "", // comboLegsDescription
    0, // comboLegs count
    0, // orderComboLegs count
    0, // smartComboRoutingParams count
    "", // scaleInitLevelSize
    "", // scaleSubsLevelSize
    "", // scalePriceIncrement
    "", // hedgeType
    "", // clearingAccount
    "", // clearingIntent
    0, // notHeld
    0, // deltaNeutralContract present
    "", // algoStrategy
    0, // solicited
    o.status, // orderState.status
    0, // randomizeSize
    0, // randomizePrice
    0, // conditions count
    "", // trailStopPrice
    "", // lmtPriceOffset
    "", // cashQty
    0, // dontUseAutoPriceForHedge
    0, // isOmsContainer
    "", // autoCancelDate
    num(o.filled), // filledQuantity
    0, // refFuturesConId
    0, // autoCancelParent
    "", // shareholder
    0, // imbalanceOnly
    0, // routeMarketableToBbo
    0, // parentPermId
    o.completedAt ? ibExecTime(o.completedAt) : "", // completedTime
    o.reason ?? o.status, // completedStatus
    "", // minTradeQty
    "", // minCompeteSize
    "", // competeAgainstBestOffset
    "", // midOffsetAtWhole
    "", // midOffsetAtHalf
  ];
}

/** ORDER_STATUS fields at server version 176 (no version field from MARKET_CAP_PRICE on). */
export function orderStatusFields(o: DeskOrder): (string | number)[] {
  const live = o.status === "Submitted";
  return [
    IN_ORDERS.ORDER_STATUS,
    o.orderId,
    o.status,
    num(o.filled),
    num(live ? o.quantity - o.filled : 0),
    o.filled > 0 ? num(o.avgFillPrice) : 0,
    o.permId,
    0, // parentId
    o.filled > 0 ? num(o.lastFillPrice) : 0,
    o.clientId,
    "", // whyHeld
    0, // mktCapPrice
  ];
}

/** EXECUTION_DATA fields at server version 176 (no version field from LAST_LIQUIDITY on). */
export function executionFields(reqId: number, e: DeskExecution): (string | number)[] {
  return [
    IN_ORDERS.EXECUTION_DATA,
    reqId,
    e.orderId,
    e.conId,
    e.symbol,
    "STK",
    "", // lastTradeDateOrContractMonth
    0, // strike
    "", // right
    "", // multiplier
    "SMART",
    "USD",
    e.symbol, // localSymbol
    e.symbol, // tradingClass
    e.execId,
    ibExecTime(e.time),
    e.account,
    "ISLAND", // exchange of the execution
    e.side,
    num(e.shares),
    num(e.price),
    e.permId,
    e.clientId,
    0, // liquidation
    num(e.cumQty),
    num(e.avgPrice),
    e.orderRef,
    "", // evRule
    "", // evMultiplier
    "", // modelCode
    2, // lastLiquidity (removed)
  ];
}

/** COMMISSION_REPORT fields. */
export function commissionFields(e: DeskExecution): (string | number)[] {
  return [
    IN_ORDERS.COMMISSION_REPORT,
    1,
    e.execId,
    num(e.commission),
    "USD",
    e.realizedPnl === 0 ? MAX : num(e.realizedPnl),
    MAX, // yield
    "", // yieldRedemptionDate
  ];
}

/** Parses a PLACE_ORDER message (after the message id) at server version 176. */
export function parsePlaceOrder(c: FieldCursor): {
  orderId: number;
  conId: number;
  symbol: string;
  secType: string;
  exchange: string;
  primaryExch: string;
  currency: string;
  action: string;
  quantity: number;
  orderType: string;
  lmtPrice?: number;
  tif: string;
  account: string;
  orderRef: string;
} {
  const orderId = c.int();
  const conId = c.int();
  const symbol = c.str();
  const secType = c.str();
  c.str(); // lastTradeDateOrContractMonth
  c.str(); // strike
  c.str(); // right
  c.str(); // multiplier
  const exchange = c.str();
  const primaryExch = c.str();
  const currency = c.str();
  c.str(); // localSymbol
  c.str(); // tradingClass
  c.str(); // secIdType
  c.str(); // secId
  const action = c.str();
  const quantity = Number(c.str());
  const orderType = c.str();
  const lmt = c.str();
  c.str(); // auxPrice
  const tif = c.str();
  c.str(); // ocaGroup
  const account = c.str();
  c.str(); // openClose
  c.str(); // origin
  const orderRef = c.str();
  const lmtPrice = lmt === "" || Number(lmt) >= MAX ? undefined : Number(lmt);
  return {
    orderId,
    conId,
    symbol: symbol.toUpperCase(),
    secType,
    exchange,
    primaryExch,
    currency,
    action,
    quantity,
    orderType,
    lmtPrice,
    tif,
    account,
    orderRef,
  };
}

/** Parses IB's execution-filter time `yyyyMMdd-HH:mm:ss` / `yyyyMMdd HH:mm:ss [UTC]` (UTC). */
function parseFilterTime(s: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(?:[- ]+(\d{2}):(\d{2})(?::(\d{2}))?)?/.exec(s.trim());
  if (!m) return undefined;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0));
}

/**
 * One account's orders, executions, positions and cash, and the matching engine that
 * fills them on market ticks.
 */
export class TradingDesk {
  readonly orders = new Map<number, DeskOrder>();
  /** Orders IB refused (error 201 and the like), kept as IB keeps them: completed, "Inactive". */
  readonly refused: DeskOrder[] = [];
  readonly executions: DeskExecution[] = [];
  readonly positions = new Map<string, DeskPosition>();
  /** PLACE_ORDER messages received per orderRef (every one, accepted or not). */
  readonly received = new Map<string, number>();
  cash: number;
  /** Start of the current market day (UTC midnight). */
  marketDay: number;
  ticks = 0;
  /** Counters. */
  readonly counts = {
    ordersReceived: 0,
    ordersAccepted: 0,
    ordersRejected: 0,
    cancels: 0,
    fills: 0,
    duplicateIdErrors: 0,
    faultDisconnects: 0,
  };

  #o: DeskOptions;
  #out: DeskOutput;
  #quotes = new Map<string, number>();
  #nextId = 1;
  #permSeq = 0;
  #execSeq = 0;
  #dupLeft: number;
  #dayStartEquity: number;
  #pnlSubs = new Map<number, { clientId: number; conId?: number }>();

  constructor(options: DeskOptions, out: DeskOutput, marketTime: number) {
    this.#o = options;
    this.#out = out;
    this.cash = options.cash;
    this.marketDay = Math.floor(marketTime / DAY) * DAY;
    this.#dupLeft = options.faults.duplicateOrderIds ?? 0;
    this.#dayStartEquity = options.cash;
  }

  /** The next order id to announce to a client (above every id used so far). */
  nextValidId(): number {
    return this.#nextId;
  }

  /** Sets (or clears, with `undefined`) a quote that fills and marks override bars with. */
  setQuote(symbol: string, price: number | undefined): void {
    if (price === undefined) this.#quotes.delete(symbol);
    else this.#quotes.set(symbol, price);
    this.#pushPnl();
  }

  /** The price a symbol is marked at now. */
  mark(symbol: string): number | undefined {
    return this.#quotes.get(symbol) ?? this.#o.barAt(symbol, this.marketDay)?.close;
  }

  /** Net liquidation: cash plus positions at their marks. */
  netLiquidation(): number {
    let v = this.cash;
    for (const [sym, p] of this.positions) v += p.quantity * (this.mark(sym) ?? p.avgCost);
    return v;
  }

  /** Sum of absolute position values. */
  grossPositionValue(): number {
    let v = 0;
    for (const [sym, p] of this.positions) {
      v += Math.abs(p.quantity * (this.mark(sym) ?? p.avgCost));
    }
    return v;
  }

  /** Unrealized P&L of every position (or one symbol). */
  unrealized(symbol?: string): number {
    let v = 0;
    for (const [sym, p] of this.positions) {
      if (symbol && sym !== symbol) continue;
      v += p.quantity * ((this.mark(sym) ?? p.avgCost) - p.avgCost);
    }
    return v;
  }

  /** Realized P&L of every position (or one symbol). */
  realized(symbol?: string): number {
    let v = 0;
    for (const [sym, p] of this.positions) if (!symbol || sym === symbol) v += p.realized;
    return v;
  }

  /** Buying power: net liquidation × leverage minus what positions already use. */
  buyingPower(): number {
    return Math.max(0, this.netLiquidation() * this.#o.leverage - this.grossPositionValue());
  }

  /** Handles a PLACE_ORDER from a client. */
  place(clientId: number, c: FieldCursor): void {
    const p = parsePlaceOrder(c);
    const o = this.#o;
    this.counts.ordersReceived++;
    this.received.set(p.orderRef, (this.received.get(p.orderRef) ?? 0) + 1);
    const err = (code: number, message: string) => {
      this.counts.ordersRejected++;
      if (code !== 103 && p.orderRef) {
        this.refused.push({
          orderId: p.orderId,
          clientId,
          permId: 1_000_000 + ++this.#permSeq,
          account: o.account,
          conId: o.known(p.symbol) ? o.conId(p.symbol) : 0,
          symbol: p.symbol,
          exchange: p.exchange || "SMART",
          primaryExch: p.primaryExch,
          currency: "USD",
          action: p.action === "SELL" ? "SELL" : "BUY",
          quantity: p.quantity,
          orderType: p.orderType.toUpperCase(),
          lmtPrice: p.lmtPrice,
          tif: p.tif || "DAY",
          orderRef: p.orderRef,
          status: "Inactive",
          filled: 0,
          avgFillPrice: 0,
          lastFillPrice: 0,
          placedTick: this.ticks,
          placedAt: o.now(),
          completedAt: o.now(),
          reason: message,
        });
      }
      this.#out.error(clientId, p.orderId, code, message);
    };
    if (this.#dupLeft > 0) {
      this.#dupLeft--;
      this.counts.duplicateIdErrors++;
      o.log(`fault: answering order ${p.orderId} (${p.orderRef}) with 103`);
      return err(103, "Duplicate order id");
    }
    const existing = this.orders.get(p.orderId);
    if (existing) {
      if (existing.clientId === clientId && existing.status === "Submitted") {
        // IB: placing an open order's id again modifies it.
        if (p.lmtPrice !== undefined) existing.lmtPrice = p.lmtPrice;
        if (p.quantity > existing.filled) existing.quantity = p.quantity;
        this.#out.send(clientId, openOrderFields(existing));
        this.#out.send(clientId, orderStatusFields(existing));
        return;
      }
      return err(103, "Duplicate order id");
    }
    if (p.orderId < 1) return err(103, "Duplicate order id");
    this.#nextId = Math.max(this.#nextId, p.orderId + 1);
    if (p.secType !== "STK" || (p.currency && p.currency !== "USD") || !o.known(p.symbol)) {
      return err(200, "No security definition has been found for the request");
    }
    if (p.account && p.account !== o.account) {
      return err(
        201,
        `Order rejected - reason:The account code ${p.account} is not valid (this gateway serves ${o.account})`,
      );
    }
    if (p.action !== "BUY" && p.action !== "SELL") {
      return err(201, `Order rejected - reason:Invalid action "${p.action}"`);
    }
    const type = p.orderType.toUpperCase();
    if (type !== "MKT" && type !== "LMT" && type !== "MOC") {
      return err(387, `Unsupported order type ${p.orderType} for this exchange and security type.`);
    }
    if (type === "LMT" && (p.lmtPrice === undefined || !(p.lmtPrice > 0))) {
      return err(201, "Order rejected - reason:A limit order needs a positive limit price");
    }
    if (!(p.quantity > 0) || (!o.fractional && !Number.isInteger(p.quantity))) {
      return err(
        10243,
        `Fractional-sized order cannot be placed via API (quantity ${p.quantity}); use a positive whole number of shares`,
      );
    }
    const f = o.faults;
    if (f.rejectSymbols?.includes(p.symbol) || f.rejectRefs?.includes(p.orderRef)) {
      o.log(`fault: rejecting order ${p.orderId} (${p.orderRef})`);
      return err(
        f.rejectCode ?? 201,
        f.rejectMessage ?? "Order rejected - reason:rejected by the loopback gateway (fault)",
      );
    }
    const signed = p.action === "BUY" ? p.quantity : -p.quantity;
    const held = this.positions.get(p.symbol)?.quantity ?? 0;
    const price = type === "LMT" ? p.lmtPrice! : this.mark(p.symbol) ?? 0;
    const added = (Math.abs(held + signed) - Math.abs(held)) * price;
    const bp = this.buyingPower();
    if (added > bp) {
      return err(
        201,
        `Order rejected - reason:YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED POSITION YOUR EQUITY WITH LOAN VALUE [${
          this.netLiquidation().toFixed(2)
        } USD] MUST EXCEED THE INITIAL MARGIN [${added.toFixed(2)} USD]`,
      );
    }
    const order: DeskOrder = {
      orderId: p.orderId,
      clientId,
      permId: 1_000_000 + ++this.#permSeq,
      account: o.account,
      conId: o.conId(p.symbol),
      symbol: p.symbol,
      exchange: p.exchange || "SMART",
      primaryExch: p.primaryExch,
      currency: "USD",
      action: p.action,
      quantity: p.quantity,
      orderType: type,
      lmtPrice: type === "LMT" ? p.lmtPrice : undefined,
      tif: p.tif || "DAY",
      orderRef: p.orderRef,
      status: "Submitted",
      filled: 0,
      avgFillPrice: 0,
      lastFillPrice: 0,
      placedTick: this.ticks,
      placedAt: o.now(),
    };
    this.orders.set(order.orderId, order);
    this.counts.ordersAccepted++;
    o.log(
      `order ${order.orderId} ${order.action} ${order.quantity} ${order.symbol} ${order.orderType}` +
        `${order.tif === "OPG" ? " OPG" : ""} ref ${order.orderRef}`,
    );
    if (f.disconnectOnOrder !== undefined && this.counts.ordersAccepted === f.disconnectOnOrder) {
      this.counts.faultDisconnects++;
      o.log(`fault: dropping client ${clientId} after accepting order ${order.orderId}`);
      this.#out.drop(clientId);
      return;
    }
    this.#out.send(clientId, openOrderFields(order));
    this.#out.send(clientId, orderStatusFields(order));
  }

  /** Handles a CANCEL_ORDER. */
  cancel(clientId: number, c: FieldCursor): void {
    c.int(); // version
    const id = c.int();
    const order = this.orders.get(id);
    if (!order || order.clientId !== clientId) {
      return this.#out.error(
        clientId,
        id,
        10147,
        `OrderId ${id} that needs to be cancelled is not found.`,
      );
    }
    if (order.status !== "Submitted") {
      return this.#out.error(
        clientId,
        id,
        161,
        `Cancel attempted when order is not in a cancellable state.  Order permId =${order.permId}`,
      );
    }
    order.status = "Cancelled";
    order.completedAt = this.#o.now();
    order.reason = "Cancelled by the API client";
    this.counts.cancels++;
    this.#out.error(clientId, id, 202, "Order Canceled - reason:");
    this.#out.send(clientId, orderStatusFields(order));
  }

  /** Answers REQ_OPEN_ORDERS (this client's) or REQ_ALL_OPEN_ORDERS (every client's). */
  openOrders(clientId: number, all: boolean): void {
    for (const o of this.orders.values()) {
      if (o.status !== "Submitted" || (!all && o.clientId !== clientId)) continue;
      this.#out.send(clientId, openOrderFields(o));
      this.#out.send(clientId, orderStatusFields(o));
    }
    this.#out.send(clientId, [IN_ORDERS.OPEN_ORDER_END, 1]);
  }

  /** Answers REQ_COMPLETED_ORDERS: filled, cancelled and refused orders, oldest first. */
  completedOrders(clientId: number): void {
    const done = [...this.orders.values()].filter((o) => o.status !== "Submitted")
      .concat(this.refused).sort((a, b) => (a.completedAt ?? 0) - (b.completedAt ?? 0));
    for (const o of done) this.#out.send(clientId, completedOrderFields(o));
    this.#out.send(clientId, [IN_ORDERS.COMPLETED_ORDERS_END]);
  }

  /** Answers REQ_EXECUTIONS with the matching executions, each followed by its commission report. */
  executionsFor(clientId: number, c: FieldCursor): void {
    c.int(); // version
    const reqId = c.int();
    const fClient = c.str();
    const fAcct = c.str();
    const fTime = c.str();
    const fSymbol = c.str();
    c.str(); // secType
    c.str(); // exchange
    const fSide = c.str();
    const since = fTime ? parseFilterTime(fTime) : undefined;
    for (const e of this.executions) {
      if (fClient !== "" && fClient !== "0" && Number(fClient) !== e.clientId) continue;
      if (fAcct && fAcct !== e.account) continue;
      if (since !== undefined && e.time < since) continue;
      if (fSymbol && fSymbol.toUpperCase() !== e.symbol) continue;
      if (fSide && !((fSide === "BUY") === (e.side === "BOT"))) continue;
      this.#out.send(clientId, executionFields(reqId, e));
      this.#out.send(clientId, commissionFields(e));
    }
    this.#out.send(clientId, [IN_ORDERS.EXECUTION_DATA_END, 1, reqId]);
  }

  /** Answers REQ_POSITIONS. */
  positionsFor(clientId: number): void {
    for (const [sym, p] of this.positions) {
      if (p.quantity === 0) continue;
      this.#out.send(clientId, [
        IN_ORDERS.POSITION,
        3,
        this.#o.account,
        p.conId,
        sym,
        "STK",
        "",
        0,
        "",
        "",
        "SMART",
        "USD",
        sym,
        sym,
        num(p.quantity),
        num(p.avgCost),
      ]);
    }
    this.#out.send(clientId, [IN_ORDERS.POSITION_END, 1]);
  }

  /** Answers REQ_ACCOUNT_SUMMARY with the tags asked for (all it knows for "All"). */
  accountSummary(clientId: number, c: FieldCursor): void {
    c.int(); // version
    const reqId = c.int();
    c.str(); // group
    const tags = new Set(c.str().split(",").map((t) => t.trim()).filter(Boolean));
    const nlv = this.netLiquidation();
    const values: Record<string, number | string> = {
      AccountType: "INDIVIDUAL",
      NetLiquidation: nlv,
      TotalCashValue: this.cash,
      SettledCash: this.cash,
      GrossPositionValue: this.grossPositionValue(),
      BuyingPower: this.buyingPower(),
      AvailableFunds: this.buyingPower() / this.#o.leverage,
      EquityWithLoanValue: nlv,
      RealizedPnL: this.realized(),
      UnrealizedPnL: this.unrealized(),
    };
    for (const [tag, v] of Object.entries(values)) {
      if (tags.size && !tags.has(tag)) continue;
      this.#out.send(clientId, [
        IN_ORDERS.ACCOUNT_SUMMARY,
        1,
        reqId,
        this.#o.account,
        tag,
        typeof v === "number" ? num(v) : v,
        typeof v === "number" ? "USD" : "",
      ]);
    }
    this.#out.send(clientId, [IN_ORDERS.ACCOUNT_SUMMARY_END, 1, reqId]);
  }

  /** REQ_PNL / REQ_PNL_SINGLE: answers now and on every change until cancelled. */
  subscribePnl(clientId: number, c: FieldCursor, single: boolean): void {
    const reqId = c.int();
    const account = c.str();
    c.str(); // modelCode
    const conId = single ? c.int() : undefined;
    if (account && account !== this.#o.account) {
      return this.#out.error(
        clientId,
        reqId,
        321,
        `Error validating request: unknown account ${account}`,
      );
    }
    this.#pnlSubs.set(reqId, { clientId, conId });
    this.#sendPnl(reqId);
  }

  /** CANCEL_PNL / CANCEL_PNL_SINGLE. */
  unsubscribePnl(c: FieldCursor): void {
    this.#pnlSubs.delete(c.int());
  }

  /** Forgets subscriptions of a client that went away. */
  clientGone(clientId: number): void {
    for (const [id, s] of this.#pnlSubs) if (s.clientId === clientId) this.#pnlSubs.delete(id);
  }

  #sendPnl(reqId: number): void {
    const s = this.#pnlSubs.get(reqId);
    if (!s) return;
    const daily = this.netLiquidation() - this.#dayStartEquity;
    if (s.conId === undefined) {
      this.#out.send(s.clientId, [
        IN_ORDERS.PNL,
        reqId,
        num(daily),
        num(this.unrealized()),
        num(this.realized()),
      ]);
      return;
    }
    const entry = [...this.positions].find(([, p]) => p.conId === s.conId);
    const sym = entry?.[0];
    const p = entry?.[1];
    const mark = sym ? this.mark(sym) ?? p!.avgCost : 0;
    this.#out.send(s.clientId, [
      IN_ORDERS.PNL_SINGLE,
      reqId,
      num(p?.quantity ?? 0),
      num(sym ? this.#dailySingle(sym) : 0),
      num(sym ? this.unrealized(sym) : 0),
      num(sym ? this.realized(sym) : 0),
      num((p?.quantity ?? 0) * mark),
    ]);
  }

  #dailySingle(symbol: string): number {
    // Unrealized change since the day started is not tracked per position; report the
    // position's unrealized plus realized P&L of the day's executions.
    const dayStart = this.marketDay;
    let realized = 0;
    for (const e of this.executions) {
      if (e.symbol === symbol && e.time >= dayStart) realized += e.realizedPnl - e.commission;
    }
    return this.unrealized(symbol) + realized;
  }

  #pushPnl(): void {
    for (const id of this.#pnlSubs.keys()) this.#sendPnl(id);
  }

  /**
   * Moves the market to the next weekday and fills what can be filled there.
   * @returns Resolves once the fills are applied and sent.
   */
  async tick(): Promise<void> {
    let day = this.marketDay + DAY;
    while ([0, 6].includes(new Date(day).getUTCDay())) day += DAY;
    this.#dayStartEquity = this.netLiquidation();
    this.marketDay = day;
    this.ticks++;
    const due = [...this.orders.values()].filter((o) =>
      o.status === "Submitted" && o.placedTick < this.ticks
    );
    const delay = this.#o.faults.fillDelayMs ?? 0;
    if (delay > 0 && due.length) await this.#o.sleep(delay);
    for (const o of due) {
      if (o.status !== "Submitted") continue; // cancelled meanwhile
      this.#tryFill(o);
    }
    this.#pushPnl();
  }

  #tryFill(o: DeskOrder): void {
    const quote = this.#quotes.get(o.symbol);
    const buy = o.action === "BUY";
    let price: number | undefined;
    if (quote !== undefined) {
      if (o.orderType !== "LMT" || (buy ? quote <= o.lmtPrice! : quote >= o.lmtPrice!)) {
        price = quote;
      }
    } else {
      const bar = this.#o.barAt(o.symbol, this.marketDay);
      if (!bar) return;
      if (o.orderType === "MOC") price = bar.close;
      else if (o.orderType === "MKT") price = bar.open;
      else if (buy) {
        price = bar.open <= o.lmtPrice!
          ? bar.open
          : bar.low <= o.lmtPrice!
          ? o.lmtPrice
          : undefined;
      } else {price = bar.open >= o.lmtPrice!
          ? bar.open
          : bar.high >= o.lmtPrice!
          ? o.lmtPrice
          : undefined;}
    }
    if (price === undefined) return;
    const slip = this.#o.slippageBps / 10_000;
    price = buy ? price * (1 + slip) : price * (1 - slip);
    if (o.orderType === "LMT") {
      price = buy ? Math.min(price, o.lmtPrice!) : Math.max(price, o.lmtPrice!);
    }
    price = Math.round(price * 10_000) / 10_000;
    const remaining = o.quantity - o.filled;
    const cap = this.#o.faults.maxFillPerTick;
    const shares = cap !== undefined && cap > 0 ? Math.min(remaining, cap) : remaining;
    this.#fill(o, shares, price);
  }

  #fill(o: DeskOrder, shares: number, price: number): void {
    const c = this.#o.commission;
    const value = shares * price;
    const commission = Math.round(
      Math.min(Math.max(shares * c.perShare, c.min), value * c.maxFraction) * 1e6,
    ) / 1e6;
    const signed = o.action === "BUY" ? shares : -shares;
    const pos = this.positions.get(o.symbol) ??
      { conId: o.conId, quantity: 0, avgCost: 0, realized: 0 };
    let realized = 0;
    if (pos.quantity !== 0 && Math.sign(pos.quantity) !== Math.sign(signed)) {
      const closed = Math.min(Math.abs(pos.quantity), shares);
      realized = closed * (price - pos.avgCost) * Math.sign(pos.quantity);
    }
    const next = pos.quantity + signed;
    if (next === 0) pos.avgCost = 0;
    else if (pos.quantity === 0 || Math.sign(pos.quantity) !== Math.sign(next)) pos.avgCost = price;
    else if (Math.abs(next) > Math.abs(pos.quantity)) {
      pos.avgCost = (pos.avgCost * Math.abs(pos.quantity) + price * shares) / Math.abs(next);
    }
    pos.quantity = next;
    pos.realized += realized - commission;
    this.positions.set(o.symbol, pos);
    this.cash -= signed * price + commission;
    const before = o.filled;
    o.filled += shares;
    o.avgFillPrice = (o.avgFillPrice * before + price * shares) / o.filled;
    o.lastFillPrice = price;
    if (o.filled >= o.quantity) {
      o.status = "Filled";
      o.completedAt = this.#o.now();
    }
    const e: DeskExecution = {
      execId: `0000${o.permId.toString(16)}.${
        (++this.#execSeq).toString(16).padStart(8, "0")
      }.01.01`,
      orderId: o.orderId,
      clientId: o.clientId,
      permId: o.permId,
      account: o.account,
      conId: o.conId,
      symbol: o.symbol,
      side: o.action === "BUY" ? "BOT" : "SLD",
      shares,
      price,
      cumQty: o.filled,
      avgPrice: o.avgFillPrice,
      orderRef: o.orderRef,
      commission,
      realizedPnl: realized,
      time: this.#o.now(),
    };
    this.executions.push(e);
    this.counts.fills++;
    this.#o.log(`fill ${e.execId}: order ${o.orderId} ${e.side} ${shares} ${o.symbol} @ ${price}`);
    // IB's order for a fill: the execution, the order's new status, then the commission.
    this.#out.send(o.clientId, executionFields(-1, e));
    this.#out.send(o.clientId, orderStatusFields(o));
    if (o.status === "Filled") this.#out.send(o.clientId, openOrderFields(o));
    this.#out.send(o.clientId, commissionFields(e));
  }
}
