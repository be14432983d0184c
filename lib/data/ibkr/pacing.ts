/**
 * A client-side pacing limiter for Interactive Brokers' historical-data rules. It is
 * pure bookkeeping over an injectable {@linkcode Clock}: no sockets, no IB types, so
 * the order path can reuse it with other rules.
 *
 * @module
 */
import { BAR_SIZES } from "./bar_sizes.ts";
import { type Clock, systemClock } from "./clock.ts";

/**
 * The rules, as IB publishes them for historical data ("Historical Data Limitations",
 * https://interactivebrokers.github.io/tws-api/historical_limitations.html), plus a
 * safety margin for the delay between the client's clock and the gateway's.
 *
 * The page lists the cap of 50 open requests for every request. The other three rules
 * (60 per 10 minutes, identical requests 15 s apart, 6 per contract/exchange/tick type
 * in 2 s) are its "Pacing Violations for Small Bars (30 secs or less)"; its footnote says
 * the limitations for bar sizes of 1 min and greater have been lifted (a soft throttle
 * remains, answered with 162/366 and met by the ingest's back-off). See
 * {@linkcode smallBarRulesApply}.
 */
export interface PacingRules {
  /** Rolling window for {@linkcode PacingRules.maxInWindow}. Default 600 000 (10 minutes). */
  windowMs: number;
  /** Requests allowed in any window of `windowMs`. Default 60. */
  maxInWindow: number;
  /** Minimum gap between two identical requests. Default 15 000. */
  identicalMs: number;
  /** Window for {@linkcode PacingRules.maxBurst}. Default 2 000. */
  burstMs: number;
  /** Requests allowed for one contract/exchange/tick type within `burstMs`. Default 6. */
  maxBurst: number;
  /** Requests open (acquired, not released) at once. Default 50. */
  maxOpen: number;
  /** Added to every time rule, so network delay cannot make the gateway see a violation. Default 1 000. */
  marginMs: number;
}

/** IB's published historical-data pacing rules with a 1 s margin. */
export const IB_HISTORICAL_PACING: Readonly<PacingRules> = Object.freeze({
  windowMs: 600_000,
  maxInWindow: 60,
  identicalMs: 15_000,
  burstMs: 2_000,
  maxBurst: 6,
  maxOpen: 50,
  marginMs: 1_000,
});

/** The largest bar size, in seconds, IB's small-bar pacing rules cover (30 secs). */
export const SMALL_BAR_MAX_SECONDS = 30;

/**
 * Whether IB's small-bar rules (rolling window, identical requests, bursts) apply to a
 * request for `barSize` bars: bars of {@linkcode SMALL_BAR_MAX_SECONDS} or less, and, to
 * be safe, a request whose bar size is not given or not one IB knows. For `"1 min"` and
 * larger IB lifted them ("Historical Data Limitations", footnote 1:
 * https://interactivebrokers.github.io/tws-api/historical_limitations.html).
 *
 * @param barSize IB bar size (`"30 secs"`, `"1 hour"` …), or undefined.
 * @returns True when the three small-bar rules hold for the request.
 * @example
 * ```ts
 * smallBarRulesApply("30 secs"); // true
 * smallBarRulesApply("1 min"); // false
 * smallBarRulesApply(undefined); // true
 * ```
 */
export function smallBarRulesApply(barSize: string | undefined): boolean {
  const spec = barSize === undefined ? undefined : BAR_SIZES[barSize];
  return spec === undefined || spec.seconds <= SMALL_BAR_MAX_SECONDS;
}

/** What a request is, for pacing. */
export interface PacingKey {
  /** Identity of the request: two requests with the same `request` are "identical". */
  request: string;
  /** Contract + exchange + tick type (e.g. `"AAPL@SMART:NASDAQ/TRADES"`). */
  contract: string;
  /**
   * IB bar size the request is for. Rules 1–3 of {@linkcode PacingLimiter} hold only
   * when {@linkcode smallBarRulesApply} says so (absent: they hold).
   */
  barSize?: string;
}

/** A granted request slot. */
export interface Permit {
  /** Clock time the request was allowed to start. */
  readonly startedAt: number;
  /** Clock milliseconds spent waiting for this permit. */
  readonly waitedMs: number;
  /** Marks the request finished (answered, failed or cancelled). Idempotent. */
  release(): void;
}

