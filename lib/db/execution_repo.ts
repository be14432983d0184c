/**
 * Execution records (migrations `1200_execution.sql`, `1201_trading_state_changes.sql`):
 * trading runs, their orders with every state change, fills, positions and account values
 * per bar with P&L, risk decisions, trading-state changes, the manual kill switch per
 * model, and the paper broker's saved state.
 * The same SQL runs on PGlite and on a server.
 *
 * @module
 */
import type { Queryable } from "./store.ts";
import { jsonColumn } from "./_json.ts";
import { redactDeep } from "../util/redact.ts";

/** How a run trades. */
export const TRADING_MODES = ["replay", "paper", "ibkr"] as const;
/** One of {@linkcode TRADING_MODES}. */
export type TradingMode = typeof TRADING_MODES[number];

/** A run's trading state (risk overlays and the kill switch move it). */
export type StoredTradingState = "active" | "reducing" | "halted";

/** Statuses of a stored order: the broker's, plus the ones it never reached the broker with. */
export type StoredOrderStatus =
  | "planned"
  | "blocked"
  | "dry-run"
  | "submitted"
  | "partially-filled"
  | "filled"
  | "cancelled"
  | "rejected";

/** A `tt_trading_runs` row. */
export interface TradingRunRecord {
  id: number;
  modelId: number | null;
  brokerKind: "paper" | "ibkr";
  accountId: string;
  mode: TradingMode;
  dryRun: boolean;
  status: "running" | "ok" | "failed";
  tradingState: StoredTradingState;
  stateReason: string | null;
  settings: Record<string, unknown>;
  /** The trading cycle's carried state (decision count, first bar, peaks …). */
  cycle: Record<string, unknown>;
  error: string | null;
  lastBar: Date | null;
  startedAt: Date;
  finishedAt: Date | null;
}

/** What {@linkcode startTradingRun} records. */
export interface NewTradingRun {
  modelId: number | null;
  brokerKind: "paper" | "ibkr";
  accountId: string;
  mode: TradingMode;
  dryRun?: boolean;
  settings?: Record<string, unknown>;
}

const RUN_COLUMNS = `id, model_id, broker_kind, account_id, mode, dry_run, status, trading_state,
  state_reason, settings_json, cycle_json, error, last_bar, started_at, finished_at`;

function toRun(r: Record<string, unknown>): TradingRunRecord {
  return {
    id: Number(r.id),
    modelId: r.model_id === null ? null : Number(r.model_id),
    brokerKind: r.broker_kind as TradingRunRecord["brokerKind"],
    accountId: String(r.account_id),
    mode: r.mode as TradingMode,
    dryRun: Boolean(r.dry_run),
    status: r.status as TradingRunRecord["status"],
    tradingState: r.trading_state as StoredTradingState,
    stateReason: (r.state_reason as string | null) ?? null,
    settings: jsonColumn(r.settings_json as Record<string, unknown>) ?? {},
    cycle: jsonColumn(r.cycle_json as Record<string, unknown>) ?? {},
    error: (r.error as string | null) ?? null,
    lastBar: (r.last_bar as Date | null) ?? null,
    startedAt: r.started_at as Date,
    finishedAt: (r.finished_at as Date | null) ?? null,
  };
}

/**
 * Starts a trading run (status `running`, state `active`).
 * @param q The store.
 * @param run Model, broker, account, mode, dry run and settings (redacted before storing).
 * @returns The run id.
 * @example
 * ```ts
 * const runId = await startTradingRun(store, { modelId: 1, brokerKind: "paper", accountId: "PAPER", mode: "replay" });
 * ```
 */
export async function startTradingRun(q: Queryable, run: NewTradingRun): Promise<number> {
  const [row] = await q.query<{ id: number }>(
    `INSERT INTO tt_trading_runs (model_id, broker_kind, account_id, mode, dry_run, settings_json)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb) RETURNING id`,
    [
      run.modelId,
      run.brokerKind,
      run.accountId,
      run.mode,
      run.dryRun ?? false,
      JSON.stringify(redactDeep(run.settings ?? {})),
    ],
  );
  return Number(row.id);
}

