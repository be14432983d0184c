import assert from "node:assert/strict";
import {
  dataQualityChart,
  drawdownChart,
  equityChart,
  featurePanelChart,
  type PanelRow,
  renderSvg,
  rollingSharpeChart,
  sampleIndices,
  signalPanelChart,
  trainingChart,
  type VegaLiteSpec,
  weightsChart,
} from "@lib/viz/mod.ts";
import type { QualityClass } from "@lib/data/mod.ts";

const DAY = 86_400_000;
const T0 = Date.UTC(2024, 0, 1);
const days = (n: number) => Array.from({ length: n }, (_, i) => T0 + i * DAY);
// deno-lint-ignore no-explicit-any
const valuesOf = (spec: VegaLiteSpec) => (spec.data as { values: any[] }).values;
/** Number of SVG groups of a Vega mark type drawn as data marks (not axes/legends). */
const markCount = (svg: string, type: string) =>
  svg.split(`class="mark-${type} role-mark`).length - 1;
const texts = (svg: string) => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);

Deno.test("sampleIndices() keeps every k-th index plus first, last and required ones", () => {
  assert.deepEqual(sampleIndices(5, 10), [0, 1, 2, 3, 4]);
  assert.deepEqual(sampleIndices(10, 4), [0, 3, 6, 9]);
  assert.deepEqual(sampleIndices(10, 4, [4]), [0, 3, 4, 6, 9]);
});

Deno.test("equityChart() rescales both curves to start at 1 and renders two lines with a legend", async () => {
  const spec = equityChart({
    strategy: { name: "PPO", timestamps: days(4), equity: [100, 120, 90, 130] },
    benchmark: { name: "Buy & hold", equity: [50, 55, 60, 45] },
  });
  assert.equal(spec.mark && (spec.mark as { type: string }).type, "line");
  const v = valuesOf(spec);
  assert.equal(v.length, 8);
  assert.deepEqual(v.filter((r) => r.series === "PPO").map((r) => r.value), [1, 1.2, 0.9, 1.3]);
  assert.deepEqual(v.filter((r) => r.series === "Buy & hold").map((r) => r.value), [
    1,
    1.1,
    1.2,
    0.9,
  ]);
  const svg = await renderSvg(spec);
  assert.ok(svg.startsWith("<svg"));
  assert.equal(markCount(svg, "line"), 2);
  const t = texts(svg);
  assert.ok(t.includes("Equity (growth of 1)"));
  assert.ok(t.includes("PPO") && t.includes("Buy &amp; hold"));
});

Deno.test("equityChart() aligns a benchmark given on its own calendar and caps the points drawn", () => {
  const spec = equityChart({
    strategy: { timestamps: [T0 + DAY, T0 + 3 * DAY], equity: [1, 2] },
    benchmark: { timestamps: [T0, T0 + 2 * DAY], equity: [10, 20] },
  });
  assert.deepEqual(valuesOf(spec).filter((r) => r.series === "Benchmark").map((r) => r.value), [
    1,
    2,
  ]);
  const long = equityChart({
    strategy: { timestamps: days(5000), equity: days(5000).map((_, i) => 1 + i) },
    maxPoints: 500,
  });
  assert.ok(valuesOf(long).length <= 501);
  assert.throws(
    () => equityChart({ strategy: { timestamps: days(3), equity: [1, 2] } }),
    /2 equity values for 3 timestamps/,
  );
});

Deno.test("drawdownChart() draws the underwater curve as an area and keeps the trough when thinning", async () => {
  const spec = drawdownChart({ strategy: { timestamps: days(4), equity: [100, 120, 90, 130] } });
  const v = valuesOf(spec).map((r) => Math.round(r.value * 1e12) / 1e12);
  assert.deepEqual(v, [0, 0, -0.25, 0]);
  const eq = days(3001).map((_, i) => (i === 1234 ? 50 : 100 + i));
  const thin = drawdownChart({ strategy: { timestamps: days(3001), equity: eq }, maxPoints: 100 });
  assert.ok(valuesOf(thin).some((r) => r.time === T0 + 1234 * DAY));
  const svg = await renderSvg(spec);
  assert.equal(markCount(svg, "area"), 1);
  assert.ok(texts(svg).includes("Drawdown"));
});

Deno.test("rollingSharpeChart() layers the rolling ratio over a single zero rule", async () => {
  const eq = [1, 1.02, 1.02, 1.0302, 1.040502];
  const spec = rollingSharpeChart({
    strategy: { timestamps: days(5), equity: eq },
    window: 3,
    periodsPerYear: 4,
  });
  const v = valuesOf(spec);
  // returns [0.02, 0, 0.01, 0.01]: Sharpe 2 on the 3rd return, i.e. at the 4th bar
  assert.equal(v.length, 2);
  assert.equal(v[0].time, T0 + 3 * DAY);
  assert.ok(Math.abs(v[0].value - 2) < 1e-9);
  const svg = await renderSvg(spec);
  assert.equal(markCount(svg, "line"), 1);
  assert.equal(markCount(svg, "rule"), 1);
});

Deno.test("weightsChart() stacks instruments, groups the smallest as Other and adds cash", async () => {
  const instruments = ["A", "B", "C", "D"];
  const rows = [[0.4, 0.3, 0.1, 0.1], [0.5, 0.2, 0.05, 0.05]];
  const spec = weightsChart({ timestamps: days(2), instruments, rows, maxInstruments: 2 });
  const v = valuesOf(spec);
  const at0 = Object.fromEntries(
    v.filter((r) => r.time === T0).map((r) => [r.asset, Math.round(r.weight * 1e9) / 1e9]),
  );
  assert.deepEqual(at0, { A: 0.4, B: 0.3, Other: 0.2, Cash: 0.1 });
  // deno-lint-ignore no-explicit-any
  const enc = spec.encoding as any;
  assert.deepEqual(enc.color.scale.domain, ["A", "B", "Other", "Cash"]);
  assert.equal(enc.y.stack, "zero");
  const svg = await renderSvg(spec);
  assert.equal(markCount(svg, "area"), 4);
  assert.ok(texts(svg).includes("Cash"));
  assert.throws(
    () => weightsChart({ timestamps: days(2), instruments, rows: [[1]] }),
    /1 weight rows for 2 timestamps/,
  );
});