/** Counters of a {@linkcode PacingLimiter}. */
export interface PacingStats {
  /** Permits granted. */
  granted: number;
  /** Permits that had to wait (> 0 ms). */
  waits: number;
  /** Total clock milliseconds spent waiting, over all permits. */
  waitMs: number;
  /** Requests open now. */
  open: number;
}

/**
 * Grants request slots so that, by construction, the granted start times
 * `s₁ ≤ s₂ ≤ …` (clock time) satisfy, with `m = marginMs`:
 *
 * 1. **Rolling window**: `s[i + maxInWindow] − s[i] ≥ windowMs + m` for every i, so any
 *    window of length `windowMs` holds at most `maxInWindow` starts (60 per 10 min).
 * 2. **Identical requests**: two starts with the same `key.request` are at least
 *    `identicalMs + m` apart (15 s).
 * 3. **Bursts**: among starts with the same `key.contract`, `s[j + maxBurst] − s[j] ≥ burstMs + m`
 *    (at most 6 per contract/exchange/tick type in any 2 s).
 * 4. **Open requests**: at most `maxOpen` permits are unreleased at any moment (50).
 *
 * Rules 1–3 are IB's small-bar rules: they are checked only for a key whose bar size is
 * 30 secs or less (or not given), see {@linkcode smallBarRulesApply}; a request for
 * 1-minute or larger bars waits only for rule 4 and a pause. Every start, whatever its
 * bar size, is recorded and counts for later small-bar requests (the safe reading).
 *
 * {@linkcode PacingLimiter.pause} additionally holds every start until a given time
 * (after the gateway still answered a pacing violation). A permit is granted only
 * after re-checking all rules at the moment of granting, so concurrent waiters cannot
 * break them. Waiters are not strictly FIFO (a request blocked by rule 2 does not
 * block other contracts).
 *
 * @example
 * ```ts
 * const limiter = new PacingLimiter();
 * const permit = await limiter.acquire({ request: "AAPL|1 Y|1 day|20251231", contract: "AAPL@SMART/TRADES" });
 * try { await fetchBars(); } finally { permit.release(); }
 * ```
 */
export class PacingLimiter {
  #rules: PacingRules;
  #clock: Clock;
  #starts: number[] = [];
  #byRequest = new Map<string, number>();
  #byContract = new Map<string, number[]>();
  #open = 0;
  #pausedUntil = -Infinity;
  #releaseWaiters: (() => void)[] = [];
  #stats = { granted: 0, waits: 0, waitMs: 0 };