/**
 * One run.
 * @param q The store.
 * @param id The run id.
 * @returns The run, or null.
 * @example
 * ```ts
 * (await readTradingRun(store, 3))?.tradingState;
 * ```
 */
export async function readTradingRun(q: Queryable, id: number): Promise<TradingRunRecord | null> {
  const rows = await q.query(`SELECT ${RUN_COLUMNS} FROM tt_trading_runs WHERE id = $1`, [id]);
  return rows.length ? toRun(rows[0]) : null;
}

/**
 * The latest run of a model in a mode and account (a live paper run goes on across
 * processes: each daily cycle reuses it, so its order refs stay the same on a rerun).
 * @param q The store.
 * @param where Model, mode and account; `dryRun` runs are kept apart.
 * @returns The newest matching run, or null.
 * @example
 * ```ts
 * const run = await findTradingRun(store, { modelId: 1, mode: "paper", accountId: "PAPER-1" });
 * ```
 */
export async function findTradingRun(
  q: Queryable,
  where: { modelId: number | null; mode: TradingMode; accountId: string; dryRun?: boolean },
): Promise<TradingRunRecord | null> {
  const rows = await q.query(
    `SELECT ${RUN_COLUMNS} FROM tt_trading_runs
     WHERE model_id IS NOT DISTINCT FROM $1 AND mode = $2 AND account_id = $3 AND dry_run = $4
     ORDER BY id DESC LIMIT 1`,
    [where.modelId, where.mode, where.accountId, where.dryRun ?? false],
  );
  return rows.length ? toRun(rows[0]) : null;
}

/**
 * Runs, newest first.
 * @param q The store.
 * @param where Optionally one model's.
 * @returns The runs.
 * @example
 * ```ts
 * (await listTradingRuns(store, { modelId: 1 }))[0]?.id;
 * ```
 */
export async function listTradingRuns(
  q: Queryable,
  where: { modelId?: number } = {},
): Promise<TradingRunRecord[]> {
  const rows = where.modelId === undefined
    ? await q.query(`SELECT ${RUN_COLUMNS} FROM tt_trading_runs ORDER BY id DESC`)
    : await q.query(
      `SELECT ${RUN_COLUMNS} FROM tt_trading_runs WHERE model_id = $1 ORDER BY id DESC`,
      [where.modelId],
    );
  return rows.map(toRun);
}

/** Fields {@linkcode updateTradingRun} may change; absent ones are kept. */
export interface TradingRunUpdate {
  status?: TradingRunRecord["status"];
  tradingState?: StoredTradingState;
  /** The reason of the trading state (null clears it). */
  stateReason?: string | null;
  cycle?: Record<string, unknown>;
  error?: string | null;
  lastBar?: number | null;
  /** Set `finished_at` to now. */
  finished?: boolean;
}

/**
 * Updates a run.
 * @param q The store.
 * @param id The run.
 * @param u What changes.
 * @example
 * ```ts
 * await updateTradingRun(store, runId, { status: "ok", finished: true });
 * ```
 */
export async function updateTradingRun(
  q: Queryable,
  id: number,
  u: TradingRunUpdate,
): Promise<void> {
  const sets: string[] = [];
  const params: unknown[] = [id];
  const set = (col: string, v: unknown, cast = "") => {
    params.push(v);
    sets.push(`${col} = $${params.length}${cast}`);
  };
  if (u.status !== undefined) set("status", u.status);
  if (u.tradingState !== undefined) set("trading_state", u.tradingState);
  if (u.stateReason !== undefined) set("state_reason", u.stateReason);
  if (u.cycle !== undefined) set("cycle_json", JSON.stringify(u.cycle), "::jsonb");
  if (u.error !== undefined) set("error", u.error);
  if (u.lastBar !== undefined) {
    set("last_bar", u.lastBar === null ? null : new Date(u.lastBar).toISOString(), "::timestamptz");
  }
  if (u.finished) sets.push("finished_at = now()");
  if (sets.length === 0) return;
  await q.query(`UPDATE tt_trading_runs SET ${sets.join(", ")} WHERE id = $1`, params);
}

/**
 * Sets or clears the manual kill switch of a model's trading (`deno task trade --halt`).
 * @param q The store.
 * @param modelId The model.
 * @param halted True: nothing goes out for this model until resumed.
 * @param reason Why (stored and reported).
 * @example
 * ```ts
 * await setTradingHalt(store, 1, true, "manual halt from the command line");
 * ```
 */
