import assert from "node:assert/strict";
import {
  annualizedReturn,
  annualizedVolatility,
  calmarRatio,
  computeMetrics,
  costsPaid,
  drawdownSeries,
  exposure,
  hitRate,
  inferPeriodsPerYear,
  maxDrawdown,
  maxDrawdownDuration,
  moments,
  periodRate,
  rollingSharpe,
  sharpeRatio,
  simpleReturns,
  sortinoRatio,
  turnover,
  turnoverSeries,
} from "@lib/eval/mod.ts";

const DAY = 86_400_000;
const close = (a: number, b: number, eps = 1e-9) =>
  assert.ok(Math.abs(a - b) <= eps, `${a} ≠ ${b}`);

/** Bars every `stepMs` from `start`, keeping only those `keep` accepts. */
function calendar(
  start: string,
  count: number,
  stepMs: number,
  keep = (_t: number) => true,
): number[] {
  const out: number[] = [];
  for (let t = Date.parse(start); out.length < count; t += stepMs) if (keep(t)) out.push(t);
  return out;
}
const weekday = (t: number) => ![0, 6].includes(new Date(t).getUTCDay());

Deno.test("simpleReturns() gives equity[t]/equity[t-1] - 1", () => {
  const r = simpleReturns([100, 110, 99]);
  assert.equal(r.length, 2);
  close(r[0], 0.1);
  close(r[1], -0.1);
});

Deno.test("simpleReturns() rejects a zero value before the end with its index", () => {
  assert.throws(() => simpleReturns([100, 0, 50]), /index 1 is 0/);
});

Deno.test("inferPeriodsPerYear() classifies daily, 24/7, weekly, monthly and intraday bars", () => {
  assert.equal(inferPeriodsPerYear(calendar("2024-01-01T00:00:00Z", 60, DAY, weekday)), 252);
  assert.equal(inferPeriodsPerYear(calendar("2024-01-01T00:00:00Z", 60, DAY)), 365);
  assert.equal(inferPeriodsPerYear(calendar("2024-01-01T00:00:00Z", 30, 7 * DAY)), 52);
  const months = Array.from({ length: 24 }, (_, i) => Date.UTC(2020, i, 1));
  assert.equal(inferPeriodsPerYear(months), 12);
  // US session: 7 hourly bars (14:30 … 20:30 UTC) on weekdays → 7 × 252.
  const session = calendar("2024-01-01T00:00:00Z", 20 * 24, 3_600_000).filter((t) => {
    const h = new Date(t).getUTCHours();
    return weekday(t) && h >= 14 && h <= 20;
  });
  assert.equal(inferPeriodsPerYear(session), 7 * 252);
  assert.equal(inferPeriodsPerYear(calendar("2024-01-01T00:00:00Z", 24 * 10, 3_600_000)), 24 * 365);
});

Deno.test("inferPeriodsPerYear() rejects one timestamp and non-increasing ones", () => {
  assert.throws(() => inferPeriodsPerYear([1]), RangeError);
  assert.throws(() => inferPeriodsPerYear([1, 1]), /must increase: index 1/);
});

Deno.test("annualizedReturn() compounds: 21 % over 2 half-year periods is 21 % a year, 10 % over 2 years", () => {
  close(annualizedReturn([100, 110, 121], 2), 0.21);
  close(annualizedReturn([100, 121], 0.5), 0.1);
  assert.equal(annualizedReturn([100], 252), 0);
});

Deno.test("annualizedVolatility() is the sample std times sqrt(periods per year)", () => {
  // std of [0.01, -0.01] with n-1 = sqrt(0.0002); × sqrt(252) = sqrt(0.0504)
  close(annualizedVolatility([0.01, -0.01], 252), Math.sqrt(0.0504));
});

Deno.test("sharpeRatio() of [2 %, 0, 1 %] quarterly is 0.01/0.01 × 2 = 2", () => {
  close(sharpeRatio([0.02, 0, 0.01], { periodsPerYear: 4 }), 2);
});

Deno.test("sharpeRatio() subtracts the compounded per-period risk-free rate", () => {
  // rf per quarter = 1 % ⇔ annual (1.01)^4 - 1; excess [1 %, -1 %, 0] has mean 0.
  close(periodRate(1.01 ** 4 - 1, 4), 0.01);
  close(sharpeRatio([0.02, 0, 0.01], { periodsPerYear: 4, riskFreeRate: 1.01 ** 4 - 1 }), 0);
  // excess [1.5 %, -0.5 %, 0.5 %] with rf 0.5 %/period: mean 0.005, std 0.01 → 0.5 × 2 = 1
  close(sharpeRatio([0.02, 0, 0.01], { periodsPerYear: 4, riskFreeRate: 1.005 ** 4 - 1 }), 1);
});

