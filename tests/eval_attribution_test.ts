import assert from "node:assert/strict";
import { riskAttribution } from "@lib/eval/mod.ts";
import { attributionChart } from "@lib/viz/mod.ts";

const close = (a: number, b: number, eps = 1e-12) =>
  assert.ok(Math.abs(a - b) < eps, `${a} is not ${b}`);

Deno.test("riskAttribution() gives weight × return per instrument and the hand-computed volatility of one asset", () => {
  const a = riskAttribution({
    instruments: ["A", "CASHLIKE"],
    weights: [[0.5, 0], [0.5, 0], [0.5, 0]],
    returns: [[0.01, 0], [-0.01, 0], [0.02, 0]],
    periodsPerYear: 4,
  });
  close(a.instruments[0].returnContribution, 0.5 * (0.01 - 0.01 + 0.02));
  close(a.totalReturnContribution, 0.01);
  close(a.instruments[0].returnShare, 1);
  // Sample sd of (0.01, −0.01, 0.02): mean 1/150, deviations (1/300, −5/300, 4/300).
  const sd = Math.sqrt(((1 + 25 + 16) / 90000) / 2);
  // One risky asset: σ_p = w·sd, its contribution is all of it; ×√4 annualised.
  close(a.portfolioVolatility, 0.5 * sd * 2);
  close(a.instruments[0].volatilityContribution, 0.5 * sd * 2);
  close(a.instruments[0].marginalVolatility, sd * 2);
  close(a.instruments[0].volatilityShare, 1);
  close(a.instruments[1].volatilityContribution, 0);
});

Deno.test("riskAttribution() volatility contributions sum to the portfolio volatility (Euler)", () => {
  const returns = [
    [0.01, 0.002, -0.004],
    [-0.02, 0.01, 0.003],
    [0.015, -0.005, 0.001],
    [0.003, 0.004, -0.006],
    [-0.007, 0.012, 0.002],
  ];
  const weights = returns.map((_, t) => [0.3 + 0.02 * t, 0.5 - 0.02 * t, 0.1]);
  const a = riskAttribution({ instruments: ["A", "B", "C"], weights, returns });
  const sum = a.instruments.reduce((s, r) => s + r.volatilityContribution, 0);
  close(sum, a.portfolioVolatility, 1e-12);
  close(a.instruments.reduce((s, r) => s + r.volatilityShare, 0), 1, 1e-12);
  assert.ok(a.portfolioVolatility > 0);
  assert.equal(a.periods, 5);
});

Deno.test("riskAttribution() counts turnover from cash and splits each bar's cost by weight change", () => {
  const a = riskAttribution({
    instruments: ["A", "B"],
    weights: [[0.6, 0.2], [0.4, 0.4], [0.4, 0.4]],
    returns: [[0, 0], [0, 0], [0, 0]],
    costs: [8, 4, 0],
  });
  // Bar 0 moves 0.6 (A) and 0.2 (B): 6 and 2 of 8; bar 1 moves 0.2 each: 2 and 2 of 4.
  close(a.instruments[0].turnover, 0.6 + 0.2);
  close(a.instruments[1].turnover, 0.2 + 0.2);
  close(a.instruments[0].costs, 6 + 2);
  close(a.instruments[1].costs, 2 + 2);
  assert.ok(Number.isNaN(a.instruments[0].returnShare), "no return: share undefined");
  assert.ok(Number.isNaN(
    riskAttribution({ instruments: ["A"], weights: [[1], [1]], returns: [[0], [0]] })
      .instruments[0].costs,
  ));
});

Deno.test("riskAttribution() refuses mismatched shapes and too few bars, naming them", () => {
  assert.throws(
    () => riskAttribution({ instruments: ["A"], weights: [[1], [1]], returns: [[0]] }),
    /2 weight rows but 1 return rows/,
  );
  assert.throws(
    () => riskAttribution({ instruments: ["A", "B"], weights: [[1], [1]], returns: [[0], [0]] }),
    /row 0 has 1 weights/,
  );
  assert.throws(
    () => riskAttribution({ instruments: ["A"], weights: [[1]], returns: [[0]] }),
    /at least 2 bars/,
  );
});

Deno.test("attributionChart() draws one panel per measure present, instruments in order", () => {
  const a = riskAttribution({
    instruments: ["B", "A"],
    weights: [[0.5, 0.5], [0.5, 0.5]],
    returns: [[0.01, 0.02], [0.0, -0.01]],
  });
  const spec = attributionChart(a.instruments);
  const panels = spec.hconcat as { encoding: { y: { sort: string[] }; x: { title: string } } }[];
  assert.equal(panels.length, 3, "no costs given: no costs panel");
  assert.deepEqual(panels[0].encoding.y.sort, ["B", "A"]);
  assert.equal(panels[0].encoding.x.title, "return contribution");
  assert.throws(() => attributionChart([]), /at least one instrument/);
});
