/**
 * Training options of issue 10: the per-asset policy (trained on one universe, run and
 * resumed on another), the step plan, several seeds, lineage ranges across --resume,
 * PPO settings, and the task's --seeds / bad-flag handling as a user runs it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { listModels, openStore, type Store } from "@lib/db/mod.ts";
import { ingestSample } from "@lib/data/mod.ts";
import { DEFAULT_PPO_CONFIG, perAssetTopology, policyDims } from "@lib/agents/mod.ts";
import { DEFAULT_ENV_SETTINGS, envOptionsFor, makePortfolioEnv } from "@lib/env/mod.ts";
import {
  createPolicyBackend,
  DEFAULT_TRAIN_OPTIONS,
  loadMarket,
  planSteps,
  resolveModel,
  ResumeConflictError,
  runDeterministicEpisode,
  trainModel,
  type TrainResult,
  trainSeeds,
} from "@lib/pipeline/mod.ts";
import type { FeatureSetName } from "@lib/features/mod.ts";
import { mergeRanges, seedGroupOf, trainedRangesOf } from "@lib/models/mod.ts";
import { PROJECT_ROOT } from "@lib/util/mod.ts";

Deno.test("planSteps() runs exactly the steps asked for when a rollout divides them", () => {
  const p = planSteps(100_000, 4);
  assert.deepEqual(
    { nSteps: p.nSteps, rollout: p.rollout, updates: p.updates, actual: p.actual },
    { nSteps: 1250, rollout: 5000, updates: 20, actual: 100_000 },
  );
  assert.equal(p.note, "100000 steps: 20 PPO updates of 1250 steps × 4 envs");
  // The default budget runs as asked.
  assert.equal(
    planSteps(DEFAULT_TRAIN_OPTIONS.steps, DEFAULT_TRAIN_OPTIONS.numEnvs).actual,
    100_000,
  );
  // Powers of two stay as they were sized before (the sizing rule is unchanged for them).
  assert.equal(planSteps(4096, 4).nSteps, 256);
  assert.equal(planSteps(1024, 2).nSteps, 128);
});

Deno.test("planSteps() says what runs when --steps is not a whole number of rollouts", () => {
  const p = planSteps(3000, 4, 256);
  assert.equal(p.actual, 2048);
  assert.equal(p.updates, 2);
  assert.match(
    p.note,
    /^2048 steps will run, not the 3000 requested: PPO runs whole rollouts of 256 × 4 = 1024 steps/,
  );
  assert.match(
    p.note,
    /ask for a multiple of 1024, or set nSteps \(--n-steps\) to a divisor of 750/,
  );
  // Below one rollout: one rollout runs, and the note says so.
  const small = planSteps(100, 4);
  assert.equal(small.actual, 256);
  assert.match(small.note, /fewer than one rollout cannot make an update/);
  // A prime number of steps per env has no divisor near the target: rounded down, said.
  const odd = planSteps(4 * 1009, 4);
  assert.ok(odd.actual < 4036 && odd.actual % odd.rollout === 0);
  assert.match(odd.note, /not the 4036 requested/);
  assert.throws(() => planSteps(0, 4), /steps = 0 must be a positive integer/);
  assert.throws(() => planSteps(10, 4, 1.5), /nSteps = 1.5 must be a positive integer/);
});

Deno.test("mergeRanges() and trainedRangesOf(): the union of a lineage, old models fall back to their dataRange", () => {
  assert.deepEqual(
    mergeRanges([
      { start: "2015-01-02", end: "2015-06-30" },
      { start: "2013-06-03", end: "2014-06-30" },
      { start: "2014-03-03", end: "2014-12-31" },
    ]),
    [{ start: "2013-06-03", end: "2014-12-31" }, { start: "2015-01-02", end: "2015-06-30" }],
  );
  const dataRange = { start: "2013-06-03", end: "2014-06-30" };
  assert.deepEqual(trainedRangesOf({ dataRange }), [dataRange]);
  assert.deepEqual(
    trainedRangesOf({
      dataRange,
      trainedRanges: [{ start: "2010-01-04", end: "2011-01-03" }, dataRange],
    }),
    [{ start: "2010-01-04", end: "2011-01-03" }, dataRange],
  );
});

/** Runs a saved model deterministically on `symbols` over `start..end` (the rollout path). */
async function runOn(store: Store, r: TrainResult, symbols: string[], start: string, end: string) {
  const saved = await resolveModel(store, String(r.modelId));
  const cfg = saved.manifest.config;
  const market = await loadMarket(store, {
    symbols,
    start,
    end,
    barSize: cfg.barSize,
    featureSet: cfg.features.set as FeatureSetName,
    window: cfg.env.window,
  });
  const env = makePortfolioEnv(market.prices, market.features, {
    ...envOptionsFor(cfg.env, false),
    range: { start: market.startIndex, end: market.endIndex },
  });
  const backend = await createPolicyBackend("auto", cfg.policy);
  try {
    backend.importWeights(saved.weights);
    return runDeterministicEpisode(env, backend, {
      start: env.startRange.earliest,
      obsNorm: saved.obsNorm,
    });
  } finally {
    backend.dispose();
  }
}

