/**
 * Issue 11, items 6 and 7: model directories written whole or not at all, never over
 * another model, verified by checksum on load, identified by their registry row; and
 * report files that a failed write leaves as they were.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { listEpisodes, listModels, openStore, readModel, type Store } from "@lib/db/mod.ts";
import { ingestSample } from "@lib/data/mod.ts";
import {
  assertModelDirFree,
  createKernelPolicy,
  loadModelDir,
  type ModelConfig,
  ModelIntegrityError,
  type ObsNormStats,
  policyConfigForSpaces,
  ppoConfig,
  saveModel,
  sha256Hex,
} from "@lib/agents/mod.ts";
import { box, DEFAULT_ENV_SETTINGS } from "@lib/env/mod.ts";
import {
  evaluateModel,
  ModelIdentityError,
  resolveModel,
  saveAndRegisterModel,
  trainModel,
} from "@lib/pipeline/mod.ts";
import { writeReportHtml } from "@lib/viz/mod.ts";
import { DirectoryNotEmptyError, replaceDirAtomic, writeFileAtomic } from "@lib/util/mod.ts";
import { PROJECT_ROOT } from "@lib/util/paths.ts";
import { storeFactories } from "./support/stores.ts";

function tinyConfig(normalizeObs = true): ModelConfig {
  const policy = policyConfigForSpaces(box([6]), box([2], { low: -1, high: 1 }), { seed: 5 });
  return {
    policy,
    ppo: ppoConfig({ normalizeObs }),
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

const OBS_NORM: ObsNormStats = {
  mean: [0, 0, 0, 0, 0, 0],
  var: [1, 1, 1, 1, 1, 1],
  count: 10,
  clip: 10,
  epsilon: 1e-8,
};

async function save(dir: string, config = tinyConfig()) {
  const backend = createKernelPolicy(config.policy);
  try {
    return await saveModel(backend, config, { dir, obsNorm: OBS_NORM });
  } finally {
    backend.dispose();
  }
}

async function register(store: Store, dir: string | undefined, seed = 5) {
  const config = tinyConfig();
  config.policy = { ...config.policy, seed };
  const backend = createKernelPolicy(config.policy);
  try {
    return await saveAndRegisterModel(store, backend, config, {
      ...(dir === undefined ? {} : { dir }),
      obsNorm: OBS_NORM,
    });
  } finally {
    backend.dispose();
  }
}

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

async function withTmp(fn: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "tt_artifacts_" });
  try {
    await fn(tmp);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

// ---------------------------------------------------------------- item 7: reports

Deno.test("writeFileAtomic(): a generator that throws mid-way leaves the previous file and no temp file", async () => {
  await withTmp(async (tmp) => {
    const file = join(tmp, "report.html");
    await writeFileAtomic(file, "<p>old report</p>");
    async function* chunks() {
      yield "<p>new ";
      yield new Uint8Array(4096).fill(65);
      throw new Error("renderer failed");
    }
    await assert.rejects(() => writeFileAtomic(file, chunks()), /renderer failed/);
    assert.equal(await Deno.readTextFile(file), "<p>old report</p>");
    assert.deepEqual(await names(tmp), ["report.html"]);
    // A successful write replaces the content whole.
    assert.equal(await writeFileAtomic(file, ["<p>new", " report</p>"]), file);
    assert.equal(await Deno.readTextFile(file), "<p>new report</p>");
    assert.deepEqual(await names(tmp), ["report.html"]);
  });
});

Deno.test("writeReportHtml(): a write that fails (the target cannot be replaced) leaves no temp file; a render that throws leaves the previous report", async () => {
  await withTmp(async (tmp) => {
    const input = {
      title: "t",
      strategy: {
        name: "s",
        timestamps: [Date.UTC(2020, 0, 1), Date.UTC(2020, 0, 2), Date.UTC(2020, 0, 3)],
        equity: [100, 101, 102],
      },
    };
    const file = join(tmp, "eval.html");
    await writeReportHtml(file, input);
    const before = await Deno.readTextFile(file);
    assert.ok(before.length > 1000 && before.includes("</html>"));
    // Rendering throws half-way through the input: the old report stays.
    const failing = {
      ...input,
      get config(): Record<string, unknown> {
        throw new Error("config generator failed");
      },
    };
    await assert.rejects(() => writeReportHtml(file, failing), /config generator failed/);
    assert.equal(await Deno.readTextFile(file), before);
    // The rename fails (a directory holds the name): the temp file is removed.
    const blocked = join(tmp, "blocked.html");
    await Deno.mkdir(join(blocked, "keep"), { recursive: true });
    await assert.rejects(() => writeReportHtml(blocked, input));
    assert.deepEqual(await names(tmp), ["blocked.html", "eval.html"]);
    assert.deepEqual(await names(blocked), ["keep"]);
  });
});

Deno.test("a process killed mid-write (file size limit, SIGXFSZ) leaves the previous report whole", async () => {
  await withTmp(async (tmp) => {
    const file = join(tmp, "report.html");
    await writeFileAtomic(file, "previous");
    const atomic = new URL("../lib/util/atomic.ts", import.meta.url).href;
    const script = join(tmp, "write.ts");
    await Deno.writeTextFile(
      script,
      `import { writeFileAtomic } from ${JSON.stringify(atomic)};\n` +
        `console.error("writing");\n` +
        `await writeFileAtomic(${JSON.stringify(file)}, "x".repeat(8 << 20));\n`,
    );
    // ulimit -f 2048: at most 2 MiB per file; the 8 MiB write is killed part-way (a
    // plain Deno.writeTextFile leaves a 2 MiB torso of the new report in its place).
    // No code cache or lock file: the process writes nothing else big before the report.
    const run = () =>
      new Deno.Command("bash", {
        args: [
          "-c",
          `ulimit -f 2048; exec "${Deno.execPath()}" run -A --no-code-cache --no-lock "${script}"`,
        ],
        cwd: PROJECT_ROOT,
        stdout: "null",
        stderr: "piped",
      }).output();
    const out = await run();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.notEqual(out.code, 0, "the limited process must fail");
    assert.match(stderr, /writing/, `killed during the write, not before: ${stderr}`);
    assert.equal(await Deno.readTextFile(file), "previous");
  });
});

Deno.test("replaceDirAtomic(): fill that throws leaves nothing; a non-empty target is refused; replace swaps whole", async () => {
  await withTmp(async (tmp) => {
    const dir = join(tmp, "d");
    await assert.rejects(
      () =>
        replaceDirAtomic(dir, async (t) => {
          await Deno.writeTextFile(join(t, "a"), "1");
          throw new Error("killed");
        }),
      /killed/,
    );
    assert.deepEqual(await names(tmp), []);
    await replaceDirAtomic(dir, (t) => Deno.writeTextFile(join(t, "a"), "1"));
    await assert.rejects(
      () => replaceDirAtomic(dir, (t) => Deno.writeTextFile(join(t, "b"), "2")),
      (e: Error) => e instanceof DirectoryNotEmptyError && e instanceof RangeError,
    );
    assert.deepEqual(await names(dir), ["a"]);
    await replaceDirAtomic(dir, (t) => Deno.writeTextFile(join(t, "b"), "2"), {
      ifExists: "replace",
    });
    assert.deepEqual(await names(dir), ["b"]);
    assert.deepEqual(await names(tmp), ["d"]);
  });
});

// ---------------------------------------------------------------- item 6a: --out

Deno.test("saveModel() refuses a non-empty directory and leaves it untouched; an empty one is used", async () => {
  await withTmp(async (tmp) => {
    const dir = join(tmp, "m");
    await save(dir);
    const before = await Deno.readFile(join(dir, "weights.bin"));
    const other = tinyConfig();
    other.policy = { ...other.policy, seed: 99 };
    await assert.rejects(
      () => save(dir, other),
      (e: Error) =>
        e instanceof DirectoryNotEmptyError && e instanceof RangeError &&
        e.message.includes(dir) && /not empty/.test(e.message),
    );
    assert.deepEqual(await Deno.readFile(join(dir, "weights.bin")), before);
    assert.deepEqual(await names(tmp), ["m"]);
    await assert.rejects(() => assertModelDirFree(dir), DirectoryNotEmptyError);
    const empty = join(tmp, "empty");
    await Deno.mkdir(empty);
    await save(empty);
    assert.deepEqual(await names(empty), ["model.json", "obs_norm.json", "weights.bin"]);
  });
});

for (const factory of storeFactories()) {
  Deno.test(`[${factory.name}] saveAndRegisterModel(): the same --out twice is refused with no second row; a taken default directory gets a suffix`, async () => {
    await withTmp(async (tmp) => {
      const previousDataDir = Deno.env.get("TT_DATA_DIR");
      Deno.env.set("TT_DATA_DIR", tmp);
      const store = await factory.open();
      try {
        const first = await register(store, join(tmp, "out"));
        await assert.rejects(() => register(store, join(tmp, "out"), 6), DirectoryNotEmptyError);
        assert.deepEqual((await listModels(store)).map((m) => m.id), [first.record.id]);
        // A directory left from another store where v1 would go: the new v1 goes beside it.
        await Deno.mkdir(join(tmp, "models", "other-v1"), { recursive: true });
        await Deno.writeTextFile(join(tmp, "models", "other-v1", "keep"), "x");
        const backend = createKernelPolicy(tinyConfig().policy);
        const m = await saveAndRegisterModel(store, backend, tinyConfig(), {
          name: "other",
          obsNorm: OBS_NORM,
        });
        backend.dispose();
        assert.equal(m.dir, join(tmp, "models", "other-v1-2"));
        assert.equal((await readModel(store, m.record.id))?.path, m.dir);
        assert.deepEqual(await names(join(tmp, "models", "other-v1")), ["keep"]);
        const paths = (await listModels(store)).map((r) => r.path);
        assert.equal(new Set(paths).size, paths.length, "no two rows share a path");
      } finally {
        await store.close();
        if (previousDataDir === undefined) Deno.env.delete("TT_DATA_DIR");
        else Deno.env.set("TT_DATA_DIR", previousDataDir);
      }
    });
  });
}

Deno.test("deno task train --out <non-empty dir> exits 2 naming the directory, before training", async () => {
  await withTmp(async (tmp) => {
    const out = join(tmp, "taken");
    await Deno.mkdir(out);
    await Deno.writeTextFile(join(out, "model.json"), "{}");
    for (const extra of [[], ["--seeds", "1,2"]]) {
      const target = extra.length ? join(out, "seed-1") : out;
      if (extra.length) {
        await Deno.mkdir(target);
        await Deno.writeTextFile(join(target, "x"), "");
      }
      const r = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "tasks/train.ts", "--out", out, ...extra],
        cwd: PROJECT_ROOT,
        env: { TT_DATA_DIR: tmp, DATABASE_URL: "", NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(r.stderr);
      assert.equal(r.code, 2, stderr);
      assert.match(stderr, /--out: Model directory .* is not empty/);
      assert.ok(stderr.includes(target), stderr);
      // Refused before the store was opened: no database was created.
      assert.ok(!(await names(tmp)).includes("pgdata"));
    }
  });
});

// ---------------------------------------------------------------- item 6b: checksums

for (const factory of storeFactories()) {
  Deno.test(`[${factory.name}] model.json and the registry row record SHA-256 of the files; loading verifies them`, async () => {
    await withTmp(async (tmp) => {
      const store = await factory.open();
      try {
        const m = await register(store, join(tmp, "m"));
        const weights = await Deno.readFile(join(m.dir, "weights.bin"));
        const norm = await Deno.readFile(join(m.dir, "obs_norm.json"));
        const manifestBytes = await Deno.readFile(join(m.dir, "model.json"));
        const onDisk = JSON.parse(new TextDecoder().decode(manifestBytes));
        assert.deepEqual(onDisk.checksums, {
          "weights.bin": await sha256Hex(weights),
          "obs_norm.json": await sha256Hex(norm),
        });
        const row = await readModel(store, m.record.id);
        assert.deepEqual(row?.checksums, {
          "weights.bin": await sha256Hex(weights),
          "obs_norm.json": await sha256Hex(norm),
          "model.json": await sha256Hex(manifestBytes),
        });
        const byId = await resolveModel(store, String(m.record.id));
        assert.deepEqual(byId.warnings, []);
        assert.equal(byId.record?.id, m.record.id);
      } finally {
        await store.close();
      }
    });
  });
}

Deno.test("loadModelDir() refuses a truncated or edited weights.bin / obs_norm.json by name; never half-loads", async () => {
  await withTmp(async (tmp) => {
    const dir = join(tmp, "m");
    await save(dir);
    const file = join(dir, "weights.bin");
    const good = await Deno.readFile(file);
    const refused = (name: string) => (e: Error) =>
      e instanceof ModelIntegrityError && e.file === join(dir, name) &&
      e.message.includes(join(dir, name)) && /truncated or was changed/.test(e.message);

    await Deno.writeFile(file, good.subarray(0, good.length - 8)); // truncated
    await assert.rejects(() => loadModelDir(dir), refused("weights.bin"));
    const edited = good.slice();
    edited[10] ^= 0xff; // same size, one byte changed
    await Deno.writeFile(file, edited);
    await assert.rejects(() => loadModelDir(dir), refused("weights.bin"));
    await Deno.writeFile(file, good);

    // An old model.json beside new weights (a save killed half-way in the old code).
    const other = join(tmp, "other");
    const cfg = tinyConfig();
    cfg.policy = { ...cfg.policy, seed: 42 };
    await save(other, cfg);
    await Deno.copyFile(join(other, "weights.bin"), file);
    await assert.rejects(() => loadModelDir(dir), refused("weights.bin"));
    await Deno.writeFile(file, good);

    const norm = join(dir, "obs_norm.json");
    const normText = await Deno.readTextFile(norm);
    await Deno.writeTextFile(norm, normText.replace('"count":10', '"count":11'));
    await assert.rejects(() => loadModelDir(dir), refused("obs_norm.json"));
    await Deno.remove(norm);
    await assert.rejects(
      () => loadModelDir(dir),
      (e: Error) => e instanceof ModelIntegrityError && /obs_norm\.json is missing/.test(e.message),
    );
    await Deno.writeTextFile(norm, normText);
    const back = await loadModelDir(dir);
    assert.deepEqual(back.warnings, []);
    assert.equal(back.weights.length > 0, true);
  });
});

for (const factory of storeFactories()) {
  Deno.test(`[${factory.name}] a model saved before checksums loads with a one-line warning`, async () => {
    await withTmp(async (tmp) => {
      const store = await factory.open();
      try {
        const m = await register(store, join(tmp, "old"));
        // Make it look saved and registered before checksums existed.
        const file = join(m.dir, "model.json");
        const manifest = JSON.parse(await Deno.readTextFile(file));
        delete manifest.checksums;
        await Deno.writeTextFile(file, JSON.stringify(manifest, null, 2));
        await store.query("UPDATE tt_models SET checksums = NULL WHERE id = $1", [m.record.id]);

        const plain = await loadModelDir(m.dir);
        assert.equal(plain.warnings.length, 1);
        assert.match(plain.warnings[0], /has no checksums .*loaded unverified/);
        assert.ok(!plain.warnings[0].includes("\n"));
        const byId = await resolveModel(store, String(m.record.id));
        assert.equal(byId.manifest.modelId, m.record.id);
        assert.ok(byId.warnings.some((w) => /has no checksums/.test(w)));
        const byDir = await resolveModel(store, m.dir);
        assert.equal(byDir.record?.id, m.record.id, "legacy: path and model.json's id agree");
      } finally {
        await store.close();
      }
    });
  });
}

// ---------------------------------------------------------------- item 6c: identity

for (const factory of storeFactories()) {
  Deno.test(`[${factory.name}] a directory copied from another store is unregistered here, whatever id its model.json claims`, async () => {
    await withTmp(async (tmp) => {
      const a = await factory.open();
      const b = await factory.open();
      try {
        const fromA = await register(a, join(tmp, "a"), 5);
        const inB = await register(b, join(tmp, "b"), 6);
        assert.equal(fromA.record.id, inB.record.id, "both stores' first model has the same id");
        // Copy A's model to a new place and resolve it in B.
        const copy = join(tmp, "copy");
        await Deno.mkdir(copy);
        for (const f of await names(fromA.dir)) {
          await Deno.copyFile(join(fromA.dir, f), join(copy, f));
        }
        const r = await resolveModel(b, copy);
        assert.equal(r.record, null);
        assert.equal(r.manifest.modelId, null);
        assert.equal(r.manifest.version, null);
        assert.equal(r.warnings.length, 1);
        assert.match(
          r.warnings[0],
          new RegExp(
            `claims tt_models id ${inB.record.id}, which is registered at .*b\\).*model_id null`,
          ),
        );
        // The same copy put at B's registered path: B's row refuses it by id, and by
        // directory it is unregistered.
        for (const f of await names(fromA.dir)) {
          await Deno.copyFile(join(fromA.dir, f), join(inB.dir, f));
        }
        await assert.rejects(
          () => resolveModel(b, String(inB.record.id)),
          (e: Error) =>
            e instanceof ModelIdentityError && e.message.includes(inB.dir) &&
            /other checksums for model\.json, weights\.bin/.test(e.message),
        );
        const atPath = await resolveModel(b, inB.dir);
        assert.equal(atPath.record, null);
        assert.match(atPath.warnings[0], /registered at this path records other checksums/);
        // A's own store still recognises its directory.
        assert.equal((await resolveModel(a, fromA.dir)).record?.id, fromA.record.id);
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
}

Deno.test("evaluate of a copied model directory logs its episode with model_id null and a warning", async () => {
  await withTmp(async (tmp) => {
    const store = await openStore({ dataDir: "memory://" });
    try {
      await ingestSample(store, { silent: true });
      const trained = await trainModel(store, {
        symbols: ["AAPL", "SPX"],
        start: "2013-05-13",
        end: "2015-12-31",
        steps: 256,
        numEnvs: 2,
        seed: 3,
        policy: "mlp",
        out: join(tmp, "m"),
      });
      const copy = join(tmp, "copy");
      await Deno.mkdir(copy);
      for (const f of await names(trained.model.dir)) {
        await Deno.copyFile(join(trained.model.dir, f), join(copy, f));
      }
      const ev = await evaluateModel(store, { model: copy, end: "2016-06-30" });
      assert.equal(ev.model.manifest.modelId, null);
      assert.ok(ev.model.warnings.some((w) => /not a registered model of this store/.test(w)));
      const evals = await listEpisodes(store, { kind: "eval", limit: 10 });
      const logged = evals.find((e) => e.id === ev.episodeId);
      assert.ok(logged);
      assert.equal(logged.modelId, null);
      // The registered directory still attaches to its row.
      const own = await evaluateModel(store, { model: trained.model.dir, end: "2016-06-30" });
      assert.equal(own.model.manifest.modelId, trained.modelId);
      assert.deepEqual(own.model.warnings, []);
    } finally {
      await store.close();
    }
  });
});

// ---------------------------------------------------------------- item 6d: paths

Deno.test("manifest weight paths cannot leave the model directory", async () => {
  await withTmp(async (tmp) => {
    const dir = join(tmp, "m");
    const saved = await save(dir);
    await Deno.writeFile(join(tmp, "x"), await Deno.readFile(join(dir, "weights.bin")));
    const file = join(dir, "model.json");
    const manifest = JSON.parse(await Deno.readTextFile(file));
    const cases = ["../x", join(tmp, "x"), "sub/../../x", "a\\..\\..\\x", "C:/x"];
    for (const p of cases) {
      const group = { ...manifest.weightsManifest[0], paths: [p] };
      await Deno.writeTextFile(file, JSON.stringify({ ...manifest, weightsManifest: [group] }));
      await assert.rejects(
        () => loadModelDir(dir),
        (e: Error) =>
          e instanceof TypeError && e.message.includes(JSON.stringify(p)) &&
          /inside the model directory/.test(e.message),
        p,
      );
    }
    // A symlink inside the directory that points outside is refused too.
    await Deno.writeTextFile(file, JSON.stringify(manifest));
    await Deno.remove(join(dir, "weights.bin"));
    await Deno.symlink(join(tmp, "x"), join(dir, "weights.bin"));
    await assert.rejects(
      () => loadModelDir(dir),
      (e: Error) => e instanceof TypeError && /leads outside/.test(e.message),
    );
    assert.ok(saved.manifest.checksums?.["weights.bin"]);
  });
});
