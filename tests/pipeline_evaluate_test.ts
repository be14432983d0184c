/**
 * Evaluation against every baseline on the sample data: the baselines and the verdict
 * on the best one, evaluation costs chosen by the evaluator (with the warning), the
 * survivorship statement, a per-asset model on a universe given at evaluation time,
 * several models (seeds) with their distribution, the out-of-sample check over every
 * trained range, `NAME@vN`, and the HTML report with baselines, seeds and costs.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { openStore, readEpisode } from "@lib/db/mod.ts";
import { ingestSample } from "@lib/data/mod.ts";
import { policyConfigForSpaces } from "@lib/agents/mod.ts";
import { box, resolveCostOptions } from "@lib/env/mod.ts";
import { BASELINE_KEYS } from "@lib/eval/mod.ts";
import {
  checkOutOfSample,
  costsUsed,
  createPolicyBackend,
  evaluateModel,
  evaluateModels,
  evaluationsSummary,
  evaluationSummary,
  evaluationUniverse,
  InSampleError,
  saveAndRegisterModel,
  trainModel,
  UniverseMismatchError,
  writeEpisodeReport,
  writeEvaluationReport,
} from "@lib/pipeline/mod.ts";

Deno.test("costsUsed() warns when the evaluation charges other costs than training", () => {
  const zero = resolveCostOptions({ costPerTurnBps: 0, slippageBps: 0 });
  const real = resolveCostOptions();
  assert.equal(
    costsUsed(zero, real).warning,
    "trained at 0+0 bps, evaluated at 10+5 bps (commission + slippage)",
  );
  assert.equal(costsUsed(real, real).warning, null);
  assert.match(
    costsUsed(real, resolveCostOptions({ feeModel: "ibkr-fixed" })).warning!,
    /evaluated at IBKR fixed\+5 bps/,
  );
});

Deno.test("checkOutOfSample() refuses an overlap with any trained range, not only the last", () => {
  const ranges = [
    { start: "2010-01-01", end: "2011-12-31" },
    { start: "2013-01-01", end: "2014-12-31" },
  ];
  assert.deepEqual(checkOutOfSample(ranges, "2015-01-02", "2016-12-31", false), []);
  assert.throws(
    () => checkOutOfSample(ranges, "2011-06-01", "2012-06-30", false),
    (e: Error) =>
      e instanceof InSampleError &&
      /2010-01-01\.\.2011-12-31 \(of 2 trained ranges\)/.test(e.message) &&
      /--start 2015-01-01/.test(e.message),
  );
  assert.equal(checkOutOfSample(ranges, "2011-06-01", undefined, true).length, 2);
});

Deno.test("evaluationUniverse(): a per-asset model takes any universe, an mlp model only its own", () => {
  assert.deepEqual(
    evaluationUniverse(["AAPL", "SPX"], ["MSFT", "JPM", "MSFT"], { perAsset: true }),
    [
      "MSFT",
      "JPM",
    ],
  );
  assert.deepEqual(evaluationUniverse(["AAPL", "SPX"], ["SPX", "AAPL"], { perAsset: true }), [
    "AAPL",
    "SPX",
  ]);
  assert.throws(() => evaluationUniverse(["AAPL", "SPX"], ["SPX"]), UniverseMismatchError);
});

Deno.test("evaluateModel() against every baseline, at the evaluator's costs, on the sample data", async (t) => {
  const tmp = await Deno.makeTempDir({ prefix: "tt_eval_" });
  const store = await openStore({ dataDir: "memory://" });
  try {
    await ingestSample(store, { silent: true });
    const train = {
      symbols: ["AAPL", "SPX"],
      start: "2013-05-13",
      end: "2015-12-31",
      steps: 512,
      numEnvs: 2,
      // Portfolio-level models: the per-asset one is built by hand below, and an mlp model
      // must be refused on another universe.
      policy: "mlp" as const,
    };
    const a = await trainModel(store, { ...train, seed: 1, out: join(tmp, "a") });
    const b = await trainModel(store, { ...train, seed: 2, out: join(tmp, "b") });
    const c = await trainModel(store, { ...train, seed: 3, out: join(tmp, "c") });

    await t.step(
      "every baseline runs on the same bars; the verdict names the best by Sharpe",
      async () => {
        const r = await evaluateModel(store, { model: String(a.modelId), end: "2016-12-31" });
        assert.deepEqual(r.baselines.baselines.map((x) => x.key), [...BASELINE_KEYS]);
        for (const x of r.baselineCurves) {
          assert.equal(x.curve.timestamps[0], r.trace.equityTimestamps[0]);
          assert.equal(x.curve.timestamps.at(-1), r.trace.equityTimestamps.at(-1));
        }
        const sharpes = r.baselines.baselines.map((x) => x.comparison.benchmark.sharpe);
        assert.equal(r.baselines.best.comparison.benchmark.sharpe, Math.max(...sharpes));
        assert.match(r.baselines.verdict, /the best baseline/);
        assert.equal(r.comparison, r.baselines.baselines[0].comparison);
        // Trained and evaluated at the defaults: no warning.
        assert.equal(r.costs.differ, false);
        assert.equal(r.costs.evaluation.costPerTurnBps, 10);
        // The sample's AAPL file ends in 2018, SPX in 2020: not "survivors" by the rule.
        assert.equal(r.survivorship.fixedAt, "unknown");
        assert.deepEqual(r.survivorship.stopped, [{ instrument: "AAPL", last: "2018-05-11" }]);
        const ep = await readEpisode(store, r.episodeId);
        const cfg = ep!.episode.config as Record<string, unknown>;
        assert.equal((cfg.baselines as unknown[]).length, 5);
        assert.equal(cfg.bestBaseline, r.baselines.best.key);
        assert.match(
          String((cfg.survivorship as { statement: string }).statement),
          /AAPL 2018-05-11/,
        );
        const s = evaluationSummary(r);
        assert.equal((s.baselines as unknown[]).length, 5);
        assert.equal(s.bestBaseline, r.baselines.best.key);
      },
    );

    await t.step(
      "evaluation costs override the training costs, and the difference is stated",
      async () => {
        const r = await evaluateModel(store, {
          model: String(a.modelId),
          end: "2016-12-31",
          costs: { costPerTurnBps: 0, slippageBps: 0 },
          logBenchmark: false,
        });
        assert.equal(
          r.costs.warning,
          "trained at 10+5 bps, evaluated at 0+0 bps (commission + slippage)",
        );
        assert.equal(r.comparison.strategy.costsPaidFraction, 0);
        assert.ok(r.baselineCurves.every((x) => x.curve.costs.every((v) => v === 0)));
        const ibkr = await evaluateModel(store, {
          model: String(a.modelId),
          end: "2016-12-31",
          costs: { feeModel: "ibkr-fixed" },
          logBenchmark: false,
        });
        assert.equal(ibkr.costs.evaluation.feeModel, "ibkr-fixed");
        assert.match(ibkr.costs.warning!, /IBKR fixed/);
      },
    );

    await t.step(
      "a per-asset model is evaluated on a universe given at evaluation time",
      async () => {
        const cfg = a.model.manifest.config;
        const F = cfg.features.names.length * cfg.env.window;
        const N = cfg.instruments.length;
        // The allocation schemes' action ends with a cash score (N + 1 entries).
        const cash = cfg.env.action === "allocation" || cfg.env.action === "allocation-ls";
        const policy = policyConfigForSpaces(box([N * F + N]), box([cash ? N + 1 : N]), {
          topology: "per-asset",
          assetFeatures: F,
          hidden: [16],
          seed: 5,
        });
        const backend = await createPolicyBackend("kernel", policy);
        const saved = await saveAndRegisterModel(store, backend, { ...cfg, policy }, {
          name: "per-asset",
          dir: join(tmp, "pa"),
          // Shared per-asset statistics: one entry per asset feature and one for the weight.
          obsNorm: {
            mean: new Array(F + 1).fill(0),
            var: new Array(F + 1).fill(1),
            count: 1,
            clip: 10,
            epsilon: 1e-8,
            assetFeatures: F,
          },
        });
        backend.dispose();
        const r = await evaluateModel(store, {
          model: "per-asset@v1",
          symbols: ["SPX"],
          end: "2016-12-31",
          logBenchmark: false,
        });
        assert.equal(r.model.manifest.modelId, saved.record.id);
        assert.deepEqual(r.instruments, ["SPX"]);
        assert.equal(r.universe.sameAsTrained, false);
        assert.equal(r.universe.perAsset, true);
        assert.equal(r.trace.heldWeights[0].length, 1);
        await assert.rejects(
          () => evaluateModel(store, { model: String(a.modelId), symbols: ["SPX"] }),
          UniverseMismatchError,
        );
      },
    );

    await t.step(
      "several models: the same range and costs, each seed, the median and quartiles",
      async () => {
        const m = await evaluateModels(store, {
          models: [String(a.modelId), String(b.modelId), join(tmp, "c")],
          end: "2016-12-31",
          logBenchmark: false,
        });
        assert.equal(m.results.length, 3);
        assert.ok(
          m.results.every((r) => r.range.start === m.range.start && r.range.end === m.range.end),
        );
        assert.equal(m.range.start, "2016-01-04");
        const sharpes = m.results.map((r) => r.comparison.strategy.sharpe);
        assert.deepEqual(m.distribution.sharpe.values, sharpes);
        assert.equal(m.distribution.sharpe.median, [...sharpes].sort((x, y) => x - y)[1]);
        assert.equal(sharpes[m.medianIndex], m.distribution.sharpe.median);
        assert.match(m.verdict, /^Median Sharpe over 3 models/);
        assert.match(m.verdict, /equal-weight buy & hold at 95 %/);
        const s = evaluationsSummary(m);
        assert.equal((s.models as unknown[]).length, 3);
        assert.equal((s.baselines as unknown[]).length, 5);
        assert.ok((s.median as Record<string, { median: number }>).annualizedTurnover);
        const json = JSON.parse(JSON.stringify(s));
        assert.equal(json.models[m.medianIndex].median, true);

        const path = await writeEvaluationReport(m, join(tmp, "seeds.html"));
        const html = await Deno.readTextFile(path);
        for (
          const text of [
            "Baselines",
            "Seeds",
            "Costs and universe",
            "Evaluation costs",
            "Survivorship",
            "(median)",
            "Inverse volatility",
            "Combined-signal tilt",
          ]
        ) {
          assert.ok(html.includes(text), `the report shows ${text}`);
        }
        assert.doesNotMatch(html, /<script/);
      },
    );

    await t.step(
      "the episode report of an evaluation shows its baselines, costs and survivorship",
      async () => {
        const r = await evaluateModel(store, {
          model: String(c.modelId),
          end: "2016-12-31",
          costs: { slippageBps: 0 },
        });
        const out = await writeEpisodeReport(
          store,
          { episodeId: r.episodeId },
          join(tmp, "ep.html"),
        );
        const html = await Deno.readTextFile(out.path);
        assert.match(html, /<h2>Baselines<\/h2>/);
        assert.match(html, /Equal weight, rebalanced/);
        assert.match(html, /Warning: trained at 10\+5 bps, evaluated at 10\+0 bps/);
        assert.match(
          html,
          /Survivorship: 1 of 2 instruments have no bars after/,
        );
      },
    );
  } finally {
    await store.close();
    await Deno.remove(tmp, { recursive: true });
  }
});
