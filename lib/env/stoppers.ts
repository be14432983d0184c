/**
 * Stoppers: pure predicates on the portfolio state that end an episode for real
 * (`terminated`). Running out of data or steps is not a stopper's business: the env
 * reports it as `truncated` (stop reasons `"end_of_data"`, `"max_steps"`).
 *
 * @module
 */
import type { PortfolioState } from "./simulator.ts";

/** Ends an episode when its condition holds. */
export interface Stopper {
  /** The `stopReason` reported when it fires, e.g. `"drawdown"`. */
  readonly reason: string;
  /** @param state The state after a step. @returns `true` to terminate. */
  shouldStop(state: PortfolioState): boolean;
}

/**
 * Terminates when the drawdown from the episode's peak net worth reaches a threshold
 * (the seed's `DrawdownStopper`): `netWorth ≤ (1 - maxDrawdown) · peakNetWorth`.
 */
export class DrawdownStopper implements Stopper {
  readonly reason = "drawdown";
  readonly maxDrawdown: number;

  /**
   * @param maxDrawdown Fraction in (0, 1], e.g. 0.25 for 25 %.
   * @throws {RangeError} Outside (0, 1].
   * @example
   * ```ts
   * new DrawdownStopper(0.2).shouldStop(state);
   * ```
   */
  constructor(maxDrawdown: number) {
    if (!(maxDrawdown > 0 && maxDrawdown <= 1)) {
      throw new RangeError(`DrawdownStopper threshold ${maxDrawdown} must be in (0, 1]`);
    }
    this.maxDrawdown = maxDrawdown;
  }

  /**
   * @param state After a step.
   * @returns Whether the drawdown reached the threshold.
   */
  shouldStop(state: PortfolioState): boolean {
    // Compared as `netWorth ≤ (1 - d)·peak`: `1 - 80/100` rounds to just below 0.2.
    return state.netWorth <= (1 - this.maxDrawdown) * state.peakNetWorth;
  }
}

/** Terminates when net worth is no longer positive (always on in the portfolio env). */
export class BankruptcyStopper implements Stopper {
  readonly reason = "bankrupt";

  /**
   * @param state After a step.
   * @returns Whether net worth ≤ 0.
   * @example
   * ```ts
   * new BankruptcyStopper().shouldStop(state);
   * ```
   */
  shouldStop(state: PortfolioState): boolean {
    return !(state.netWorth > 0);
  }
}