Deno.test("trainingChart() shows one panel per metric with values and skips missing ones", async () => {
  const spec = trainingChart([
    {
      update: 1,
      timesteps: 2048,
      policyLoss: -0.01,
      valueLoss: 0.5,
      entropy: 1.4,
      approxKl: 0.01,
      meanEpisodeReturn: null,
    },
    {
      update: 2,
      timesteps: 4096,
      policyLoss: -0.02,
      valueLoss: 0.3,
      entropy: 1.3,
      approxKl: 0.02,
      meanEpisodeReturn: 0.05,
    },
  ]);
  const v = valuesOf(spec);
  assert.equal(v.length, 9); // 2 × 4 metrics + 1 episode return
  // deno-lint-ignore no-explicit-any
  assert.deepEqual((spec.facet as any).row.sort, [
    "episode return",
    "policy loss",
    "value loss",
    "entropy",
    "approx. KL",
  ]);
  const svg = await renderSvg(spec);
  assert.equal(markCount(svg, "line"), 5);
  const t = texts(svg);
  for (const label of ["Training", "entropy", "approx. KL", "value loss"]) {
    assert.ok(t.includes(label), label);
  }
  assert.throws(() => trainingChart([]), /at least one training record/);
});

function panelRows(): PanelRow[] {
  const rows: PanelRow[] = [];
  for (const t of days(10)) {
    for (const s of ["AAPL", "MSFT", "XOM"]) {
      rows.push({ instrument: s, timestamp: t, name: "ret_1", value: (t / DAY) % 3 - 1 });
      rows.push({ instrument: s, timestamp: new Date(t), name: "vol_20", value: 0.2 });
    }
  }
  return rows;
}

Deno.test("featurePanelChart() facets features into rows with a line per instrument", async () => {
  const spec = featurePanelChart(panelRows(), { instruments: ["AAPL", "XOM"] });
  assert.equal(valuesOf(spec).length, 2 * 2 * 10);
  // deno-lint-ignore no-explicit-any
  assert.deepEqual((spec.facet as any).row.sort, ["ret_1", "vol_20"]);
  const svg = await renderSvg(spec);
  assert.equal(markCount(svg, "line"), 4); // 2 feature rows × 2 instrument lines
  assert.ok(texts(svg).includes("vol_20"));
});

Deno.test("signalPanelChart() averages scores into time columns, one heat map per signal", async () => {
  const spec = signalPanelChart(panelRows(), { names: ["ret_1"], maxPoints: 5 });
  const v = valuesOf(spec);
  assert.equal(v.length, 3 * 5); // 3 instruments × 5 columns of 2 days
  assert.ok(v.every((r) => r.time2 - r.time === 2 * DAY));
  // deno-lint-ignore no-explicit-any
  assert.deepEqual((spec.vconcat as any)[0].encoding.color.scale, {
    scheme: "blueorange",
    domainMid: 0,
  });
  const svg = await renderSvg(spec);
  assert.equal(markCount(svg, "rect"), 1);
  assert.ok(texts(svg).includes("ret_1"));
});

Deno.test("dataQualityChart() merges runs of one class and colours by class", async () => {
  const rows = [
    { instrument: "AAPL", day: "2024-01-01", class: "present" as const },
    { instrument: "AAPL", day: "2024-01-02", class: "present" as const },
    { instrument: "AAPL", day: "2024-01-03", class: "missing" as const },
    { instrument: "NEW", day: "2024-01-01", class: "not_listed" as const },
    { instrument: "NEW", day: "2024-01-02", class: "suspicious" as const },
    { instrument: "NEW", day: "2024-01-03", class: "present" as const },
  ];
  const spec = dataQualityChart(rows);
  const v = valuesOf(spec);
  assert.deepEqual(
    v.filter((r) => r.instrument === "AAPL").map((r) => [r.class, (r.time2 - r.time) / DAY]),
    [
      ["present", 2],
      ["missing", 1],
    ],
  );
  // deno-lint-ignore no-explicit-any
  assert.deepEqual((spec.encoding as any).color.scale.domain, [
    "present",
    "missing",
    "not_listed",
    "suspicious",
  ]);
  // Two columns of 2 days: the first column of AAPL is present, the second holds missing → missing wins.
  const coarse = valuesOf(dataQualityChart(rows, { maxColumns: 2 }));
  assert.deepEqual(coarse.filter((r) => r.instrument === "AAPL").map((r) => r.class), [
    "present",
    "missing",
  ]);
  assert.deepEqual(coarse.filter((r) => r.instrument === "NEW").map((r) => r.class), [
    "suspicious",
    "present",
  ]);
  const svg = await renderSvg(spec);
  assert.equal(markCount(svg, "rect"), 1);
  assert.ok(texts(svg).includes("missing") && texts(svg).includes("Data quality"));
  assert.throws(
    () => dataQualityChart([{ instrument: "X", day: 0, class: "bad" as QualityClass }]),
    /Unknown data-quality class "bad" for X/,
  );
});

Deno.test("renderSvg() names the chart when a spec cannot be compiled", async () => {
  await assert.rejects(
    renderSvg({ $schema: "x", title: "Broken", data: { values: [] }, mark: "nonsense" }),
    /Cannot render Broken/,
  );
});
