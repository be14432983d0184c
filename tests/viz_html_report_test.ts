import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { inflateSync } from "node:zlib";
import { join } from "node:path";
import { panelFromBars } from "@lib/data/panel.ts";
import {
  aggregateFoldMetrics,
  computeMetrics,
  equalWeightBuyAndHold,
  pivotWeights,
} from "@lib/eval/mod.ts";
import { renderReportHtml, reportCharts, type ReportInput, writeReportHtml } from "@lib/viz/mod.ts";
import { Rng } from "@lib/util/rng.ts";

const DAY = 86_400_000;
const GENERATED = "2026-01-01T00:00:00.000Z";

/** 300 weekday bars of 3 instruments, a strategy that tracks them plus a steady edge, and its records. */
function fixture(edge = 0.002): ReportInput {
  const rng = new Rng(11);
  const symbols = ["AAA", "BBB", "CCC"];
  const ts: number[] = [];
  for (let t = Date.UTC(2022, 0, 3); ts.length < 300; t += DAY) {
    if (![0, 6].includes(new Date(t).getUTCDay())) ts.push(t);
  }
  const px = symbols.map(() => 100);
  const bars = {
    instrument: [] as string[],
    timestamp: [] as number[],
    open: [] as number[],
    high: [] as number[],
    low: [] as number[],
    close: [] as number[],
    volume: [] as number[],
  };
  const avgRet: number[] = [];
  ts.forEach((t, k) => {
    let mean = 0;
    symbols.forEach((s, i) => {
      const r = k === 0 ? 0 : 0.0003 + 0.012 * rng.normal();
      px[i] *= 1 + r;
      mean += r / symbols.length;
      for (const col of ["open", "high", "low", "close"] as const) bars[col].push(px[i]);
      bars.instrument.push(s);
      bars.timestamp.push(t);
      bars.volume.push(1e6);
    });
    avgRet.push(mean);
  });
  const panel = panelFromBars(bars, "1 day");
  const benchmark = equalWeightBuyAndHold(panel, {
    initialCash: 10_000,
    costs: { costPerTurnBps: 10, slippageBps: 0 },
  });
  let v = 10_000;
  const equity = avgRet.map((r, k) => (k === 0 ? v : (v *= 1 + r + edge)));
  const rows = ts.slice(1).map((_, k) => {
    const a = 0.2 + 0.1 * Math.sin(k / 20);
    return [a, 0.3, 0.4 - a / 2];
  });
  return {
    title: "PPO vs equal-weight buy & hold (test fixture)",
    subtitle: "Synthetic prices, 300 daily bars",
    generatedAt: GENERATED,
    strategy: {
      name: "PPO",
      timestamps: ts,
      equity,
      weights: { instruments: symbols, rows },
      costs: ts.slice(1).map((_, k) => (k % 10 === 0 ? 1.5 : 0)),
      slippage: ts.slice(1).map(() => 0.1),
    },
    benchmark,
    bootstrap: { resamples: 400, seed: 3 },
    training: Array.from({ length: 12 }, (_, i) => ({
      update: i + 1,
      timesteps: (i + 1) * 1024,
      policyLoss: -0.01 / (i + 1),
      valueLoss: 1 / (i + 1),
      entropy: 4 - 0.05 * i,
      approxKl: 0.005 + 0.001 * (i % 3),
      meanEpisodeReturn: i < 1 ? null : 0.01 * i,
    })),
    config: {
      env: { actionScheme: "softmax-weights", commission: 0.001, slippage: 0.0005 },
      databaseUrl: "postgres://tt:hunter2@db.example:5432/tt",
      ibkr: { password: "s3cret-pw", account: "DU123" },
      seed: 42,
    },
    lineage: {
      source: "csv:daily_sp41",
      symbols,
      trainRange: "2019-01-01 → 2021-12-31",
      ingestRun: 7,
    },
    notes: ["Out-of-sample: the model never saw these dates."],
  };
}

Deno.test("renderReportHtml() writes one self-contained page with inline SVG charts and no external resources", async () => {
  const html = await renderReportHtml(fixture());
  assert.ok(html.startsWith("<!doctype html>"));
  assert.equal((html.match(/<svg/g) ?? []).length, 5); // equity, drawdown, rolling Sharpe, weights, training
  assert.doesNotMatch(html, /<script|<link|<img|src=|@import|url\(/i);
  for (
    const h of [
      "Metrics",
      "Benchmark comparison",
      "Charts",
      "Training",
      "Configuration",
      "Data lineage",
      "Method",
    ]
  ) {
    assert.match(html, new RegExp(`<h2>${h}</h2>`));
  }
  assert.match(
    html,
    /<th class="num">PPO<\/th><th class="num">Equal-weight buy &amp; hold \(3\)<\/th>/,
  );
  assert.match(html, /2022-01-03 → 2023-02-24 · 299 bars · 252 bars\/year/);
  assert.match(html, /Out-of-sample: the model never saw these dates\./);
});

Deno.test("renderReportHtml() gives the verdict with its bootstrap CI and PSR: a strong edge is distinguishable from luck", async () => {
  const html = await renderReportHtml(fixture(0.002));
  assert.match(html, /class="verdict win"/);
  assert.match(html, /PPO beats Equal-weight buy &amp; hold \(3\), distinguishably from luck/);
  assert.match(html, /a win distinguishable from luck at 95 %/);
  assert.match(
    html,
    /Sharpe difference<\/td><td class="num">\+[0-9.]+ {2}\[\+[0-9.]+, \+[0-9.]+\]/,
  );
  assert.match(html, /PSR vs benchmark Sharpe<\/td><td class="num">[0-9.]+ %/);
});

Deno.test("renderReportHtml() says 'not distinguishable from luck' when the strategy is the benchmark", async () => {
  const input = fixture(0);
  const b = input.benchmark!;
  const html = await renderReportHtml({
    ...input,
    strategy: { name: "Same", timestamps: b.timestamps, equity: b.equity },
  });
  assert.match(html, /class="verdict neutral"/);
  assert.match(html, /Not distinguishable from luck at 95 %/);
  assert.match(html, /which includes 0\): not distinguishable from luck at 95 %/);
});

