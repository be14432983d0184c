/**
 * The live cycle's incremental feature step (`loadCycleMarket`, `lib/features/tail.ts`):
 * features over the newest bars only give the same observation and the same target
 * weights at the decision bar as the full-history computation, the tail is really short
 * (NaN before it), every feature with unbounded memory is known as such, and a live cycle
 * still trades through it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { openStore } from "@lib/db/mod.ts";
import { ingestSample } from "@lib/data/mod.ts";
import type { PricePanel } from "@lib/data/panel.ts";
import {
  computeFeaturePanel,
  computeFeaturePanelTail,
  EXPONENTIAL_MEMORY_BARS,
  featureTailBars,
  hasUnboundedMemory,
  resolveFeatureNames,
  syntheticBars,
  warmupOf,
} from "@lib/features/mod.ts";
import { envOptionsFor, makePortfolioEnv } from "@lib/env/mod.ts";
import { PolicyDecider } from "@lib/execution/mod.ts";
import {
  createPolicyBackend,
  historyBarsFor,
  loadMarket,
  type Market,
  resolveModel,
  trainModel,
} from "@lib/pipeline/mod.ts";
import { loadCycleMarket, tradeOnce } from "@lib/pipeline/trade.ts";

/** 50 synthetic symbols × D bars as a price panel. */
function panel(symbols: number, days: number, seed: number): PricePanel {
  const b = syntheticBars(symbols, days, seed);
  const p: PricePanel = {
    instruments: b.symbols,
    barSize: "1 day",
    timestamps: Array.from(b.days),
    open: new Float64Array(symbols * days),
    high: new Float64Array(symbols * days),
    low: new Float64Array(symbols * days),
    close: new Float64Array(symbols * days),
    volume: new Float64Array(symbols * days),
  };
  for (const k of ["open", "high", "low", "close", "volume"] as const) {
    for (let t = 0; t < days; t++) {
      for (let i = 0; i < symbols; i++) p[k][t * symbols + i] = b[k][i * days + t];
    }
  }
  return p;
}

const ROLLING_OVER_PRICE = new Set(["bb_pctb_20", "zscore_20"]);

Deno.test("computeFeaturePanelTail(): the newest window equals the full-history panel (bit for bit; price-level rolling windows within one float32 ulp)", () => {
  const S = 20, D = 1500, window = 5;
  const prices = panel(S, D, 11);
  const names = resolveFeatureNames({ set: "all" });
  const F = names.length;
  const full = computeFeaturePanel(prices, { names });
  const bars = featureTailBars(names, window);
  assert.equal(bars, warmupOf(names) + window + 1 + EXPONENTIAL_MEMORY_BARS);
  const tail = computeFeaturePanelTail(prices, { names }, bars);
  assert.equal(tail.values.length, full.values.length);
  assert.equal(tail.warmup, D - bars + warmupOf(names));
  // Nothing computed before the tail.
  for (let k = 0; k < (D - bars) * S * F; k++) assert.ok(Number.isNaN(tail.values[k]));
  let ulps = 0;
  for (let t = D - window; t < D; t++) {
    for (let i = 0; i < S; i++) {
      for (let f = 0; f < F; f++) {
        const k = (t * S + i) * F + f;
        const x = full.values[k], y = tail.values[k];
        assert.ok(Number.isFinite(x), `${names[f]} defined at bar ${t}`);
        if (Object.is(x, y)) continue;
        assert.ok(
          ROLLING_OVER_PRICE.has(names[f]) && Math.abs(x - y) <= Math.abs(x) * 2.4e-7,
          `${names[f]} at bar ${t}, ${prices.instruments[i]}: ${y} vs ${x}`,
        );
        ulps++;
      }
    }
  }
  assert.ok(ulps <= 2, `${ulps} float32 ulp differences`);
});

