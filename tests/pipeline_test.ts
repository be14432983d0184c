import assert from "node:assert/strict";
import { join } from "node:path";
import { listEpisodes, listModels, openStore, readEpisode, readTrainMetrics } from "@lib/db/mod.ts";
import { ingestSample } from "@lib/data/mod.ts";
import {
  createKernelPolicy,
  loadModelDir,
  type ModelConfig,
  packWeights,
  policyConfigForSpaces,
  ppoConfig,
  saveModel,
  unpackWeights,
} from "@lib/agents/mod.ts";
import { box, DEFAULT_ENV_SETTINGS, LEGACY_ENV_SETTINGS } from "@lib/env/mod.ts";
import {
  benchmarkTrace,
  createPolicyBackend,
  evaluateModel,
  evaluationUniverse,
  INGEST_SAMPLE_COMMAND,
  InSampleError,
  loadMarket,
  NoDataError,
  resolveModel,
  resolveModelDir,
  ResumeConflictError,
  saveAndRegisterModel,
  traceToEpisodeLog,
  trainModel,
  UniverseMismatchError,
  walkForward,
  writeEpisodeReport,
} from "@lib/pipeline/mod.ts";
import { Rng } from "@lib/util/mod.ts";

const DAY = 86_400_000;

Deno.test("packWeights() writes little-endian float32 in manifest order; unpackWeights() reads it back", () => {
  const bytes = packWeights([
    { name: "a", shape: [2], values: new Float32Array([1, -2]) },
    { name: "b", shape: [1, 1], values: new Float32Array([0.5]) },
  ]);
  // 1.0 = 0x3f800000, -2.0 = 0xc0000000, 0.5 = 0x3f000000, little-endian.
  assert.deepEqual([...bytes], [0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, 0, 0, 0, 0x3f]);
  const back = unpackWeights(bytes, [{ name: "a", shape: [2] }, { name: "b", shape: [1, 1] }]);
  assert.deepEqual(back.map((w) => [w.name, w.shape, [...w.values]]), [["a", [2], [1, -2]], ["b", [
    1,
    1,
  ], [0.5]]]);
});

Deno.test("unpackWeights() refuses a file whose size does not match the manifest", () => {
  assert.throws(
    () => unpackWeights(new Uint8Array(8), [{ name: "a", shape: [3] }], "m/weights.bin"),
    (e: Error) =>
      e instanceof RangeError && /m\/weights.bin: 8 bytes, the manifest needs 12/.test(e.message),
  );
});

Deno.test("packWeights() refuses a tensor whose values do not fill its shape", () => {
  assert.throws(
    () => packWeights([{ name: "w", shape: [2, 2], values: new Float32Array(3) }]),
    TypeError,
  );
});

function tinyModelConfig(): ModelConfig {
  const policy = policyConfigForSpaces(box([6]), box([2], { low: -1, high: 1 }), { seed: 5 });
  return {
    policy,
    ppo: ppoConfig({ normalizeObs: true }),
    env: { ...DEFAULT_ENV_SETTINGS, action: "vol-target" },
    features: { set: "basic", names: ["return_1"] },
    instruments: ["AAA", "BBB"],
    dataRange: { start: "2020-01-01", end: "2020-12-31" },
    barSize: "1 day",
    seed: 5,
    backend: "kernel",
    timesteps: 0,
    codeVersion: "test",
  };
}