  /**
   * Creates a limiter with no history.
   * @param options `rules` (partial, over {@linkcode IB_HISTORICAL_PACING}) and `clock` (default wall clock).
   */
  constructor(options: { rules?: Partial<PacingRules>; clock?: Clock } = {}) {
    this.#rules = { ...IB_HISTORICAL_PACING, ...options.rules };
    for (const [k, v] of Object.entries(this.#rules)) {
      if (!(typeof v === "number" && v >= 0)) {
        throw new RangeError(`PacingLimiter: rule ${k} must be ≥ 0; got ${v}`);
      }
    }
    if (this.#rules.maxInWindow < 1 || this.#rules.maxBurst < 1 || this.#rules.maxOpen < 1) {
      throw new RangeError("PacingLimiter: maxInWindow, maxBurst and maxOpen must be ≥ 1");
    }
    this.#clock = options.clock ?? systemClock;
  }

  /** The rules in force. */
  get rules(): Readonly<PacingRules> {
    return this.#rules;
  }

  /** Counters since construction. */
  get stats(): PacingStats {
    return { ...this.#stats, open: this.#open };
  }

  /**
   * Earliest clock time at which `key` could start given the history so far
   * (ignoring the open-request limit). Pure: records nothing.
   * @param key The request.
   * @returns Epoch ms (may be in the past: no wait needed).
   * @example
   * ```ts
   * const wait = limiter.earliestStart({ request: "AAPL|1 D", contract: "AAPL@SMART/TRADES", barSize: "30 secs" }) - Date.now();
   * ```
   */
  earliestStart(key: PacingKey): number {
    const r = this.#rules;
    const m = r.marginMs;
    let at = this.#pausedUntil;
    if (!smallBarRulesApply(key.barSize)) return at;
    const n = this.#starts.length;
    if (n >= r.maxInWindow) at = Math.max(at, this.#starts[n - r.maxInWindow] + r.windowMs + m);
    const same = this.#byRequest.get(key.request);
    if (same !== undefined) at = Math.max(at, same + r.identicalMs + m);
    const burst = this.#byContract.get(key.contract);
    if (burst && burst.length >= r.maxBurst) {
      at = Math.max(at, burst[burst.length - r.maxBurst] + r.burstMs + m);
    }
    return at;
  }

  /**
   * Waits until `key` may start under every rule, then records it.
   * @param key What the request is.
   * @returns A {@linkcode Permit}; call `release()` when the request is answered.
   */
  async acquire(key: PacingKey): Promise<Permit> {
    const asked = this.#clock.now();
    // A permit "waited" only when it really slept or queued: the clock may tick between
    // two reads without any wait (under load), which is not a pacing wait.
    let held = false;
    for (;;) {
      const now = this.#clock.now();
      const at = this.earliestStart(key);
      if (at <= now && this.#open < this.#rules.maxOpen) {
        return this.#grant(key, now, held ? now - asked : 0);
      }
      held = true;
      if (at > now) await this.#clock.sleep(at - now);
      else await new Promise<void>((resolve) => this.#releaseWaiters.push(resolve));
    }
  }

  /**
   * Seeds the history with requests made earlier, e.g. by a previous process against
   * the same gateway, so the rules also hold across runs. Counts as neither granted nor open.
   * @param history Start times (clock ms) and keys, in any order.
   * @example
   * ```ts
   * limiter.restore([{ at: Date.now() - 60_000, key: { request: "AAPL|1 Y", contract: "AAPL@SMART/TRADES" } }]);
   * ```
   */
  restore(history: { at: number; key: PacingKey }[]): void {
    const merged = [...history].sort((a, b) => a.at - b.at);
    const starts = [...this.#starts];
    for (const { at, key } of merged) {
      starts.push(at);
      const prev = this.#byRequest.get(key.request);
      if (prev === undefined || prev < at) this.#byRequest.set(key.request, at);
      const burst = this.#byContract.get(key.contract) ?? [];
      burst.push(at);
      burst.sort((a, b) => a - b);
      this.#byContract.set(key.contract, burst);
    }
    this.#starts = starts.sort((a, b) => a - b);
  }

  /**
   * Holds every new start until `ms` of clock time from now (e.g. after a pacing
   * violation reported by the gateway). Never shortens an earlier pause.
   * @param ms Clock milliseconds.
   */
  pause(ms: number): void {
    this.#pausedUntil = Math.max(this.#pausedUntil, this.#clock.now() + ms);
  }

  #grant(key: PacingKey, now: number, waited: number): Permit {
    this.#prune(now);
    this.#starts.push(now);
    this.#byRequest.set(key.request, now);
    const burst = this.#byContract.get(key.contract) ?? [];
    burst.push(now);
    this.#byContract.set(key.contract, burst);
    this.#open++;
    this.#stats.granted++;
    if (waited > 0) {
      this.#stats.waits++;
      this.#stats.waitMs += waited;
    }
    let released = false;
    return {
      startedAt: now,
      waitedMs: waited,
      release: () => {
        if (released) return;
        released = true;
        this.#open--;
        const waiters = this.#releaseWaiters.splice(0);
        for (const w of waiters) w();
      },
    };
  }

  /** Forgets starts no rule can look at any more (keeps memory bounded on long runs). */
  #prune(now: number): void {
    const r = this.#rules;
    const horizon = now - Math.max(r.windowMs, r.identicalMs, r.burstMs) - r.marginMs;
    const keep = Math.max(0, this.#starts.length - r.maxInWindow);
    let drop = 0;
    while (drop < keep && this.#starts[drop] < horizon) drop++;
    if (drop) this.#starts.splice(0, drop);
    if (this.#byRequest.size > 1024) {
      for (const [k, t] of this.#byRequest) if (t < horizon) this.#byRequest.delete(k);
    }
    for (const [k, list] of this.#byContract) {
      while (list.length > r.maxBurst) list.shift();
      if (list.length && list[list.length - 1] < horizon) this.#byContract.delete(k);
    }
  }
}
