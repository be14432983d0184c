/**
 * Clocks for code that waits: the real one, a time-compressed one (tests and demos
 * that must not wait ten real minutes for IB's pacing window) and a manual one that
 * only moves when a test says so.
 *
 * @module
 */

/** Time and waiting, injectable so pacing logic can be tested without real waits. */
export interface Clock {
  /** Current time in epoch milliseconds (clock time, not necessarily wall time). */
  now(): number;
  /**
   * Resolves after `ms` of clock time, or early (without rejecting) when `signal` aborts.
   * @param ms Clock milliseconds to wait; `<= 0` resolves on the next tick.
   * @param signal Optional abort signal that cuts the wait short.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/**
 * The wall clock: `Date.now()` and `setTimeout`.
 * @example
 * ```ts
 * await systemClock.sleep(100);
 * ```
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => realSleep(ms, signal),
};

function realSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * A clock that runs `scale` times faster than the wall clock from `origin` on:
 * `now() = origin + (Date.now() - origin) * scale`. Two processes given the same
 * `scale` and `origin` agree on the time, which is how a loopback gateway and an
 * ingest process share compressed time.
 *
 * @param scale Speed-up factor (> 0); 1 is the wall clock.
 * @param origin Epoch ms where compressed and wall time coincide. Default: now.
 * @returns The clock.
 * @example
 * ```ts
 * const clock = scaledClock(600); // 10 minutes of pacing window pass in 1 s
 * ```
 */
export function scaledClock(scale: number, origin: number = Date.now()): Clock {
  if (!(scale > 0) || !Number.isFinite(scale)) {
    throw new RangeError(`scaledClock(): scale must be a positive number; got ${scale}`);
  }
  return {
    now: () => origin + (Date.now() - origin) * scale,
    sleep: (ms, signal) => realSleep(ms / scale, signal),
  };
}

/**
 * The clock named by the environment: `TT_IBKR_TIME_SCALE` (speed-up factor) and
 * `TT_IBKR_TIME_ORIGIN` (epoch ms) give a {@linkcode scaledClock}; unset, the wall clock.
 * This is a test hook so a child `deno task ingest` shares compressed time with a
 * loopback gateway; never set it against a real gateway.
 *
 * @returns The clock.
 * @example
 * ```ts
 * const clock = clockFromEnv();
 * ```
 */
export function clockFromEnv(): Clock {
  let raw: string | undefined;
  let origin: string | undefined;
  try {
    raw = Deno.env.get("TT_IBKR_TIME_SCALE");
    origin = Deno.env.get("TT_IBKR_TIME_ORIGIN");
  } catch {
    return systemClock; // no env permission
  }
  if (!raw) return systemClock;
  const scale = Number(raw);
  const o = origin ? Number(origin) : Date.now();
  if (!(scale > 0) || !Number.isFinite(o)) {
    throw new RangeError(
      `TT_IBKR_TIME_SCALE=${raw} / TT_IBKR_TIME_ORIGIN=${origin} are not valid numbers`,
    );
  }
  return scaledClock(scale, o);
}

/**
 * A clock that moves only through {@linkcode ManualClock.advance}: sleeps resolve
 * in deadline order as time passes them. For deterministic tests.
 */
export class ManualClock implements Clock {
  #now: number;
  #timers: { at: number; seq: number; resolve: () => void }[] = [];
  #seq = 0;

  /**
   * Creates a clock standing at `start`.
   * @param start Initial time in epoch ms. Default 0.
   * @example
   * ```ts
   * const clock = new ManualClock(0);
   * const p = clock.sleep(1000);
   * await clock.advance(1000); // p resolves
   * ```
   */
  constructor(start = 0) {
    this.#now = start;
  }

  /** Current clock time. */
  now(): number {
    return this.#now;
  }

  /** Pending sleeps. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** Deadline of the earliest pending sleep, or `undefined`. */
  nextDeadline(): number | undefined {
    return this.#timers.length ? this.#timers[0].at : undefined;
  }

  /**
   * Waits `ms` of manual time.
   * @param ms Milliseconds.
   * @param signal Aborting resolves the sleep at once.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, resolve };
      this.#timers.push(timer);
      this.#timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      signal?.addEventListener("abort", () => {
        const i = this.#timers.indexOf(timer);
        if (i >= 0) this.#timers.splice(i, 1);
        resolve();
      }, { once: true });
    });
  }

  /**
   * Moves time forward by `ms`, resolving due sleeps in order and letting the code
   * they wake run (microtasks flushed) before moving on to the next deadline.
   * @param ms Milliseconds (>= 0).
   */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await flush();
    while (this.#timers.length && this.#timers[0].at <= target) {
      const t = this.#timers.shift()!;
      this.#now = Math.max(this.#now, t.at);
      t.resolve();
      await flush();
    }
    this.#now = target;
    await flush();
  }

  /**
   * Jumps to the next pending deadline (if any) and runs what it wakes.
   * @returns `false` when no sleep was pending.
   */
  async runNext(): Promise<boolean> {
    await flush();
    const at = this.nextDeadline();
    if (at === undefined) return false;
    await this.advance(Math.max(0, at - this.#now));
    return true;
  }
}

async function flush(): Promise<void> {
  // Enough microtask turns for promise chains woken by a sleep to settle (no real timers).
  for (let i = 0; i < 64; i++) await Promise.resolve();
}