Deno.test("hasUnboundedMemory(): every feature a short history changes is marked (the 600-bar margin covers it)", () => {
  const S = 10, D = 900;
  const prices = panel(S, D, 3);
  const names = resolveFeatureNames({ set: "all" });
  const F = names.length;
  const full = computeFeaturePanel(prices, { names });
  // No margin: only the derived warm-up + 1 bar.
  const short = computeFeaturePanelTail(prices, { names }, warmupOf(names) + 2);
  for (let f = 0; f < F; f++) {
    let worst = 0;
    for (let i = 0; i < S; i++) {
      const k = ((D - 1) * S + i) * F + f;
      worst = Math.max(
        worst,
        Math.abs(full.values[k] - short.values[k]) / Math.abs(full.values[k]),
      );
    }
    if (worst > 1e-6) {
      assert.ok(hasUnboundedMemory(names[f]), `${names[f]} differs by ${worst} without margin`);
    }
  }
  assert.ok(hasUnboundedMemory("macd_hist") && hasUnboundedMemory("rsi_14"));
  assert.ok(!hasUnboundedMemory("vol_20") && !hasUnboundedMemory("rank_mom_120"));
  assert.equal(featureTailBars(["return_1", "vol_10", "vol_20"], 1), 22);
});

Deno.test("loadCycleMarket(): the decision's observation and target weights equal the full history's; a live cycle trades on it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tt_cycle_market_" });
  const store = await openStore({ dataDir: "memory://" });
  try {
    await ingestSample(store, { silent: true });
    const symbols = ["AAPL", "SPX"];
    for (const featureSet of ["basic", "technical"] as const) {
      const m = await trainModel(store, {
        symbols,
        start: "2013-05-13",
        end: "2015-12-31",
        steps: 128,
        numEnvs: 2,
        policy: "mlp",
        featureSet,
        env: { window: 3 },
        seed: 4,
        out: join(dir, featureSet),
      });
      const saved = await resolveModel(store, String(m.modelId));
      const cfg = saved.manifest.config;
      const request = {
        symbols,
        barSize: cfg.barSize,
        featureSet,
        window: cfg.env.window,
        end: "2018-05-11", // AAPL's last sample bar
      };
      // A new live run: start at the newest bar, as tradeOnce asks.
      const cycle = await loadCycleMarket(store, {
        ...request,
        start: "2018-05-11",
        historyBars: historyBarsFor(cfg.features.names, cfg.env.window) + 22,
      });
      const full = await loadMarket(store, request); // every stored bar (SPX from 2000 on)
      const T = cycle.prices.timestamps.length, Tf = full.prices.timestamps.length;
      assert.equal(cycle.prices.timestamps[T - 1], full.prices.timestamps[Tf - 1]);
      const tail = featureTailBars(cfg.features.names, cfg.env.window);
      assert.ok(Tf > tail, `${featureSet}: the full history (${Tf}) is longer than the tail`);
      assert.ok(T >= tail && T < Tf, `${featureSet}: ${T} bars read`);
      const F = cfg.features.names.length;
      const n = symbols.length;
      assert.ok(
        Number.isNaN(cycle.features.values[(T - tail - 1) * n * F]),
        "nothing before the tail",
      );

      const decide = async (mk: Market) => {
        const env = makePortfolioEnv(mk.prices, mk.features, {
          ...envOptionsFor(cfg.env, false),
          range: { start: 0, end: mk.endIndex },
        });
        const backend = await createPolicyBackend("auto", cfg.policy);
        try {
          backend.importWeights(saved.weights);
          const t = mk.endIndex;
          const weights = new Float64Array(n).fill(0.3);
          const obs = env.observeAt(t, weights);
          const d = new PolicyDecider(env, backend, saved.obsNorm).decide({
            t,
            weights,
            steps: 0,
            episodeStart: t,
          });
          return { obs, target: d.targetWeights };
        } finally {
          backend.dispose();
        }
      };
      const a = await decide(cycle), b = await decide(full);
      assert.deepEqual(a.obs, b.obs, `${featureSet}: observation`);
      assert.deepEqual(a.target, b.target, `${featureSet}: target weights`);
      assert.ok(a.target.some((w) => w !== 0));

      if (featureSet === "basic") {
        const r = await tradeOnce(store, { model: String(m.modelId) });
        assert.equal(r.cycle.bar, Date.UTC(2018, 4, 11));
        assert.ok(r.cycle.reconciliation.ok);
        assert.ok(r.cycle.planned.length >= 1, "the live cycle decided orders");
      }
    }
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