Deno.test("trainModel() with the per-asset policy: runs and resumes on another universe, seeds, lineage", async (t) => {
  const tmp = await Deno.makeTempDir({ prefix: "tt_train_" });
  const store = await openStore({ dataDir: "memory://" });
  try {
    await ingestSample(store, { silent: true });
    const base = { steps: 512, numEnvs: 2, start: "2013-06-03", end: "2014-06-30" };
    const first = await trainModel(store, {
      ...base,
      symbols: ["AAPL", "SPX"],
      seed: 1,
      out: join(tmp, "pa"),
    });

    await t.step("the defaults: per-asset network on the allocation scheme with a band", () => {
      const cfg = first.model.manifest.config;
      assert.equal(first.policy, "per-asset");
      assert.deepEqual(cfg.policy.topology, {
        kind: "per-asset",
        assetFeatures: cfg.env.window * cfg.features.names.length,
        cashScore: true,
      });
      assert.equal(cfg.env.action, "allocation");
      assert.equal(cfg.env.reward, "log-return-scaled");
      assert.equal(cfg.env.band, DEFAULT_ENV_SETTINGS.band);
      assert.equal(first.model.manifest.topology.kind, "per-asset-actor-critic");
      assert.deepEqual(cfg.trainedRanges, [first.range]);
      assert.equal(cfg.ppo.totalTimesteps, 512);
      assert.equal(first.plan.actual, 512);
      assert.equal(seedGroupOf(cfg), null);
    });

    await t.step(
      "a per-asset model runs on a universe of another size (the rollout path)",
      async () => {
        const one = await runOn(store, first, ["SPX"], "2015-01-02", "2015-12-31");
        assert.deepEqual(one.instruments, ["SPX"]);
        assert.equal(one.actionLabels.length, 2, "1 asset score + the cash score");
        assert.equal(one.actions.length, 2 * one.rewards.length);
        assert.ok(one.netWorth.length > 200 && one.netWorth.every((v) => v > 0));
        const two = await runOn(store, first, ["SPX", "AAPL"], "2015-01-02", "2015-12-31");
        assert.equal(two.actionLabels.length, 3);
        // The MLP topology keeps its universe: another size is refused, naming both lengths.
        const mlp = await trainModel(store, {
          ...base,
          symbols: ["AAPL", "SPX"],
          policy: "mlp",
          out: join(tmp, "mlp"),
        });
        assert.equal(perAssetTopology(mlp.model.manifest.config.policy), null);
        await assert.rejects(
          () => runOn(store, mlp, ["SPX"], "2015-01-02", "2015-12-31"),
          /env observations have \d+ values but the policy expects \d+/,
        );
      },
    );

    await t.step("a per-asset model resumes on another universe; an MLP one may not", async () => {
      const r = await trainModel(store, {
        resume: String(first.modelId),
        symbols: ["SPX"],
        steps: 256,
        numEnvs: 2,
        start: "2008-01-02",
        end: "2009-12-31",
        out: join(tmp, "pa-spx"),
      });
      const cfg = r.model.manifest.config;
      assert.deepEqual(cfg.instruments, ["SPX"]);
      assert.equal(cfg.resumedFrom, first.model.dir);
      // The config records the universe it now trains on; the weights keep their shapes.
      assert.equal(policyDims(cfg.policy, cfg.policy.obsDim).assets, 1);
      assert.deepEqual(
        r.model.weights.map((w) => [w.name, w.shape]),
        first.model.weights.map((w) => [w.name, w.shape]),
      );
      assert.notDeepEqual(r.model.weights[0].values, first.model.weights[0].values);
      assert.equal(cfg.timesteps, first.summary.timesteps + 256);
      assert.deepEqual(cfg.trainedRanges, [r.range, first.range]);
      await assert.rejects(
        () => trainModel(store, { resume: String(first.modelId), policy: "mlp", steps: 256 }),
        (e: Error) =>
          e instanceof ResumeConflictError && /policy \(--policy\) "mlp"/.test(e.message),
      );
    });

    await t.step("lineage: trainedRanges is the union over two resumes", async () => {
      const b = await trainModel(store, {
        resume: String(first.modelId),
        steps: 256,
        numEnvs: 2,
        start: "2015-01-02",
        end: "2015-06-30",
        out: join(tmp, "b"),
      });
      const c = await trainModel(store, {
        resume: String(b.modelId),
        steps: 256,
        numEnvs: 2,
        start: "2014-03-03",
        end: "2014-12-31",
        out: join(tmp, "c"),
      });
      const saved = await resolveModel(store, String(c.modelId));
      const ranges = trainedRangesOf(saved.manifest.config);
      assert.equal(ranges.length, 2);
      assert.equal(ranges[0].start, first.range.start);
      assert.equal(ranges[0].end, c.range.end, "the first and third runs overlap: merged");
      assert.deepEqual(ranges[1], b.range);
      // dataRange stays this run's own range.
      assert.deepEqual(saved.manifest.config.dataRange, c.range);
    });

    await t.step(
      "resume keeps the parent's PPO settings, loss coefficients of an old config included",
      async () => {
        const m = await trainModel(store, {
          ...base,
          symbols: ["AAPL", "SPX"],
          ppo: { learningRate: 1e-4, gamma: 0.9, nEpochs: 3, entCoef: 0.01 },
          minibatches: 4,
          out: join(tmp, "tuned"),
        });
        const p = m.model.manifest.config.ppo;
        assert.deepEqual(
          [p.learningRate, p.gamma, p.nEpochs, p.entCoef, p.batchSize],
          [1e-4, 0.9, 3, 0.01, Math.ceil(m.plan.rollout / 4)],
        );
        // Rewrite it as a config saved before the loss coefficients moved to PpoConfig.
        const file = join(m.model.dir, "model.json");
        const manifest = JSON.parse(await Deno.readTextFile(file));
        const { entCoef, vfCoef: _vfCoef, ...ppoRest } = manifest.config.ppo;
        manifest.config.ppo = ppoRest;
        manifest.config.policy = { ...manifest.config.policy, entCoef, vfCoef: 0.25 };
        await Deno.writeTextFile(file, JSON.stringify(manifest));
        const r = await trainModel(store, {
          resume: m.model.dir,
          steps: 256,
          numEnvs: 2,
          ppo: { gamma: 0.95 },
          out: join(tmp, "tuned2"),
        });
        const q = r.model.manifest.config.ppo;
        assert.deepEqual(
          [q.learningRate, q.gamma, q.nEpochs, q.entCoef, q.vfCoef, q.batchSize],
          [1e-4, 0.95, 3, 0.01, 0.25, p.batchSize],
        );
        assert.equal(q.nSteps, planSteps(256, 2).nSteps, "nSteps sized to the new budget");
      },
    );

    await t.step(
      "the per-asset policy refuses a discrete action scheme, naming --policy mlp",
      async () => {
        await assert.rejects(
          () => trainModel(store, { ...base, env: { action: "discrete" }, backend: "wasm" }),
          (e: Error) => e instanceof RangeError && /--policy mlp/.test(e.message),
        );
      },
    );

    await t.step(
      "trainSeeds() trains one model per seed, same config, one seed group",
      async () => {
        const before = (await listModels(store)).length;
        const runs = await trainSeeds(
          store,
          { ...base, symbols: ["AAPL", "SPX"], steps: 256, out: join(tmp, "seeds") },
          [3, 4, 5],
        );
        assert.deepEqual(runs.map((r) => r.seed), [3, 4, 5]);
        assert.equal((await listModels(store)).length, before + 3);
        const groups = new Set<string | null>();
        for (const r of runs) {
          const saved = await resolveModel(store, String(r.modelId));
          assert.equal(saved.manifest.config.seed, r.seed);
          assert.equal(saved.dir, join(tmp, "seeds", `seed-${r.seed}`));
          groups.add(seedGroupOf(saved.manifest.config));
        }
        assert.equal(groups.size, 1);
        const [group] = groups;
        assert.match(group!, /^ppo-portfolio-seeds-\d{8}T\d{6}-3,4,5$/);
        assert.notDeepEqual(runs[0].model.weights[0].values, runs[1].model.weights[0].values);
        const { env: e0, ppo: p0 } = runs[0].model.manifest.config;
        const { env: e2, ppo: p2 } = runs[2].model.manifest.config;
        assert.deepEqual(e2, e0);
        assert.deepEqual({ ...p2, seed: 0 }, { ...p0, seed: 0 });
        await assert.rejects(() => trainSeeds(store, base, [1, 1]), /repeat a seed/);
        await assert.rejects(() => trainSeeds(store, base, []), /no seed given/);
      },
    );
  } finally {
    await store.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

async function runTrain(args: string[], dataDir: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join("tasks", "train.ts"), ...args],
    cwd: PROJECT_ROOT,
    env: { TT_DATA_DIR: dataDir, DATABASE_URL: "", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("deno task train --help shows the PPO defaults from DEFAULT_PPO_CONFIG and the new flags", async () => {
  const r = await runTrain(["--help"], "/nonexistent-tt-data");
  assert.equal(r.code, 0, r.stderr);
  const P = DEFAULT_PPO_CONFIG;
  for (
    const [flag, value] of [
      ["--lr", P.learningRate],
      ["--gamma", P.gamma],
      ["--gae-lambda", P.gaeLambda],
      ["--epochs", P.nEpochs],
      ["--clip", P.clipCoef],
      ["--ent-coef", P.entCoef],
      ["--vf-coef", P.vfCoef],
      ["--steps", DEFAULT_TRAIN_OPTIONS.steps],
      ["--band", DEFAULT_ENV_SETTINGS.band],
      ["--policy", DEFAULT_TRAIN_OPTIONS.policy],
    ] as const
  ) {
    assert.match(r.stdout, new RegExp(`${flag} \\S+ .*\\[default: ${value}\\]`), flag);
  }
  for (
    const flag of [
      "--minibatches",
      "--n-steps",
      "--hidden",
      "--seeds",
      "--fee-model",
      "--rebalance-every",
      "--partial",
      "--cash-share",
    ]
  ) {
    assert.ok(r.stdout.includes(flag), `${flag} in --help`);
  }
});

Deno.test("deno task train: bad values exit 2 naming the flag; --seeds --json lists every model and the evaluate line", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "tt_train_task_" });
  try {
    await t.step("bad flags exit 2", async () => {
      const cases: [string[], RegExp][] = [
        [["--fee-model", "flat"], /--fee-model must be one of bps, ibkr-fixed; got "flat"/],
        [["--band", "1"], /--band must be a weight in \[0, 1\); got 1/],
        [["--partial", "0"], /--partial must be in \(0, 1\]; got 0/],
        [["--rebalance-every", "1.5"], /--rebalance-every must be a whole number/],
        [["--cash-share", "1"], /--cash-share must be in \[0, 1\)/],
        [["--policy", "cnn"], /--policy must be one of per-asset, mlp/],
        [["--lr", "0"], /--lr must be > 0/],
        [["--gamma", "1.5"], /--gamma must be ≤ 1/],
        [["--seeds", "1,1"], /--seeds .*\(a seed repeats\)/],
        [["--seeds", "a,b"], /--seeds .*\(not an integer\)/],
        [["--seeds", "3", "--seed", "2"], /either --seed S .* or --seeds/],
        [["--action", "discrete"], /--action discrete .* --policy mlp/],
      ];
      for (const [args, message] of cases) {
        const r = await runTrain(args, dir);
        assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
        assert.match(r.stderr, message, args.join(" "));
      }
    });

    await t.step("--seeds 2 --json trains two models in one seed group", async () => {
      const ing = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", join("tasks", "ingest.ts"), "--source", "sample", "--json"],
        cwd: PROJECT_ROOT,
        env: { TT_DATA_DIR: dir, DATABASE_URL: "", NO_COLOR: "1" },
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.equal(ing.code, 0, new TextDecoder().decode(ing.stderr));
      const r = await runTrain(
        ["--seeds", "2", "--steps", "300", "--num-envs", "2", "--n-steps", "64", "--json"],
        dir,
      );
      assert.equal(r.code, 0, r.stderr);
      const s = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
      assert.equal(s.models.length, 2);
      assert.deepEqual(s.models.map((m: { seed: number }) => m.seed), [1, 2]);
      for (const m of s.models) {
        assert.equal(typeof m.modelId, "number");
        const cfg = JSON.parse(await Deno.readTextFile(join(m.dir, "model.json"))).config;
        assert.equal(cfg.extra.seedGroup, s.seedGroup);
        assert.equal(cfg.seed, m.seed);
        assert.equal(m.timesteps, 256);
      }
      assert.equal(
        s.evaluate,
        `deno task evaluate --model ${
          s.models.map((m: { modelId: number }) => m.modelId).join(",")
        }`,
      );
      // --steps 300 is not a whole number of 64 × 2 rollouts: what runs is said.
      assert.equal(s.requestedSteps, 300);
      assert.equal(s.stepsPerSeed, 256);
      assert.match(s.stepsNote, /256 steps will run, not the 300 requested/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