Deno.test("saveAndRegisterModel() registers versions 1, 2 …; resolveModel() by id and by directory restores identical deterministic actions", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "tt_model_io_" });
  const store = await openStore({ dataDir: "memory://" });
  try {
    const config = tinyModelConfig();
    const backend = createKernelPolicy(config.policy);
    // Move the weights away from their initial values so a fresh backend would differ.
    const rng = new Rng(3);
    backend.importWeights(
      backend.exportWeights().map((w) => ({
        ...w,
        values: w.values.map((v) => v + 0.1 * rng.normal()),
      })),
    );
    const obsNorm = {
      mean: [0.1, 0, 0, 0, 0, 0],
      var: [2, 1, 1, 1, 1, 1],
      count: 10,
      clip: 10,
      epsilon: 1e-8,
    };
    const a = await saveAndRegisterModel(store, backend, config, { dir: join(tmp, "a"), obsNorm });
    await assert.rejects(
      () => saveAndRegisterModel(store, backend, config, { dir: join(tmp, "x") }),
      /no obsNorm statistics/,
    );
    assert.equal((await listModels(store)).length, 1, "a failed write leaves no registry row");
    const plain = { ...config, ppo: ppoConfig({ normalizeObs: false }) };
    const b = await saveAndRegisterModel(store, backend, plain, { dir: join(tmp, "b") });
    assert.deepEqual([a.manifest.version, b.manifest.version], [1, 2]);
    assert.deepEqual([a.record.version, b.record.version], [1, 2]);
    assert.equal(a.manifest.modelId, a.record.id);
    assert.equal(a.record.path, join(tmp, "a"));
    assert.equal((await listModels(store, { name: "ppo-portfolio" })).length, 2);

    const byId = await resolveModel(store, String(a.manifest.modelId));
    const byDir = await resolveModel(store, join(tmp, "a"));
    assert.equal(byId.dir, byDir.dir);
    assert.deepEqual(byDir.obsNorm, obsNorm);
    assert.equal((await loadModelDir(join(tmp, "b"))).obsNorm, null);

    const restored = createKernelPolicy(byDir.manifest.config.policy);
    restored.importWeights(byDir.weights);
    const obs = new Float32Array(4 * 6).map((_, i) => Math.sin(i));
    const x = backend.act(obs, 4, new Rng(1), { deterministic: true });
    const y = restored.act(obs, 4, new Rng(2), { deterministic: true });
    assert.deepEqual([...y.actions], [...x.actions]);
    assert.deepEqual([...y.values], [...x.values]);
    backend.dispose();
    restored.dispose();
  } finally {
    await store.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a model saved from the kernel backend loads into tfjs-wasm with the same deterministic actions (1e-5)", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "tt_model_io_" });
  try {
    const config = { ...tinyModelConfig(), ppo: ppoConfig({ normalizeObs: false }) };
    const kernel = createKernelPolicy(config.policy);
    const rng = new Rng(9);
    kernel.importWeights(
      kernel.exportWeights().map((w) => ({
        ...w,
        values: w.values.map((v) => v + 0.1 * rng.normal()),
      })),
    );
    const written = await saveModel(kernel, config, { dir: tmp });
    assert.equal(written.manifest.modelId, null, "saveModel() alone registers nothing");
    const saved = await loadModelDir(tmp);
    const tfjs = await createPolicyBackend("wasm", saved.manifest.config.policy);
    tfjs.importWeights(saved.weights);
    const obs = new Float32Array(5 * 6).map((_, i) => Math.cos(i));
    const a = kernel.act(obs, 5, new Rng(1), { deterministic: true });
    const b = tfjs.act(obs, 5, new Rng(1), { deterministic: true });
    for (let i = 0; i < a.actions.length; i++) {
      assert.ok(Math.abs(a.actions[i] - b.actions[i]) < 1e-5, `action ${i}`);
    }
    for (let i = 0; i < a.values.length; i++) {
      assert.ok(Math.abs(a.values[i] - b.values[i]) < 1e-5, `value ${i}`);
    }
    kernel.dispose();
    tfjs.dispose();
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("loadModelDir() parses the config: fills env defaults of an old model, names a bad field and the file", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "tt_model_io_" });
  try {
    const config = { ...tinyModelConfig(), ppo: ppoConfig({ normalizeObs: false }) };
    const backend = createKernelPolicy(config.policy);
    await saveModel(backend, config, { dir: tmp });
    backend.dispose();
    const file = join(tmp, "model.json");
    const manifest = JSON.parse(await Deno.readTextFile(file));
    const write = (c: unknown) =>
      Deno.writeTextFile(file, JSON.stringify({ ...manifest, config: c }));

    // A model saved before the env settings had every field: what it traded with is filled in.
    await write({ ...manifest.config, env: { action: "discrete", window: 2 } });
    const old = await loadModelDir(tmp);
    assert.deepEqual(old.manifest.config.env, {
      ...LEGACY_ENV_SETTINGS,
      action: "discrete",
      window: 2,
    });
    assert.deepEqual(old.manifest.config.policy, config.policy);

    const bad: [unknown, RegExp][] = [
      [
        { ...manifest.config, env: { window: "x" } },
        /model\.json: config\.env\.window must be a positive integer, got "x"/,
      ],
      [
        { ...manifest.config, env: { speed: 1 } },
        /model\.json: config\.env\.speed is not an env setting/,
      ],
      [{ ...manifest.config, seed: "1" }, /model\.json: config\.seed must be an integer, got "1"/],
      [
        { ...manifest.config, colour: "red" },
        /model\.json: config\.colour is not a model config field/,
      ],
      [
        { ...manifest.config, policy: { ...config.policy, hidden: [64, -1] } },
        /model\.json: config\.policy\.hidden\[1\] must be a positive integer/,
      ],
      [
        { ...manifest.config, ppo: { ...config.ppo, nSteps: 0 } },
        /model\.json: config\.ppo: PpoConfig\.nSteps must be a positive integer/,
      ],
      [{ ...manifest.config, instruments: [] }, /config\.instruments must be a non-empty array/],
    ];
    for (const [c, message] of bad) {
      await write(c);
      await assert.rejects(
        () => loadModelDir(tmp),
        (e: Error) => e instanceof TypeError && message.test(e.message) && e.message.includes(tmp),
        String(message),
      );
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("resolveModel() names what is missing: an unknown id, a directory without model.json", async () => {
  const store = await openStore({ dataDir: "memory://" });
  const tmp = await Deno.makeTempDir({ prefix: "tt_model_io_" });
  try {
    await assert.rejects(() => resolveModel(store, "77"), /No model with id 77 in tt_models/);
    await assert.rejects(() => resolveModel(store, tmp), /No model at .*cannot read model.json/);
  } finally {
    await store.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("resolveModelDir() takes digits that name an existing directory as a directory, other digits as an id", async () => {
  const store = await openStore({ dataDir: "memory://" });
  const tmp = await Deno.makeTempDir({ prefix: "tt_model_io_" });
  const cwd = Deno.cwd();
  try {
    Deno.chdir(tmp);
    await Deno.mkdir("42");
    assert.equal(await resolveModelDir(store, "42"), join(tmp, "42"));
    await assert.rejects(() => resolveModelDir(store, "43"), RangeError);
  } finally {
    Deno.chdir(cwd);
    await store.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("saveAndRegisterModel() names the default directory by the registered version", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "tt_model_io_" });
  const store = await openStore({ dataDir: "memory://" });
  const before = Deno.env.get("TT_DATA_DIR");
  try {
    Deno.env.set("TT_DATA_DIR", tmp);
    const config = { ...tinyModelConfig(), ppo: ppoConfig({ normalizeObs: false }) };
    const backend = createKernelPolicy(config.policy);
    const m1 = await saveAndRegisterModel(store, backend, config, { name: "tiny" });
    const m2 = await saveAndRegisterModel(store, backend, config, { name: "tiny" });
    backend.dispose();
    assert.equal(m1.dir, join(tmp, "models", "tiny-v1"));
    assert.equal(m2.dir, join(tmp, "models", "tiny-v2"));
    assert.equal(await resolveModelDir(store, String(m2.record.id)), m2.dir);
    assert.equal((await loadModelDir(m2.dir)).manifest.version, 2);
  } finally {
    if (before === undefined) Deno.env.delete("TT_DATA_DIR");
    else Deno.env.set("TT_DATA_DIR", before);
    await store.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("evaluationUniverse() returns the trained order for the same set and refuses another universe", () => {
  assert.deepEqual(evaluationUniverse(["AAPL", "SPX"], ["SPX", "AAPL"]), ["AAPL", "SPX"]);
  assert.deepEqual(evaluationUniverse(["AAPL", "SPX"]), ["AAPL", "SPX"]);
  assert.throws(
    () => evaluationUniverse(["AAPL", "SPX"], ["SPX"]),
    (e: Error) =>
      e instanceof UniverseMismatchError &&
      /only be evaluated on that same universe/.test(e.message),
  );
  assert.throws(
    () => evaluationUniverse(["AAPL", "SPX"], ["AAPL", "SPX", "MSFT"]),
    UniverseMismatchError,
  );
});

Deno.test("loadMarket() on an empty store says which command loads the sample data", async () => {
  const store = await openStore({ dataDir: "memory://" });
  try {
    await assert.rejects(
      () => loadMarket(store),
      (e: Error) => e instanceof NoDataError && e.message.includes(INGEST_SAMPLE_COMMAND),
    );
  } finally {
    await store.close();
  }
});

Deno.test("benchmarkTrace() logs one decision per bar, the period returns and the purchase costs in step 0", () => {
  const t0 = Date.UTC(2020, 0, 2);
  const trace = benchmarkTrace({
    name: "bh",
    timestamps: [t0, t0 + DAY, t0 + 2 * DAY],
    equity: new Float64Array([100, 99.9, 101]),
    instruments: ["A", "B"],
    weights: [
      new Float64Array([0.5, 0.5]),
      new Float64Array([0.4, 0.6]),
      new Float64Array([0.45, 0.55]),
    ],
    costs: new Float64Array([0.1, 0, 0]),
    slippage: new Float64Array([0.05, 0, 0]),
    traded: new Float64Array([0.998, 0, 0]),
  });
  assert.equal(trace.stopReason, "end_of_data");
  assert.deepEqual(trace.netWorth, [100, 99.9, 101]);
  assert.deepEqual(trace.heldWeights, [
    new Float64Array([0.4, 0.6]),
    new Float64Array([0.45, 0.55]),
  ]);
  const log = traceToEpisodeLog(trace, {
    kind: "benchmark",
    strategy: "equal_weight_buy_and_hold",
    rationale: "r",
    config: {},
  });
  assert.equal(log.kind, "benchmark");
  assert.deepEqual(log.actions, [0.5, 0.5, 0.4, 0.6]);
  assert.deepEqual(log.equityTimestamps, [t0, t0 + DAY, t0 + 2 * DAY]);
  assert.deepEqual(log.decisionTimestamps, [t0, t0 + DAY]);
  assert.deepEqual(log.rewardTimestamps, [t0 + DAY, t0 + 2 * DAY]);
  assert.deepEqual(log.targetWeights, [0.5, 0.5, 0.4, 0.6]);
  assert.deepEqual(log.rewards, [99.9 / 100 - 1, 101 / 99.9 - 1]);
  assert.deepEqual(log.costs, [0.1, 0]);
  assert.deepEqual(log.slippage, [0.05, 0]);
  assert.deepEqual(log.stepTurnover, [0.998, 0]);
  assert.equal(log.turnover, 0.998);
});

Deno.test("trainModel() → evaluateModel() → report on the sample data", async (t) => {
  const tmp = await Deno.makeTempDir({ prefix: "tt_pipeline_" });
  // Models saved without an explicit directory (walk-forward) go under TT_DATA_DIR.
  const previousDataDir = Deno.env.get("TT_DATA_DIR");
  Deno.env.set("TT_DATA_DIR", tmp);
  const store = await openStore({ dataDir: "memory://" });
  try {
    await ingestSample(store, { silent: true });
    const options = {
      symbols: ["AAPL", "SPX"],
      start: "2013-05-13",
      end: "2015-12-31",
      steps: 1024,
      numEnvs: 2,
      seed: 3,
      // The portfolio-level MLP on the vol-target scheme (the resume rules below are its).
      policy: "mlp" as const,
      env: { action: "vol-target" as const, reward: "risk-aware" as const, band: 0 },
    };
    const first = await trainModel(store, { ...options, out: join(tmp, "m1") });
    const second = await trainModel(store, { ...options, out: join(tmp, "m2") });

    await t.step(
      "training writes metrics per update, train episodes linked to run and model, a registered model",
      async () => {
        assert.equal(first.version, 1);
        assert.equal(second.version, 2);
        assert.deepEqual(first.instruments, ["AAPL", "SPX"]);
        assert.equal(first.range.end, "2015-12-31");
        const metrics = await readTrainMetrics(store, first.runId);
        assert.equal(metrics.length, first.summary.updates);
        assert.ok(
          metrics.every((m) => Number.isFinite(m.policyLoss) && Number.isFinite(m.entropy)),
        );
        assert.ok(
          first.episodeIds.length >= 1,
          "env 0 finished at least one 252-step episode in 512 steps",
        );
        const ep = await readEpisode(store, first.episodeIds[0]);
        assert.ok(ep);
        assert.equal(ep.episode.kind, "train");
        assert.equal(ep.episode.runId, first.runId);
        assert.equal(ep.episode.modelId, first.modelId);
        assert.equal(ep.episode.config.seed, 3);
        assert.equal((ep.episode.config.data as { end: string }).end, "2015-12-31");
        assert.equal(ep.equity.netWorth.length, ep.rewards.reward.length + 1);
        assert.equal(ep.equity.netWorth[0], 1_000_000);
        assert.equal(ep.weights.value.length, 2 * ep.rewards.reward.length);
        assert.ok(ep.rewards.cost.every((c) => c !== null && c >= 0));
        // Decisions are taken at the close of the bar before the reward's bar.
        assert.ok(ep.actions.timestamp[0] < ep.rewards.timestamp[0]);
      },
    );

    await t.step(
      "the same seed and config give byte-identical weights and the same training episode",
      async () => {
        const a = await Deno.readFile(join(tmp, "m1", "weights.bin"));
        const b = await Deno.readFile(join(tmp, "m2", "weights.bin"));
        assert.deepEqual(a, b);
        const ea = await readEpisode(store, first.episodeIds[0]);
        const eb = await readEpisode(store, second.episodeIds[0]);
        assert.deepEqual(eb?.equity.netWorth, ea?.equity.netWorth);
        assert.deepEqual(eb?.actions.value, ea?.actions.value);
      },
    );

    await t.step(
      "evaluation runs after the training range, logs eval and benchmark episodes",
      async () => {
        const ev = await evaluateModel(store, { model: String(first.modelId), end: "2016-12-31" });
        assert.equal(
          ev.range.start,
          "2016-01-04",
          "the first trading day after the training range",
        );
        assert.equal(ev.inSample, false);
        assert.equal(ev.trace.stopReason, "end_of_data");
        assert.equal(ev.range.end, "2016-12-30");
        const ep = await readEpisode(store, ev.episodeId);
        assert.equal(ep?.episode.kind, "eval");
        assert.equal(ep?.episode.modelId, first.modelId);
        assert.equal(ep?.equity.netWorth.at(-1), ev.trace.netWorth.at(-1));
        const bench = await readEpisode(store, ev.benchmarkEpisodeId!);
        assert.equal(bench?.episode.kind, "benchmark");
        assert.equal(bench?.equity.netWorth[0], 1_000_000);
        assert.equal(bench?.equity.timestamp[0], ep?.equity.timestamp[0]);
        // Deterministic: a second pass gives the same curve.
        const again = await evaluateModel(store, {
          model: join(tmp, "m1"),
          end: "2016-12-31",
          logBenchmark: false,
        });
        assert.deepEqual(again.trace.netWorth, ev.trace.netWorth);
        assert.ok(Number.isFinite(ev.comparison.sharpeDifference.lower));
        assert.ok(ev.comparison.psrVsZero >= 0 && ev.comparison.psrVsZero <= 1);
      },
    );

    await t.step(
      "resume continues a saved model: its env, features and instruments, timesteps added up",
      async () => {
        const resumed = await trainModel(store, {
          resume: String(first.modelId),
          steps: 512,
          numEnvs: 2,
          seed: 4,
          start: "2013-05-13",
          end: "2015-12-31",
          out: join(tmp, "m3"),
        });
        const cfg = resumed.model.manifest.config;
        assert.equal(cfg.timesteps, first.summary.timesteps + 512);
        assert.equal(cfg.resumedFrom, join(tmp, "m1"));
        assert.deepEqual(cfg.instruments, first.instruments);
        assert.deepEqual(cfg.features, first.model.manifest.config.features);
        assert.deepEqual(cfg.env, first.model.manifest.config.env);
        assert.notDeepEqual(resumed.model.weights[0].values, first.model.weights[0].values);
      },
    );

    await t.step(
      "resume without options keeps the parent's name, seed, bar size, date range and env",
      async () => {
        const r = await trainModel(store, {
          resume: String(first.modelId),
          steps: 256,
          numEnvs: 2,
          out: join(tmp, "m4"),
        });
        const cfg = r.model.manifest.config, parent = first.model.manifest.config;
        assert.equal(r.model.manifest.name, first.model.manifest.name);
        assert.ok(r.version > first.version);
        assert.equal(cfg.seed, 3);
        assert.equal(cfg.barSize, parent.barSize);
        assert.deepEqual(cfg.dataRange, parent.dataRange);
        assert.deepEqual(r.range, first.range);
        assert.deepEqual(cfg.env, parent.env);
      },
    );

    await t.step(
      "resume honours options that keep the network's shapes (costs, stops, episode length, reward, seed, name, dates)",
      async () => {
        const r = await trainModel(store, {
          resume: String(first.modelId),
          steps: 256,
          numEnvs: 2,
          seed: 9,
          name: "tuned",
          start: "2014-01-02",
          end: "2015-06-30",
          env: {
            costPerTurnBps: 2,
            slippageBps: 1,
            drawdownStop: 0.5,
            episodeLength: 100,
            reward: "log-return",
            // Equal to the model's: accepted.
            action: "vol-target",
            window: 1,
          },
          featureSet: "basic",
          hidden: [64, 64],
          symbols: ["SPX", "AAPL"],
          out: join(tmp, "m5"),
        });
        const cfg = r.model.manifest.config, parent = first.model.manifest.config;
        assert.equal(r.model.manifest.name, "tuned");
        assert.equal(cfg.seed, 9);
        assert.deepEqual(cfg.dataRange, { start: "2014-01-02", end: "2015-06-30" });
        assert.deepEqual(cfg.env, {
          ...parent.env,
          costPerTurnBps: 2,
          slippageBps: 1,
          drawdownStop: 0.5,
          episodeLength: 100,
          reward: "log-return",
        });
        assert.deepEqual(cfg.instruments, parent.instruments);
      },
    );

    await t.step(
      "resume refuses options that change the network's shapes or inputs, naming each",
      async () => {
        const conflicts: [Partial<Parameters<typeof trainModel>[1]>, RegExp][] = [
          [
            { env: { action: "discrete" } },
            /env\.action \(--action\) "discrete" \(the model's: "vol-target"\)/,
          ],
          [{ env: { window: 3 } }, /env\.window \(--window\) 3 \(the model's: 1\)/],
          [{ featureSet: "technical" }, /featureSet \(--with-features\) "technical"/],
          [{ hidden: [32] }, /hidden \(--hidden\) \[32\] \(the model's: \[64,64\]\)/],
          [{ symbols: ["SPX"] }, /symbols \(--symbols\) \["SPX"\]/],
          [{ barSize: "1 hour" }, /barSize \(--bar-size\) "1 hour" \(the model's: "1 day"\)/],
        ];
        const before = (await listModels(store)).length;
        for (const [extra, message] of conflicts) {
          await assert.rejects(
            () => trainModel(store, { resume: String(first.modelId), steps: 256, ...extra }),
            (e: Error) =>
              e instanceof ResumeConflictError && message.test(e.message) &&
              /train a new model without --resume/.test(e.message),
            JSON.stringify(extra),
          );
        }
        assert.equal((await listModels(store)).length, before, "nothing was registered");
      },
    );

    await t.step("evaluation refuses an overlapping range and another universe", async () => {
      await assert.rejects(
        () => evaluateModel(store, { model: String(first.modelId), start: "2015-06-01" }),
        (e: Error) =>
          e instanceof InSampleError && /overlaps the model's training range/.test(e.message),
      );
      await assert.rejects(
        () => evaluateModel(store, { model: String(first.modelId), symbols: ["SPX"] }),
        UniverseMismatchError,
      );
      const inSample = await evaluateModel(store, {
        model: String(first.modelId),
        start: "2015-06-01",
        end: "2015-12-31",
        allowInSample: true,
        logBenchmark: false,
      });
      assert.equal(inSample.inSample, true);
    });

    await t.step(
      "report writes one self-contained HTML file with charts, for an eval and a train episode",
      async () => {
        const evals = await listEpisodes(store, { kind: "eval", modelId: first.modelId });
        const ev = evals.find((e) => e.config.inSample === false)!;
        assert.equal(evals[0].config.inSample, true, "the latest eval is the in-sample check");
        const out = join(tmp, "r.html");
        const r = await writeEpisodeReport(store, { modelId: first.modelId }, out);
        assert.equal(r.episodeId, ev.id);
        const html = await Deno.readTextFile(out);
        assert.match(html, /^<!doctype html>/);
        assert.match(html, /<svg/);
        assert.doesNotMatch(html, /<script/);
        const train = await writeEpisodeReport(
          store,
          { episodeId: first.episodeIds[0] },
          join(tmp, "t.html"),
        );
        assert.match(await Deno.readTextFile(train.path), /recomputed from stored prices/);
      },
    );

    await t.step(
      "walkForward() trains a model per fold and tests on the following window only",
      async () => {
        const wf = await walkForward(store, {
          train: { symbols: ["AAPL", "SPX"], steps: 256, numEnvs: 2, seed: 1 },
          trainYears: 2,
          testYears: 1,
        });
        assert.equal(wf.folds.length, 3, "2013-05..2018-05 holds three 2+1-year folds");
        for (const f of wf.folds) {
          assert.ok(
            f.test.start > f.train.end,
            `fold ${f.index}: test ${f.test.start} after training ${f.train.end}`,
          );
        }
        assert.ok(wf.stitched);
        assert.equal(wf.aggregate.strategy.folds, 3);
        assert.ok(
          (await Deno.stat(join(tmp, "models", "ppo-portfolio-wf-v3", "model.json"))).isFile,
        );
      },
    );
  } finally {
    if (previousDataDir === undefined) Deno.env.delete("TT_DATA_DIR");
    else Deno.env.set("TT_DATA_DIR", previousDataDir);
    await store.close();
    await Deno.remove(tmp, { recursive: true });
  }
});
