/**
 * Champion/challenger A/B, the comparison's verdict, performance drift and retraining
 * triggers: the pure pieces on hand-made curves, then a user's whole path on the sample
 * data (train two versions, alias a champion, shadow the other in a paper replay,
 * compare, roll back; performance drift on a planted divergence and on a matching
 * period; a trigger registering a challenger) on PGlite and the server.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ingestSample } from "@lib/data/mod.ts";
import {
  listAbPairs,
  listRetrainJobs,
  openStore,
  readAccountCurve,
  readAlias,
  recordBarSnapshot,
  startTradingRun,
} from "@lib/db/mod.ts";
import {
  compareCurves,
  compareModels,
  computePerformanceDrift,
  describeModel,
  evaluateTriggers,
  lookupModelRef,
  performanceDrift,
  rollbackAlias,
  setAlias,
} from "@lib/models/mod.ts";
import {
  evaluateModel,
  parseRetrainSpec,
  replayShadow,
  runTriggers,
  trainModel,
} from "@lib/pipeline/mod.ts";
import { PROJECT_ROOT, Rng } from "@lib/util/mod.ts";
import { storeFactories } from "./support/stores.ts";

const DAY = 86_400_000;

function curveFrom(returns: readonly number[], t0 = Date.UTC(2020, 0, 1)) {
  const equity = [1_000_000];
  for (const r of returns) equity.push(equity.at(-1)! * (1 + r));
  return { timestamps: equity.map((_, i) => t0 + i * DAY), equity };
}

function noise(n: number, seed: number, sd = 0.01, mean = 0): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    // Box-Muller.
    const u = Math.max(1e-12, rng.uniform()), v = rng.uniform();
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  });
}

Deno.test("compareCurves() promotes a clearly better challenger, keeps a clearly worse one out, and says how much more data a small edge needs", () => {
  const base = noise(500, 1);
  const champion = curveFrom(base);
  // Same bars, same shocks, +0.2 % a bar: paired, so the interval is narrow.
  const better = curveFrom(base.map((r, i) => r + 0.002 + noise(500, 2, 0.002)[i]));
  const c1 = compareCurves(champion, better, { seed: 3 });
  assert.equal(c1.verdict, "promote");
  assert.ok(c1.sharpeDifference.lower > 0);
  assert.equal(c1.moreData, null);
  assert.equal(c1.bars, 501);

  const worse = curveFrom(base.map((r) => r - 0.002));
  assert.equal(compareCurves(champion, worse, { seed: 3 }).verdict, "challenger-worse");

  // Two independent books of the same distribution (no true edge), 40 times over 120 bars:
  // promotions are false ones and should be rare (≈ 2.5 % at 95 %); each not-enough
  // verdict with the challenger ahead projects the bars as (half-width / estimate)^2.
  let promoted = 0, projected = 0;
  for (let k = 0; k < 40; k++) {
    const c = compareCurves(curveFrom(noise(120, 100 + k)), curveFrom(noise(120, 200 + k)), {
      seed: k,
      resamples: 500,
    });
    if (c.verdict === "promote") promoted++;
    if (c.verdict === "not-enough-evidence" && c.sharpeDifference.estimate > 0) {
      projected++;
      const half = (c.sharpeDifference.upper - c.sharpeDifference.lower) / 2;
      assert.equal(
        c.moreData?.totalBars,
        Math.ceil(120 * (half / c.sharpeDifference.estimate) ** 2) + 1,
      );
      assert.ok(c.moreData!.moreBars > 0);
      assert.match(c.text, /more bars .* projection/);
    }
    if (c.verdict === "not-enough-evidence" && c.sharpeDifference.estimate <= 0) {
      assert.equal(c.moreData, null);
      assert.match(c.text, /not ahead/);
    }
  }
  assert.ok(promoted <= 4, `${promoted} of 40 false promotions`);
  assert.ok(projected > 5, `${projected} projections`);
  assert.throws(() => compareCurves(curveFrom([0.01]), curveFrom([0.01])), /share 2 bars/);
});

Deno.test("performanceDrift() flags a planted crash and a diverging book, not the backtest's own bars", () => {
  const bt = curveFrom(noise(750, 11, 0.01, 0.0004));
  // Live = the backtest's last 120 bars: same bars, same returns.
  const same = { timestamps: bt.timestamps.slice(-121), equity: bt.equity.slice(-121) };
  const ok = performanceDrift(same, bt, { seed: 1 });
  assert.equal(ok.drifted, false, ok.reasons.join("; "));
  assert.ok(ok.sameBars && ok.sameBars.trackingError < 1e-9 && ok.sameBars.bars === 121);
  assert.ok(ok.pDrawdown > 0.01 && ok.pReturn > 0.01);

  // Planted: the same bars with a 25 % crash over 10 bars in the middle.
  const crashed = [...same.equity];
  for (let i = 50; i < crashed.length; i++) {
    crashed[i] = same.equity[i] * (i < 60 ? 1 - 0.025 * (i - 49) : 0.75);
  }
  const bad = performanceDrift({ timestamps: same.timestamps, equity: crashed }, bt, { seed: 1 });
  assert.equal(bad.drifted, true);
  assert.ok(bad.pDrawdown < 0.01, `P(drawdown) ${bad.pDrawdown}`);
  assert.ok(bad.sameBars!.trackingError > 0.05);
  assert.ok(bad.sameBars!.cumulativeDifference < -0.2);
  assert.ok(bad.reasons.some((r) => /drawdown/.test(r)));
});

Deno.test("evaluateTriggers() fires the rules that hold and only those", () => {
  const state = {
    newBars: 70,
    since: "2016-12-30",
    featureDrift: { runId: 1, drifted: true, at: "2017-04-01T00:00:00.000Z" },
    performanceDrift: { runId: 2, drifted: false, at: "2017-04-01T00:00:00.000Z" },
  };
  assert.deepEqual(evaluateTriggers({ everyBars: 100 }, state), []);
  assert.deepEqual(
    evaluateTriggers({ everyBars: 63, featureDrift: true, performanceDrift: true }, state).map((
      r,
    ) => r.rule),
    ["every-bars", "feature-drift"],
  );
  assert.throws(() => evaluateTriggers({ everyBars: 0 }, state), /whole number/);
  assert.throws(() => parseRetrainSpec({ modelId: 1 }, "job 1"), /modelName must be a string/);
});

const lastJson = (s: string) => JSON.parse(s.trim().split("\n").at(-1) ?? "");

async function task(args: string[], dataDir: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join("tasks", "models.ts"), ...args],
    cwd: PROJECT_ROOT,
    env: { TT_DATA_DIR: dataDir, DATABASE_URL: "", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

for (const factory of storeFactories()) {
  Deno.test(`[${factory.name}] A/B: two versions, champion, shadow replay, compare, roll back; performance drift; a trigger makes a challenger`, async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "tt_ab_" });
    // PGlite on disk, so that the tasks can open it after the test closes it.
    const store = factory.name === "pglite"
      ? await openStore({ dataDir: join(dir, "pgdata") })
      : await factory.open();
    try {
      await ingestSample(store, { silent: true });
      const train = (seed: number) =>
        trainModel(store, {
          symbols: ["AAPL", "SPX"],
          start: "2013-05-13",
          end: "2015-12-31",
          steps: 512,
          numEnvs: 2,
          policy: "mlp",
          seed,
          name: "ab",
          out: join(dir, `m${seed}`),
          logEpisodes: "none",
        });
      const v1 = await train(1), v2 = await train(2);
      assert.deepEqual([v1.version, v2.version], [1, 2]);
      const m1 = await lookupModelRef(store, "ab@v1"), m2 = await lookupModelRef(store, "ab@v2");
      await setAlias(store, m1, "champion", { who: "test", why: "first" });
      await setAlias(store, m2, "challenger", { who: "test" });

      const range = { start: "2017-01-03", end: "2018-05-11" };
      let championRun = 0;
      await t.step("shadow replay: two books on the same bars, linked", async () => {
        const ab = await replayShadow(store, {
          champion: "ab@champion",
          challenger: "ab@challenger",
          ...range,
        });
        championRun = ab.champion.runId;
        assert.deepEqual(ab.champion.timestamps, ab.challenger.timestamps);
        assert.notEqual(ab.champion.runId, ab.challenger.runId);
        assert.equal(ab.pair.mode, "shadow");
        assert.equal(ab.challenger.equity[0], ab.champion.equity[0], "full capital each");
        const [pair] = await listAbPairs(store, { models: [m2.id, m1.id] });
        assert.deepEqual(
          [pair.championRunId, pair.challengerRunId],
          [ab.champion.runId, ab.challenger.runId],
        );
        // Both books persisted.
        const curveB = await readAccountCurve(store, ab.challenger.runId);
        assert.deepEqual(curveB.map((r) => r.netLiquidation), ab.challenger.equity);

        const split = await replayShadow(store, {
          champion: "ab@champion",
          challenger: "ab@challenger",
          start: "2017-06-01",
          end: "2017-08-31",
          split: 0.8,
        });
        assert.equal(split.pair.mode, "split");
        assert.ok(Math.abs(split.champion.equity[0] - 800_000) < 1e-6);
        assert.ok(Math.abs(split.challenger.equity[0] - 200_000) < 1e-6);
        await assert.rejects(
          () => replayShadow(store, { champion: "1", challenger: "2", ...range, split: 1.2 }),
          /split = 1.2/,
        );
      });

      await t.step("compare: the books of the newest pair, the interval decides", async () => {
        // The newest pair is the split one; both orders of A and B work.
        const c = await compareModels(store, m1, m2, { source: "books" });
        assert.equal(c.source, "books");
        assert.equal(c.verdict === "promote", c.sharpeDifference.lower > 0);
        assert.equal(c.verdict === "challenger-worse", c.sharpeDifference.upper < 0);
        const rev = await compareModels(store, m2, m1, { source: "books" });
        assert.ok(Math.abs(rev.sharpeDifference.estimate + c.sharpeDifference.estimate) < 1e-9);
        await assert.rejects(
          () => compareModels(store, m1, m2, { source: "episodes" }),
          /same range/,
        );
        await evaluateModel(store, { model: String(m1.id), ...range, logBenchmark: false });
        await evaluateModel(store, { model: String(m2.id), ...range, logBenchmark: false });
        const e = await compareModels(store, m1, m2, { source: "episodes" });
        assert.equal(e.source, "episodes");
        assert.ok(e.bars > 300);
      });

      await t.step("rollback after the A/B", async () => {
        await setAlias(store, m2, "champion", { who: "test", why: "won the A/B" });
        assert.equal((await lookupModelRef(store, "ab@champion")).id, m2.id);
        await rollbackAlias(store, "ab", "champion", { who: "test", why: "paper drawdown" });
        assert.equal((await lookupModelRef(store, "ab@champion")).id, m1.id);
      });

      await t.step(
        "performance drift: the replay matches its backtest, a planted divergence does not",
        async () => {
          const ok = await computePerformanceDrift(store, m1, { runId: championRun });
          assert.equal(ok.drifted, false, ok.reasons.join("; "));
          assert.ok(ok.sameBars && ok.sameBars.trackingError < 0.05, JSON.stringify(ok.sameBars));
          // Planted: the replay's account curve with a steady bleed of 1 % a bar after 100 bars.
          const curve = await readAccountCurve(store, championRun);
          const planted = await startTradingRun(store, {
            modelId: m1.id,
            brokerKind: "paper",
            accountId: "PAPER-PLANTED",
            mode: "paper",
          });
          let f = 1;
          for (const [i, r] of curve.entries()) {
            if (i >= 100 && i < 130) f *= 0.99;
            await recordBarSnapshot(store, planted, r.bar, {
              ...r,
              netLiquidation: r.netLiquidation * f,
            }, []);
          }
          const bad = await computePerformanceDrift(store, m1); // the paper run is the default
          assert.equal(bad.runId, planted);
          assert.equal(bad.drifted, true);
          assert.ok(bad.reasons.length > 0);
          const d = await describeModel(store, m1);
          assert.equal(d.drift.performance?.drifted, true);
          assert.equal(d.drift.performance?.runId, bad.driftRunId);
        },
      );

      await t.step(
        "a trigger retrains on the newest window and registers a challenger, never a champion",
        async () => {
          const none = await runTriggers(store, m1, { everyBars: 10_000 }, { run: true });
          assert.deepEqual([none.fired, none.job], [[], null]);
          const r = await runTriggers(store, m1, { everyBars: 20, performanceDrift: true }, {
            run: true,
            trainBars: 300,
            holdoutBars: 100,
            steps: 256,
            modelsDir: join(dir, "models"),
          });
          assert.deepEqual(r.fired.map((x) => x.rule), ["every-bars", "performance-drift"]);
          const out = r.outcome!;
          const challenger = await readAlias(store, "ab", "challenger");
          assert.equal(challenger?.modelId, out.challengerModelId);
          assert.equal((await readAlias(store, "ab", "champion"))?.modelId, m1.id, "not promoted");
          assert.equal(out.promoted, false);
          assert.equal(out.championInSample, false);
          const [job] = await listRetrainJobs(store, "ab");
          assert.equal(job.status, "ok");
          assert.equal(job.resultModelId, out.challengerModelId);
          const spec = parseRetrainSpec(job.spec, "job");
          assert.equal(spec.dataEnd, "2018-05-11");
          assert.ok(spec.trainEnd < spec.holdoutStart);
          // The job's data end resets the bar count.
          const again = await runTriggers(store, m1, { everyBars: 20 });
          assert.equal(again.state.newBars, 0);
        },
      );

      if (factory.name === "pglite") {
        await store.close();
        await t.step(
          "deno task models compare / drift --performance / triggers / show: --json, --help, unknown alias",
          async () => {
            const help = await task(["--help"], dir);
            assert.equal(help.code, 0);
            assert.match(help.stdout, /compare A B/);
            assert.match(help.stdout, /triggers REF/);
            const cmp = await task(["compare", "ab@champion", "ab@v2", "--json"], dir);
            assert.equal(cmp.code, 0, cmp.stderr);
            const j = lastJson(cmp.stdout);
            assert.ok(["promote", "not-enough-evidence", "challenger-worse"].includes(j.verdict));
            assert.equal(j.championRef, "ab@v1");
            const drift = await task(["drift", "ab@champion", "--performance", "--json"], dir);
            assert.equal(drift.code, 0, drift.stderr);
            assert.equal(lastJson(drift.stdout).drifted, true);
            const show = await task(["show", "ab@champion"], dir);
            assert.match(show.stdout, /performance DRIFTED/);
            const trig = await task(
              ["triggers", "ab@champion", "--every", "100000", "--json"],
              dir,
            );
            assert.equal(trig.code, 0, trig.stderr);
            assert.deepEqual(lastJson(trig.stdout).fired, []);
            const bad = await task(["compare", "ab@staging", "ab@v1", "--json"], dir);
            assert.notEqual(bad.code, 0);
            assert.match(bad.stderr, /No alias ab@staging \(aliases of ab: challenger, champion\)/);
            const noRule = await task(["triggers", "ab@v1"], dir);
            assert.notEqual(noRule.code, 0);
            assert.match(noRule.stderr, /at least one rule/);
          },
        );
      }
    } finally {
      await store.close().catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  });
}