Deno.test("sharpeRatio() is 0 for a flat curve and +Infinity for a constant gain", () => {
  assert.equal(sharpeRatio([0, 0, 0], { periodsPerYear: 252 }), 0);
  assert.equal(sharpeRatio([0.01, 0.01, 0.01], { periodsPerYear: 252 }), Infinity);
});

Deno.test("sortinoRatio() divides by the downside deviation over all periods", () => {
  // mean 0.01; downside sqrt(0.02² / 4) = 0.01
  close(sortinoRatio([0.02, -0.02, 0.03, 0.01], { periodsPerYear: 1 }), 1);
  close(sortinoRatio([0.02, -0.02, 0.03, 0.01], { periodsPerYear: 4 }), 2);
  assert.equal(sortinoRatio([0.01, 0.02], { periodsPerYear: 252 }), Infinity);
});

Deno.test("drawdownSeries() and maxDrawdown() of [100, 120, 90, 130]: 25 % from 120 to 90", () => {
  const dd = drawdownSeries([100, 120, 90, 130]);
  assert.deepEqual([...dd].map((x) => Math.round(x * 1e12) / 1e12), [0, 0, -0.25, 0]);
  close(maxDrawdown([100, 120, 90, 130]), 0.25);
});

Deno.test("maxDrawdown() is 0 for a rising equity curve", () => {
  assert.equal(maxDrawdown([1, 2, 3, 4]), 0);
});

Deno.test("maxDrawdownDuration() counts periods from the peak to the recovery or the end", () => {
  assert.deepEqual(maxDrawdownDuration([100, 120, 90, 130]), {
    periods: 2,
    peakIndex: 1,
    recoveryIndex: 3,
  });
  assert.deepEqual(maxDrawdownDuration([100, 90, 95]), {
    periods: 2,
    peakIndex: 0,
    recoveryIndex: null,
  });
  // 100 → (90, 95) → 100 recovers after 3; then 80, 85 is only 2 long.
  assert.deepEqual(maxDrawdownDuration([100, 90, 95, 100, 80, 85]), {
    periods: 3,
    peakIndex: 0,
    recoveryIndex: 3,
  });
  assert.deepEqual(maxDrawdownDuration([1, 2, 3]), {
    periods: 0,
    peakIndex: -1,
    recoveryIndex: null,
  });
});

Deno.test("calmarRatio() of [100, 120, 90, 121] at 1.5 periods/year is 0.10 / 0.25 = 0.4", () => {
  close(calmarRatio([100, 120, 90, 121], 1.5), 0.4);
});

Deno.test("hitRate() counts winners among periods that moved", () => {
  close(hitRate([0.01, -0.02, 0, 0.03]), 2 / 3);
  assert.ok(Number.isNaN(hitRate([0, 0])));
});

Deno.test("turnoverSeries() sums absolute weight changes, starting from cash", () => {
  assert.deepEqual([...turnoverSeries([[0.5, 0.5], [1, 0], [1, 0]])], [1, 1, 0]);
  assert.deepEqual([...turnoverSeries([[0.5, 0.5], [1, 0]], [0.5, 0.5])], [0, 1]);
  close(turnover([[0.5, 0.5], [1, 0], [1, 0]]), 2 / 3);
  assert.throws(() => turnoverSeries([[1, 0], [1]]), /row 1 has 1 entries/);
});

Deno.test("exposure() averages gross and net weight and time in the market", () => {
  const e = exposure([[0.5, 0.5], [0, 0], [0.25, -0.25]]);
  close(e.gross, (1 + 0 + 0.5) / 3);
  close(e.net, 1 / 3);
  close(e.timeInMarket, 2 / 3);
});

Deno.test("costsPaid() sums per-step costs, ignoring NaN", () => {
  assert.equal(costsPaid([1.5, 0, 2, NaN]), 3.5);
});

Deno.test("rollingSharpe() is NaN until the window fills, then the window's Sharpe", () => {
  const r = rollingSharpe([0.02, 0, 0.01, 0.01], 3, { periodsPerYear: 4 });
  assert.ok(Number.isNaN(r[0]) && Number.isNaN(r[1]));
  close(r[2], 2);
  // [0, 0.01, 0.01]: mean 1/150, std 0.01/sqrt(3) → (2/3)·sqrt(3)·2
  close(r[3], (2 / 3) * Math.sqrt(3) * 2);
  assert.throws(() => rollingSharpe([0.1], 1, { periodsPerYear: 1 }), RangeError);
});