Deno.test("renderReportHtml() redacts credentials in config and lineage", async () => {
  const html = await renderReportHtml(fixture());
  assert.ok(!html.includes("hunter2") && !html.includes("s3cret-pw"));
  assert.match(html, /postgres:\/\/tt:\*\*\*@db\.example:5432\/tt/);
  assert.match(html, /&quot;password&quot;: &quot;\*\*\*&quot;/);
});

Deno.test("renderReportHtml() is byte-reproducible for a fixed generatedAt and seed", async () => {
  assert.equal(await renderReportHtml(fixture()), await renderReportHtml(fixture()));
});

Deno.test("renderReportHtml() without a benchmark shows the strategy alone and says why there is no verdict", async () => {
  const { benchmark: _b, training: _t, ...rest } = fixture();
  const html = await renderReportHtml(rest);
  assert.match(html, /No benchmark given/);
  assert.doesNotMatch(html, /Benchmark comparison/);
  assert.equal((html.match(/<svg/g) ?? []).length, 4);
});

Deno.test("renderReportHtml() adds walk-forward folds, signal and data-quality sections when given", async () => {
  const input = fixture();
  const ts = input.strategy.timestamps as number[];
  const eq = input.strategy.equity as number[];
  const fold = (index: number, a: number, b: number) => ({
    index,
    train: { startTime: ts[0], endTime: ts[a - 1] },
    test: { startTime: ts[a], endTime: ts[b - 1] },
    strategy: computeMetrics(eq.slice(a, b), { periodsPerYear: 252 }),
  });
  const folds = [fold(0, 100, 200), fold(1, 200, 300)];
  const html = await renderReportHtml({
    ...input,
    walkForward: { folds, aggregate: aggregateFoldMetrics(folds.map((f) => f.strategy)) },
    dataQuality: ts.slice(0, 20).map((t, i) => ({
      instrument: "AAA",
      day: t,
      class: i === 5 ? "missing" : "present",
    })),
    signals: ts.slice(0, 20).map((t, i) => ({
      instrument: "AAA",
      timestamp: t,
      name: "momentum",
      value: i - 10,
    })),
  });
  assert.match(html, /<h2>Walk-forward folds<\/h2>/);
  assert.match(
    html,
    new RegExp(`<td>1</td><td>2022-01-03 → ${new Date(ts[199]).toISOString().slice(0, 10)}</td>`),
  );
  assert.match(html, /Mean over 2 folds \(100\.00 % positive\)/);
  assert.match(html, /<h2>Signals<\/h2>/);
  assert.match(html, /<h2>Data quality<\/h2>/);
  assert.equal((html.match(/<svg/g) ?? []).length, 7);
});

Deno.test("reportCharts() aligns T weight rows to the last T of T + 1 bars and rejects too many rows", () => {
  const input = fixture();
  const charts = reportCharts(input);
  // deno-lint-ignore no-explicit-any
  const values = (charts.weights!.data as any).values as { time: number }[];
  const ts = input.strategy.timestamps;
  assert.equal(values[0].time, ts[1]);
  assert.equal(values.at(-1)!.time, ts[ts.length - 1]);
  assert.ok(charts.training && charts.rollingSharpe);
  const tooMany = {
    ...input.strategy,
    weights: { instruments: ["A"], rows: Array.from({ length: 301 }, () => [1]) },
  };
  assert.throws(
    () => reportCharts({ ...input, strategy: tooMany }),
    /301 weight rows for 300 equity points/,
  );
});

Deno.test("pivotWeights() turns tt_target_weights rows into one row per time, 0 where absent", () => {
  const t1 = new Date(Date.UTC(2024, 0, 2)), t2 = Date.UTC(2024, 0, 3);
  const w = pivotWeights([
    { timestamp: t2, instrument: "MSFT", weight: 0.7 },
    { timestamp: t1, instrument: "AAPL", weight: 0.4 },
    { timestamp: t1, instrument: "MSFT", weight: 0.6 },
  ]);
  assert.deepEqual(w.instruments, ["AAPL", "MSFT"]);
  assert.deepEqual(w.timestamps, [t1.getTime(), t2]);
  assert.deepEqual(w.rows.map((r) => [...r]), [[0.4, 0.6], [0, 0.7]]);
  assert.throws(
    () =>
      pivotWeights([{ timestamp: t2, instrument: "X", weight: 1 }, {
        timestamp: t2,
        instrument: "X",
        weight: 1,
      }]),
    /Two weights for X at 2024-01-03/,
  );
});