export async function setTradingHalt(
  q: Queryable,
  modelId: number,
  halted: boolean,
  reason: string | null = null,
): Promise<void> {
  await q.query(
    `INSERT INTO tt_trading_controls (model_id, halted, reason, updated_at) VALUES ($1, $2, $3, now())
     ON CONFLICT (model_id) DO UPDATE SET halted = EXCLUDED.halted, reason = EXCLUDED.reason,
       updated_at = now()`,
    [modelId, halted, reason],
  );
}

/**
 * The kill switch of a model.
 * @param q The store.
 * @param modelId The model.
 * @returns Whether it is halted, and why.
 * @example
 * ```ts
 * (await readTradingHalt(store, 1)).halted;
 * ```
 */
export async function readTradingHalt(
  q: Queryable,
  modelId: number,
): Promise<{ halted: boolean; reason: string | null; updatedAt: Date | null }> {
  const rows = await q.query<{ halted: boolean; reason: string | null; updated_at: Date }>(
    "SELECT halted, reason, updated_at FROM tt_trading_controls WHERE model_id = $1",
    [modelId],
  );
  return rows.length
    ? { halted: rows[0].halted, reason: rows[0].reason, updatedAt: rows[0].updated_at }
    : { halted: false, reason: null, updatedAt: null };
}

/** A `tt_exec_orders` row. */
export interface StoredOrder {
  ref: string;
  runId: number;
  /** Epoch ms of the decision bar. */
  decisionBar: number;
  symbol: string;
  side: "BUY" | "SELL";
  quantity: number;
  type: "MKT" | "LMT" | "MOO" | "MOC";
  limitPrice?: number | null;
  status: StoredOrderStatus;
  filled?: number;
  avgPrice?: number | null;
  brokerOrderId?: number | null;
  reason?: string | null;
  /** The overlay rule that blocked it. */
  blockedRule?: string | null;
}

const fin = (x: number | null | undefined) =>
  x === undefined || x === null || !Number.isFinite(x) ? null : x;