Deno.test("sharpeRatio(), sortinoRatio() and rollingSharpe() give NaN, not −∞, for a NaN return", () => {
  // safeRatio(NaN, NaN) used to fall through to "a > 0 ? Infinity : -Infinity".
  const r = [0.01, NaN, 0.02];
  assert.ok(Number.isNaN(sharpeRatio(r, { periodsPerYear: 252 })), "sharpe");
  assert.ok(Number.isNaN(sortinoRatio(r, { periodsPerYear: 252 })), "sortino");
  assert.ok(Number.isNaN(rollingSharpe(r, 2, { periodsPerYear: 252 })[2]), "rolling sharpe");
  assert.equal(
    sharpeRatio([0.01, 0.01], { periodsPerYear: 1 }),
    Infinity,
    "constant gain unchanged",
  );
});

Deno.test("computeMetrics() reports excess kurtosis (0 for a normal): returns ±10 % alternating give −2", () => {
  // Population kurtosis of a two-point symmetric series is m4/m2² = 1, so excess is 1 − 3 = −2
  // (pandas' and empyrical's convention; scipy.stats.kurtosis(bias=True) gives −2 as well).
  const equity = [100];
  for (const r of [0.1, -0.1, 0.1, -0.1]) equity.push(equity[equity.length - 1] * (1 + r));
  const m = computeMetrics(equity, { periodsPerYear: 252 });
  close(m.excessKurtosis, -2, 1e-9);
  assert.ok(!("kurtosis" in m), "the raw-kurtosis field is gone, so no reader mistakes it");
  close(computeMetrics([100, 100, 100], { periodsPerYear: 252 }).excessKurtosis, 0);
});

Deno.test("moments() of [0, 0, 3]: skewness 2/2^1.5, kurtosis 6/4", () => {
  const m = moments([0, 0, 3]);
  close(m.mean, 1);
  close(m.std, Math.sqrt(3));
  close(m.skewness, 2 / 2 ** 1.5);
  close(m.kurtosis, 1.5);
  assert.deepEqual(moments([1, -1, 1, -1]).kurtosis, 1);
});

Deno.test("computeMetrics() of [100, 120, 90, 130] at 3 periods/year matches hand-computed values", () => {
  const ts = calendar("2024-01-01T00:00:00Z", 4, DAY); // Mon … Thu
  const m = computeMetrics([100, 120, 90, 130], {
    timestamps: ts,
    periodsPerYear: 3,
    weights: [[1], [1], [0.5]],
    costs: [1, 0, 0.5],
    slippage: [0.5, 0, 0],
  });
  const r = [0.2, -0.25, 130 / 90 - 1];
  const mu = (r[0] + r[1] + r[2]) / 3;
  const sd = Math.sqrt(((r[0] - mu) ** 2 + (r[1] - mu) ** 2 + (r[2] - mu) ** 2) / 2);
  assert.equal(m.periods, 3);
  close(m.totalReturn, 0.3);
  close(m.annualizedReturn, 0.3); // 3 periods = 1 year
  close(m.annualizedVolatility, sd * Math.sqrt(3));
  close(m.sharpe, (mu / sd) * Math.sqrt(3));
  close(m.sortino, (mu / Math.sqrt(0.25 ** 2 / 3)) * Math.sqrt(3));
  close(m.maxDrawdown, 0.25);
  assert.equal(m.maxDrawdownDurationPeriods, 2);
  assert.equal(m.maxDrawdownDurationDays, 2);
  close(m.calmar, 1.2);
  close(m.hitRate, 2 / 3);
  close(m.turnover!, 0.5); // (1 + 0 + 0.5) / 3
  close(m.annualizedTurnover!, 1.5);
  close(m.exposure!, 2.5 / 3);
  assert.equal(m.timeInMarket, 1);
  assert.equal(m.costsPaid, 1.5);
  assert.equal(m.slippagePaid, 0.5);
  close(m.costsPaidFraction!, 0.02);
});

Deno.test("computeMetrics() prefers the simulator's traded fractions over weight differences for turnover", () => {
  // Weights drift from 0.5 to 0.6 without trading: Σ|Δw| says 0.1, traded says 0.
  const m = computeMetrics([100, 110, 121], {
    periodsPerYear: 2,
    weights: [[0.5], [0.6]],
    traded: [0.5, 0],
  });
  close(m.turnover!, 0.25);
  close(m.annualizedTurnover!, 0.5);
});

Deno.test("computeMetrics() infers 252 periods from weekday timestamps and leaves weight metrics null without weights", () => {
  const ts = calendar("2024-01-01T00:00:00Z", 10, DAY, weekday);
  const m = computeMetrics(ts.map((_, i) => 100 + i), { timestamps: ts });
  assert.equal(m.periodsPerYear, 252);
  assert.equal(m.turnover, null);
  assert.equal(m.costsPaid, null);
  assert.equal(m.costsPaidFraction, null);
});

Deno.test("computeMetrics() rejects a single point and mismatched timestamps", () => {
  assert.throws(() => computeMetrics([100]), /at least 2 equity points/);
  assert.throws(
    () => computeMetrics([100, 101], { timestamps: [1] }),
    /1 timestamps for 2 equity points/,
  );
});
