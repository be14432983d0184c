/**
 * Survivorship, stated: when was the evaluated universe fixed relative to the
 * evaluated range? The data does not record who picked the instruments or when, so
 * the rule is deliberately simple and errs towards the warning:
 *
 * - every instrument has bars through the universe's last date (within
 *   `toleranceDays`) and none stops earlier → **"instruments chosen as of the data's
 *   end (survivors)"**: a list of names alive at the end of the data (e.g. today's
 *   large caps) leaves out the ones that failed, which flatters every backtest on it;
 * - otherwise some instruments have no bars after a date before the end (delisted,
 *   merged, dropped, or their file simply ends) → the universe is not plainly survivors,
 *   but when it was fixed is still unknown.
 *
 * Either way the comparison that stays fair is against baselines on the *same*
 * universe (buy & hold, rebalanced, …): they share the bias, so the difference does not.
 *
 * @module
 */

/** The first and last bar of one instrument (ISO dates). */
export interface InstrumentSpan {
  instrument: string;
  first: string;
  last: string;
}

/** What {@linkcode survivorshipStatement} concludes. */
export interface SurvivorshipStatement {
  /** `"data-end"`: fixed as of the data's end (survivors); `"unknown"`: not recorded. */
  fixedAt: "data-end" | "unknown";
  /** True when every instrument trades through the data's end. */
  survivors: boolean;
  /** The universe's last bar (ISO date). */
  dataEnd: string;
  /** Instruments whose bars stop before the data's end, with their last date. */
  stopped: { instrument: string; last: string }[];
  /** One paragraph for outputs and reports. */
  statement: string;
}

const DAY_MS = 86_400_000;

/**
 * States when the universe was fixed relative to the evaluated range (rule in the
 * module documentation).
 * @param spans First and last bar of every evaluated instrument.
 * @param evaluated The evaluated range (ISO dates).
 * @param options `toleranceDays`: a last bar this close to the data's end counts as
 *   trading through it (holidays, a late file). Default 7.
 * @returns The statement.
 * @throws {RangeError} When `spans` is empty.
 * @example
 * ```ts
 * survivorshipStatement(
 *   [{ instrument: "AAPL", first: "2005-01-03", last: "2021-04-20" }],
 *   { start: "2015-01-02", end: "2021-04-20" },
 * ).fixedAt; // "data-end"
 * ```
 */
export function survivorshipStatement(
  spans: readonly InstrumentSpan[],
  evaluated: { start: string; end: string },
  options: { toleranceDays?: number } = {},
): SurvivorshipStatement {
  if (spans.length === 0) {
    throw new RangeError("survivorshipStatement(): no instrument given");
  }
  const tol = (options.toleranceDays ?? 7) * DAY_MS;
  const dataEnd = spans.map((s) => s.last).sort().at(-1)!;
  const endMs = Date.parse(`${dataEnd}T00:00:00Z`);
  const stopped = spans
    .filter((s) => Date.parse(`${s.last}T00:00:00Z`) < endMs - tol)
    .map((s) => ({ instrument: s.instrument, last: s.last }));
  const fair =
    "The comparison with the baselines on the same universe is the fair one: they share the bias, the difference does not.";
  if (stopped.length === 0) {
    const after = dataEnd > evaluated.end
      ? `, after the evaluated range ends (${evaluated.end})`
      : `, the evaluated range's end`;
    return {
      fixedAt: "data-end",
      survivors: true,
      dataEnd,
      stopped,
      statement:
        `Instruments chosen as of the data's end (survivors): all ${spans.length} have bars through ${dataEnd}${after}, ` +
        `and none stopped trading earlier, so names that failed during ${evaluated.start}..${evaluated.end} are not in it. ` +
        `Absolute returns on such a universe are flattered. ${fair}`,
    };
  }
  const list = stopped.slice(0, 5).map((s) => `${s.instrument} ${s.last}`).join(", ") +
    (stopped.length > 5 ? `, … (${stopped.length} in all)` : "");
  return {
    fixedAt: "unknown",
    survivors: false,
    dataEnd,
    stopped,
    statement:
      `${stopped.length} of ${spans.length} instruments have no bars after their last date, before the data's end ${dataEnd} ` +
      `(${list}): delisted, dropped, or their data ends there; so the universe is not plainly survivors, ` +
      `but when it was fixed is not recorded. ${fair}`,
  };
}