/** Multi-row `INSERT … VALUES (…), (…)` with numbered parameters. */
async function insertRows(
  q: Queryable,
  head: string,
  rows: readonly unknown[][],
  tail: string,
  casts: readonly string[],
): Promise<void> {
  const chunk = 500;
  for (let s = 0; s < rows.length; s += chunk) {
    const params: unknown[] = [];
    const tuples = rows.slice(s, s + chunk).map((r) =>
      `(${
        r.map((v, i) => {
          params.push(v);
          return `$${params.length}${casts[i] ?? ""}`;
        }).join(", ")
      })`
    );
    await q.query(`${head} VALUES ${tuples.join(", ")} ${tail}`, params);
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Records orders (insert, or update the state of a known ref: status, filled, price,
 * broker id, reason, blocking rule).
 * @param q The store.
 * @param orders The orders.
 * @example
 * ```ts
 * await recordOrders(store, [{ ref, runId, decisionBar, symbol: "AAPL", side: "BUY", quantity: 10, type: "MOO", status: "planned" }]);
 * ```
 */
export async function recordOrders(q: Queryable, orders: readonly StoredOrder[]): Promise<void> {
  if (orders.length === 0) return;
  await insertRows(
    q,
    `INSERT INTO tt_exec_orders (ref, run_id, decision_bar, symbol, side, quantity, order_type,
       limit_price, status, filled, avg_price, broker_order_id, reason, blocked_rule)`,
    orders.map((o) => [
      o.ref,
      o.runId,
      iso(o.decisionBar),
      o.symbol,
      o.side,
      o.quantity,
      o.type,
      fin(o.limitPrice),
      o.status,
      o.filled ?? 0,
      fin(o.avgPrice),
      o.brokerOrderId ?? null,
      o.reason ?? null,
      o.blockedRule ?? null,
    ]),
    // A ref planned again (its first attempt never reached the broker) starts afresh.
    `ON CONFLICT (ref) DO UPDATE SET status = EXCLUDED.status, filled = EXCLUDED.filled,
       side = EXCLUDED.side, quantity = EXCLUDED.quantity, order_type = EXCLUDED.order_type,
       limit_price = EXCLUDED.limit_price, avg_price = EXCLUDED.avg_price,
       broker_order_id = COALESCE(EXCLUDED.broker_order_id, tt_exec_orders.broker_order_id),
       reason = CASE WHEN EXCLUDED.status = 'planned' THEN NULL
         ELSE COALESCE(EXCLUDED.reason, tt_exec_orders.reason) END,
       blocked_rule = COALESCE(EXCLUDED.blocked_rule, tt_exec_orders.blocked_rule),
       updated_at = now()`,
    ["", "", "::timestamptz"],
  );
}

/**
 * A run's orders, oldest decision first.
 * @param q The store.
 * @param runId The run.
 * @param where `statuses`, `refs`: only these.
 * @returns The orders.
 * @example
 * ```ts
 * const open = await readOrders(store, runId, { statuses: ["planned", "submitted", "partially-filled"] });
 * ```
 */
export async function readOrders(
  q: Queryable,
  runId: number,
  where: { statuses?: readonly StoredOrderStatus[]; refs?: readonly string[] } = {},
): Promise<StoredOrder[]> {
  const filters: string[] = [];
  const params: unknown[] = [runId];
  if (where.statuses) {
    params.push([...where.statuses]);
    filters.push(`AND status = ANY($${params.length}::text[])`);
  }
  if (where.refs) {
    params.push([...where.refs]);
    filters.push(`AND ref = ANY($${params.length}::text[])`);
  }
  const rows = await q.query<Record<string, unknown>>(
    `SELECT ref, run_id, decision_bar, symbol, side, quantity, order_type, limit_price, status,
       filled, avg_price, broker_order_id, reason, blocked_rule
     FROM tt_exec_orders WHERE run_id = $1 ${filters.join(" ")} ORDER BY decision_bar, ref`,
    params,
  );
  return rows.map((r): StoredOrder => ({
    ref: String(r.ref),
    runId: Number(r.run_id),
    decisionBar: (r.decision_bar as Date).getTime(),
    symbol: String(r.symbol),
    side: r.side as StoredOrder["side"],
    quantity: Number(r.quantity),
    type: r.order_type as StoredOrder["type"],
    limitPrice: r.limit_price === null ? null : Number(r.limit_price),
    status: r.status as StoredOrderStatus,
    filled: Number(r.filled),
    avgPrice: r.avg_price === null ? null : Number(r.avg_price),
    brokerOrderId: r.broker_order_id === null ? null : Number(r.broker_order_id),
    reason: (r.reason as string | null) ?? null,
    blockedRule: (r.blocked_rule as string | null) ?? null,
  }));
}

/** A `tt_exec_order_events` row. */
export interface StoredOrderEvent {
  ref: string;
  time: number;
  status: string;
  filled: number;
  remaining: number;
  avgPrice?: number | null;
  message?: string | null;
}

/**
 * Appends order state changes.
 * @param q The store.
 * @param events The changes (the orders must be recorded).
 * @example
 * ```ts
 * await recordOrderEvents(store, [{ ref, time: Date.now(), status: "submitted", filled: 0, remaining: 10 }]);
 * ```
 */
export async function recordOrderEvents(
  q: Queryable,
  events: readonly StoredOrderEvent[],
): Promise<void> {
  if (events.length === 0) return;
  await insertRows(
    q,
    "INSERT INTO tt_exec_order_events (ref, time, status, filled, remaining, avg_price, message)",
    events.map((
      e,
    ) => [e.ref, iso(e.time), e.status, e.filled, e.remaining, fin(e.avgPrice), e.message ?? null]),
    "",
    ["", "::timestamptz"],
  );
}

/**
 * An order's state changes, oldest first.
 * @param q The store.
 * @param ref The order.
 * @returns Its events.
 * @example
 * ```ts
 * (await readOrderEvents(store, ref)).map((e) => e.status);
 * ```
 */
export async function readOrderEvents(q: Queryable, ref: string): Promise<StoredOrderEvent[]> {
  const rows = await q.query<Record<string, unknown>>(
    `SELECT ref, time, status, filled, remaining, avg_price, message FROM tt_exec_order_events
     WHERE ref = $1 ORDER BY id`,
    [ref],
  );
  return rows.map((r) => ({
    ref: String(r.ref),
    time: (r.time as Date).getTime(),
    status: String(r.status),
    filled: Number(r.filled),
    remaining: Number(r.remaining),
    avgPrice: r.avg_price === null ? null : Number(r.avg_price),
    message: (r.message as string | null) ?? null,
  }));
}

/** A `tt_exec_fills` row. */
export interface StoredFill {
  execId: string;
  runId: number;
  ref: string;
  brokerOrderId: number;
  symbol: string;
  side: "BUY" | "SELL";
  quantity: number;
  price: number;
  commission: number;
  slippage: number;
  time: number;
}

/**
 * Records fills; a known execution (its order's ref and exec id) is kept as it is (a rerun
 * records each execution once). Exec ids are the broker's: unique within one broker, but
 * two brokers (two gateways, a paper account and IB) may repeat one, so the key is the
 * pair (migration `1201_trading_state_changes.sql`).
 * @param q The store.
 * @param fills The fills (their orders must be recorded).
 * @returns The exec ids that were new.
 * @example
 * ```ts
 * const added = await recordFills(store, fills.map((f) => ({ ...f, runId })));
 * ```
 */
export async function recordFills(q: Queryable, fills: readonly StoredFill[]): Promise<string[]> {
  if (fills.length === 0) return [];
  const key = (ref: string, execId: string) => `${ref}\u0000${execId}`;
  const known = new Set(
    (await q.query<{ ref: string; exec_id: string }>(
      "SELECT ref, exec_id FROM tt_exec_fills WHERE exec_id = ANY($1::text[]) AND ref = ANY($2::text[])",
      [fills.map((f) => f.execId), [...new Set(fills.map((f) => f.ref))]],
    )).map((r) => key(r.ref, r.exec_id)),
  );
  const fresh = fills.filter((f) => !known.has(key(f.ref, f.execId)));
  await insertRows(
    q,
    `INSERT INTO tt_exec_fills (exec_id, run_id, ref, broker_order_id, symbol, side, quantity,
       price, commission, slippage, time)`,
    fresh.map((f) => [
      f.execId,
      f.runId,
      f.ref,
      f.brokerOrderId,
      f.symbol,
      f.side,
      f.quantity,
      f.price,
      fin(f.commission),
      fin(f.slippage),
      iso(f.time),
    ]),
    "ON CONFLICT (ref, exec_id) DO NOTHING",
    ["", "", "", "", "", "", "", "", "", "", "::timestamptz"],
  );
  return fresh.map((f) => f.execId);
}

/**
 * A run's fills, oldest first.
 * @param q The store.
 * @param runId The run.
 * @param where `from`: only fills at or after this time (epoch ms).
 * @returns The fills.
 * @example
 * ```ts
 * (await readFills(store, runId)).length;
 * ```
 */
export async function readFills(
  q: Queryable,
  runId: number,
  where: { from?: number } = {},
): Promise<StoredFill[]> {
  const rows = await q.query<Record<string, unknown>>(
    `SELECT exec_id, run_id, ref, broker_order_id, symbol, side, quantity, price, commission,
       slippage, time FROM tt_exec_fills WHERE run_id = $1 AND time >= $2::timestamptz
     ORDER BY time, exec_id`,
    [runId, iso(where.from ?? 0)],
  );
  return rows.map((r) => ({
    execId: String(r.exec_id),
    runId: Number(r.run_id),
    ref: String(r.ref),
    brokerOrderId: Number(r.broker_order_id),
    symbol: String(r.symbol),
    side: r.side as StoredFill["side"],
    quantity: Number(r.quantity),
    price: Number(r.price),
    commission: r.commission === null ? NaN : Number(r.commission),
    slippage: r.slippage === null ? NaN : Number(r.slippage),
    time: (r.time as Date).getTime(),
  }));
}

/**
 * The book a run's fills give: net signed shares per symbol.
 * @param q The store.
 * @param runId The run.
 * @returns Symbol → signed shares (symbols netted to 0 included).
 * @example
 * ```ts
 * (await fillBook(store, runId)).get("AAPL");
 * ```
 */
export async function fillBook(q: Queryable, runId: number): Promise<Map<string, number>> {
  const rows = await q.query<{ symbol: string; qty: number }>(
    `SELECT symbol, sum(CASE WHEN side = 'BUY' THEN quantity ELSE -quantity END) AS qty
     FROM tt_exec_fills WHERE run_id = $1 GROUP BY symbol`,
    [runId],
  );
  return new Map(rows.map((r) => [r.symbol, Number(r.qty)]));
}

/** One position at one bar (`tt_exec_positions`). */
export interface StoredPosition {
  symbol: string;
  quantity: number;
  avgCost: number;
  marketPrice: number;
  marketValue: number;
  unrealizedPnl: number;
  realizedPnl: number;
  /** P&L of this position over the bar (change of unrealised + realised). */
  pnl: number;
}

/** The account at one bar (`tt_exec_account`). */
export interface StoredAccount {
  netLiquidation: number;
  cash: number;
  grossPositionValue: number;
  buyingPower: number;
  realizedPnl: number;
  unrealizedPnl: number;
  dailyPnl: number;
  /** Change of net liquidation since the previous recorded bar. */
  pnl: number;
  /** Commission paid in this bar. */
  commission: number;
}

/**
 * Records the account and every position at a bar (replacing what that bar had).
 * @param q The store.
 * @param runId The run.
 * @param bar Epoch ms of the bar.
 * @param account Account values and the bar's P&L.
 * @param positions Positions and their P&L over the bar.
 * @example
 * ```ts
 * await recordBarSnapshot(store, runId, bar, account, positions);
 * ```
 */
export async function recordBarSnapshot(
  q: Queryable,
  runId: number,
  bar: number,
  account: StoredAccount,
  positions: readonly StoredPosition[],
): Promise<void> {
  const b = iso(bar);
  await q.query("DELETE FROM tt_exec_positions WHERE run_id = $1 AND bar = $2::timestamptz", [
    runId,
    b,
  ]);
  await insertRows(
    q,
    `INSERT INTO tt_exec_account (run_id, bar, net_liquidation, cash, gross_position_value,
       buying_power, realized_pnl, unrealized_pnl, daily_pnl, pnl, commission)`,
    [[
      runId,
      b,
      account.netLiquidation,
      account.cash,
      account.grossPositionValue,
      fin(account.buyingPower),
      fin(account.realizedPnl),
      fin(account.unrealizedPnl),
      fin(account.dailyPnl),
      fin(account.pnl),
      fin(account.commission),
    ]],
    `ON CONFLICT (run_id, bar) DO UPDATE SET net_liquidation = EXCLUDED.net_liquidation,
       cash = EXCLUDED.cash, gross_position_value = EXCLUDED.gross_position_value,
       buying_power = EXCLUDED.buying_power, realized_pnl = EXCLUDED.realized_pnl,
       unrealized_pnl = EXCLUDED.unrealized_pnl, daily_pnl = EXCLUDED.daily_pnl,
       pnl = EXCLUDED.pnl, commission = EXCLUDED.commission`,
    ["", "::timestamptz"],
  );
  if (positions.length === 0) return;
  await insertRows(
    q,
    `INSERT INTO tt_exec_positions (run_id, bar, symbol, quantity, avg_cost, market_price,
       market_value, unrealized_pnl, realized_pnl, pnl)`,
    positions.map((p) => [
      runId,
      b,
      p.symbol,
      p.quantity,
      fin(p.avgCost),
      fin(p.marketPrice),
      fin(p.marketValue),
      fin(p.unrealizedPnl),
      fin(p.realizedPnl),
      fin(p.pnl),
    ]),
    "",
    ["", "::timestamptz"],
  );
}

/**
 * A run's account values per bar, oldest first (its equity curve is `netLiquidation`).
 * @param q The store.
 * @param runId The run.
 * @returns One row per recorded bar.
 * @example
 * ```ts
 * const curve = (await readAccountCurve(store, runId)).map((r) => r.netLiquidation);
 * ```
 */
export async function readAccountCurve(
  q: Queryable,
  runId: number,
): Promise<(StoredAccount & { bar: number })[]> {
  const rows = await q.query<Record<string, unknown>>(
    `SELECT bar, net_liquidation, cash, gross_position_value, buying_power, realized_pnl,
       unrealized_pnl, daily_pnl, pnl, commission FROM tt_exec_account WHERE run_id = $1 ORDER BY bar`,
    [runId],
  );
  const n = (v: unknown) => (v === null ? NaN : Number(v));
  return rows.map((r) => ({
    bar: (r.bar as Date).getTime(),
    netLiquidation: n(r.net_liquidation),
    cash: n(r.cash),
    grossPositionValue: n(r.gross_position_value),
    buyingPower: n(r.buying_power),
    realizedPnl: n(r.realized_pnl),
    unrealizedPnl: n(r.unrealized_pnl),
    dailyPnl: n(r.daily_pnl),
    pnl: n(r.pnl),
    commission: n(r.commission),
  }));
}

/**
 * A run's positions at its latest recorded bar (or at `bar`).
 * @param q The store.
 * @param runId The run.
 * @param bar Epoch ms; default the latest bar with a snapshot.
 * @returns The bar and its positions (empty when none is recorded).
 * @example
 * ```ts
 * const { positions } = await readPositions(store, runId);
 * ```
 */
export async function readPositions(
  q: Queryable,
  runId: number,
  bar?: number,
): Promise<{ bar: number | null; positions: StoredPosition[] }> {
  const at = bar !== undefined ? iso(bar) : (await q.query<{ bar: Date | null }>(
    "SELECT max(bar) AS bar FROM tt_exec_account WHERE run_id = $1",
    [runId],
  ))[0]?.bar?.toISOString();
  if (!at) return { bar: null, positions: [] };
  const rows = await q.query<Record<string, unknown>>(
    `SELECT symbol, quantity, avg_cost, market_price, market_value, unrealized_pnl, realized_pnl, pnl
     FROM tt_exec_positions WHERE run_id = $1 AND bar = $2::timestamptz ORDER BY symbol`,
    [runId, at],
  );
  const n = (v: unknown) => (v === null ? NaN : Number(v));
  return {
    bar: Date.parse(at),
    positions: rows.map((r) => ({
      symbol: String(r.symbol),
      quantity: n(r.quantity),
      avgCost: n(r.avg_cost),
      marketPrice: n(r.market_price),
      marketValue: n(r.market_value),
      unrealizedPnl: n(r.unrealized_pnl),
      realizedPnl: n(r.realized_pnl),
      pnl: n(r.pnl),
    })),
  };
}

/** A `tt_exec_risk_decisions` row: one overlay's verdict on one order. */
export interface StoredRiskDecision {
  runId: number;
  bar: number;
  ref: string;
  symbol: string;
  allowed: boolean;
  rule?: string | null;
  reason: string;
  adjustedQuantity?: number | null;
  tradingState: StoredTradingState;
}

/**
 * Records risk-overlay decisions.
 * @param q The store.
 * @param rows The decisions.
 * @example
 * ```ts
 * await recordRiskDecisions(store, [{ runId, bar, ref, symbol: "AAPL", allowed: false, rule: "maxOrderNotional", reason: "…", tradingState: "active" }]);
 * ```
 */
export async function recordRiskDecisions(
  q: Queryable,
  rows: readonly StoredRiskDecision[],
): Promise<void> {
  if (rows.length === 0) return;
  await insertRows(
    q,
    `INSERT INTO tt_exec_risk_decisions (run_id, bar, ref, symbol, allowed, rule, reason,
       adjusted_quantity, trading_state)`,
    rows.map((r) => [
      r.runId,
      iso(r.bar),
      r.ref,
      r.symbol,
      r.allowed,
      r.rule ?? null,
      r.reason,
      fin(r.adjustedQuantity),
      r.tradingState,
    ]),
    "",
    ["", "::timestamptz"],
  );
}

/**
 * A run's risk decisions, oldest first.
 * @param q The store.
 * @param runId The run.
 * @returns The decisions.
 * @example
 * ```ts
 * (await readRiskDecisions(store, runId)).filter((d) => !d.allowed);
 * ```
 */
export async function readRiskDecisions(
  q: Queryable,
  runId: number,
): Promise<StoredRiskDecision[]> {
  const rows = await q.query<Record<string, unknown>>(
    `SELECT run_id, bar, ref, symbol, allowed, rule, reason, adjusted_quantity, trading_state
     FROM tt_exec_risk_decisions WHERE run_id = $1 ORDER BY id`,
    [runId],
  );
  return rows.map((r) => ({
    runId: Number(r.run_id),
    bar: (r.bar as Date).getTime(),
    ref: String(r.ref),
    symbol: String(r.symbol),
    allowed: Boolean(r.allowed),
    rule: (r.rule as string | null) ?? null,
    reason: String(r.reason),
    adjustedQuantity: r.adjusted_quantity === null ? null : Number(r.adjusted_quantity),
    tradingState: r.trading_state as StoredTradingState,
  }));
}

/**
 * Saves a paper account's broker state (`PaperBroker.toState()`).
 * @param q The store.
 * @param accountId The paper account.
 * @param state Plain JSON.
 * @example
 * ```ts
 * await savePaperState(store, "PAPER-1", broker.toState());
 * ```
 */
export async function savePaperState(
  q: Queryable,
  accountId: string,
  state: unknown,
): Promise<void> {
  await q.query(
    `INSERT INTO tt_paper_accounts (account_id, state_json, updated_at) VALUES ($1, $2::jsonb, now())
     ON CONFLICT (account_id) DO UPDATE SET state_json = EXCLUDED.state_json, updated_at = now()`,
    [accountId, JSON.stringify(state)],
  );
}

/**
 * A paper account's saved broker state.
 * @param q The store.
 * @param accountId The paper account.
 * @returns The parsed JSON (validate it with `PaperBroker.fromState`), or null.
 * @example
 * ```ts
 * const saved = await loadPaperState(store, "PAPER-1");
 * ```
 */
export async function loadPaperState(q: Queryable, accountId: string): Promise<unknown | null> {
  const rows = await q.query<{ state_json: unknown }>(
    "SELECT state_json FROM tt_paper_accounts WHERE account_id = $1",
    [accountId],
  );
  return rows.length ? jsonColumn(rows[0].state_json) : null;
}

/** A `tt_trading_state_changes` row (migration `1201_trading_state_changes.sql`). */
export interface StoredTradingStateChange {
  runId: number;
  /** The decision bar of the cycle that changed it (null for a change by hand). */
  bar: number | null;
  from: StoredTradingState;
  to: StoredTradingState;
  /** The rule behind it: a risk rule, `reconciliation`, `newDay`, `resume`. */
  rule?: string | null;
  reason: string;
}

/**
 * Records a change of a run's trading state.
 * @param q The store.
 * @param c The change.
 * @example
 * ```ts
 * await recordTradingStateChange(store, { runId, bar, from: "active", to: "halted", rule: "maxDrawdown", reason: "…" });
 * ```
 */
export async function recordTradingStateChange(
  q: Queryable,
  c: StoredTradingStateChange,
): Promise<void> {
  await q.query(
    `INSERT INTO tt_trading_state_changes (run_id, bar, from_state, to_state, rule, reason)
     VALUES ($1, $2::timestamptz, $3, $4, $5, $6)`,
    [c.runId, c.bar === null ? null : iso(c.bar), c.from, c.to, c.rule ?? null, c.reason],
  );
}

/**
 * A run's trading-state changes, oldest first.
 * @param q The store.
 * @param runId The run.
 * @returns The changes.
 * @example
 * ```ts
 * (await readTradingStateChanges(store, runId)).at(-1)?.to; // "halted"
 * ```
 */
export async function readTradingStateChanges(
  q: Queryable,
  runId: number,
): Promise<StoredTradingStateChange[]> {
  const rows = await q.query<Record<string, unknown>>(
    `SELECT run_id, bar, from_state, to_state, rule, reason
     FROM tt_trading_state_changes WHERE run_id = $1 ORDER BY id`,
    [runId],
  );
  return rows.map((r) => ({
    runId: Number(r.run_id),
    bar: r.bar === null ? null : (r.bar as Date).getTime(),
    from: r.from_state as StoredTradingState,
    to: r.to_state as StoredTradingState,
    rule: (r.rule as string | null) ?? null,
    reason: String(r.reason),
  }));
}