// ---------------------------------------------------------------- browser screenshot

function findChromium(): string | null {
  for (const bin of ["chromium", "chromium-browser", "google-chrome"]) {
    try {
      const out = new Deno.Command("which", { args: [bin], stdout: "piped", stderr: "null" })
        .outputSync();
      if (out.success) return new TextDecoder().decode(out.stdout).trim();
    } catch { /* `which` missing */ }
  }
  return null;
}
const CHROMIUM = findChromium();
if (!CHROMIUM) {
  console.log(
    "SKIP eval_report_test screenshot: no chromium on PATH " +
      "(install with: apt-get install -y chromium)",
  );
}

/** Decodes an 8-bit RGB/RGBA, non-interlaced PNG into its size and pixel bytes. */
function decodePng(
  bytes: Uint8Array,
): { width: number; height: number; channels: number; pixels: Uint8Array } {
  const sig = [137, 80, 78, 71, 13, 10, 26, 10];
  assert.deepEqual([...bytes.subarray(0, 8)], sig, "PNG signature");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let width = 0, height = 0, channels = 0, pos = 8;
  const idat: Uint8Array[] = [];
  while (pos < bytes.length) {
    const len = view.getUint32(pos);
    const type = new TextDecoder().decode(bytes.subarray(pos + 4, pos + 8));
    const data = bytes.subarray(pos + 8, pos + 8 + len);
    if (type === "IHDR") {
      width = view.getUint32(pos + 8);
      height = view.getUint32(pos + 12);
      assert.equal(data[8], 8, "bit depth 8");
      channels = ({ 2: 3, 6: 4 } as Record<number, number>)[data[9]];
      assert.ok(channels, `colour type ${data[9]}`);
      assert.equal(data[12], 0, "not interlaced");
    } else if (type === "IDAT") idat.push(data);
    pos += 12 + len;
  }
  const raw = new Uint8Array(inflateSync(Buffer.concat(idat)));
  const stride = width * channels;
  const pixels = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const out = pixels.subarray(y * stride, (y + 1) * stride);
    const prev = y > 0 ? pixels.subarray((y - 1) * stride, y * stride) : new Uint8Array(stride);
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? out[x - channels] : 0,
        b = prev[x],
        c = x >= channels ? prev[x - channels] : 0;
      let p = 0;
      if (filter === 1) p = a;
      else if (filter === 2) p = b;
      else if (filter === 3) p = (a + b) >> 1;
      else if (filter === 4) {
        const q = a + b - c, pa = Math.abs(q - a), pb = Math.abs(q - b), pc = Math.abs(q - c);
        p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      out[x] = (line[x] + p) & 255;
    }
  }
  return { width, height, channels, pixels };
}

Deno.test({
  name:
    "renderReportHtml() output renders in headless Chromium (screenshot is 1280×2000 and not blank)",
  ignore: !CHROMIUM,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "tt_report_" });
    const profile = await Deno.makeTempDir({ prefix: "tt_chromium_" });
    try {
      const htmlPath = await writeReportHtml(join(dir, "report.html"), fixture());
      const png = join(dir, "report.png");
      const out = await new Deno.Command(CHROMIUM!, {
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          `--user-data-dir=${profile}`,
          `--screenshot=${png}`,
          "--window-size=1280,2000",
          `file://${htmlPath}`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stat = await Deno.stat(png).catch(() => null);
      assert.ok(
        stat,
        `chromium wrote no screenshot (exit ${out.code}): ${
          new TextDecoder().decode(out.stderr).slice(-800)
        }`,
      );
      assert.ok(stat.size > 30_000, `screenshot is only ${stat.size} bytes`);
      const img = decodePng(await Deno.readFile(png));
      assert.equal(img.width, 1280);
      assert.equal(img.height, 2000);
      // Not blank: many distinct colours, and a good share of pixels differ from the page background.
      const bg = img.pixels.subarray(0, 3).join(",");
      const colours = new Set<string>();
      let ink = 0, n = 0;
      for (let i = 0; i < img.pixels.length; i += img.channels * 7) {
        const key = `${img.pixels[i]},${img.pixels[i + 1]},${img.pixels[i + 2]}`;
        colours.add(key);
        if (key !== bg) ink++;
        n++;
      }
      assert.ok(colours.size > 100, `only ${colours.size} distinct colours: blank page?`);
      assert.ok(
        ink / n > 0.2,
        `only ${(100 * ink / n).toFixed(1)} % of pixels differ from the background`,
      );
      if (Deno.env.get("TT_KEEP_SCREENSHOT")) {
        await Deno.copyFile(png, Deno.env.get("TT_KEEP_SCREENSHOT")!);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    }
  },
});
