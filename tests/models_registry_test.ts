import assert from "node:assert/strict";
import { join } from "node:path";
import {
  aliasEvents,
  listAliases,
  readTradingRun,
  registerModel,
  startTradingRun,
  updateModelFiles,
} from "@lib/db/mod.ts";
import {
  aliasStacks,
  checkAliasName,
  checkModelFiles,
  deleteRegisteredModel,
  describeModel,
  listModelSummaries,
  lookupModel,
  lookupModelRef,
  ModelInUseError,
  parseModelRef,
  removeAlias,
  restoreAlias,
  rollbackAlias,
  setAlias,
} from "@lib/models/mod.ts";
import { sha256Hex } from "@lib/agents/mod.ts";
import { resolveModelDir } from "@lib/pipeline/mod.ts";
import { storeFactories } from "./support/stores.ts";

Deno.test("parseModelRef() reads ids, versions, latest, aliases and paths", () => {
  assert.deepEqual(parseModelRef("12"), { kind: "id", id: 12 });
  assert.deepEqual(parseModelRef("ppo@v3"), { kind: "version", name: "ppo", version: 3 });
  assert.deepEqual(parseModelRef("ppo@latest"), { kind: "latest", name: "ppo" });
  assert.deepEqual(parseModelRef("ppo-x@champion"), {
    kind: "alias",
    name: "ppo-x",
    alias: "champion",
  });
  assert.deepEqual(parseModelRef("data/models/ppo-v3"), {
    kind: "path",
    path: "data/models/ppo-v3",
  });
  assert.deepEqual(parseModelRef("/tmp/a@b/model"), { kind: "path", path: "/tmp/a@b/model" });
  assert.throws(() => checkAliasName("latest"), /reserved/);
  assert.throws(() => checkAliasName("v2"), /reserved/);
  assert.throws(() => checkAliasName("9lives"), /not a valid alias/);
  assert.equal(checkAliasName("challenger"), "challenger");
});

for (const factory of storeFactories()) {
  Deno.test(`[${factory.name}] aliases: set, resolve as NAME@ALIAS, roll back twice, restore, history with who and why`, async () => {
    const store = await factory.open();
    try {
      const v1 = await registerModel(store, { name: "ppo", path: "/m1", config: { seed: 1 } });
      const v2 = await registerModel(store, { name: "ppo", path: "/m2", config: { seed: 2 } });
      const v3 = await registerModel(store, { name: "ppo", path: "/m3", config: { seed: 3 } });
      await assert.rejects(
        () => lookupModelRef(store, "ppo@champion"),
        /No alias ppo@champion \(ppo has no aliases\)/,
      );
      await setAlias(store, v1, "champion", { who: "ana", why: "first" });
      await setAlias(store, v2, "champion", { who: "ana", why: "v2 better" });
      assert.equal(
        await setAlias(store, v2, "champion", { who: "ana" }),
        null,
        "no-op not recorded",
      );
      await setAlias(store, v3, "champion", { who: "bo", why: "v3 better" });
      await setAlias(store, v3, "challenger", { who: "bo" });
      const byAlias = async (a: string) => (await lookupModelRef(store, `ppo@${a}`)).id;
      assert.equal(await byAlias("champion"), v3.id);
      assert.equal(await byAlias("latest"), v3.id);
      assert.equal(
        await resolveModelDir(store, "ppo@champion"),
        "/m3",
        "the pipeline resolves aliases",
      );
      await assert.rejects(() => byAlias("staging"), /aliases of ppo: challenger, champion/);

      const r1 = await rollbackAlias(store, "ppo", "champion", { who: "cy", why: "drawdown" });
      assert.deepEqual([r1.modelId, r1.previousModelId], [v2.id, v3.id]);
      assert.equal(await byAlias("champion"), v2.id);
      await rollbackAlias(store, "ppo", "champion", { who: "cy", why: "still bad" });
      assert.equal(
        await byAlias("champion"),
        v1.id,
        "a second rollback goes one step further back",
      );
      await restoreAlias(store, "ppo", "champion", { who: "cy", why: "v2 was fine" });
      assert.equal(
        await byAlias("champion"),
        v2.id,
        "restore re-applies the last rolled-back change",
      );
      await rollbackAlias(store, "ppo", "champion", { who: "cy" });
      await rollbackAlias(store, "ppo", "champion", { who: "cy" });
      await assert.rejects(
        () => byAlias("champion"),
        /No alias ppo@champion/,
        "rolled back past the first set: unset",
      );
      await assert.rejects(
        () => rollbackAlias(store, "ppo", "champion"),
        /Nothing to roll back/,
      );
      await restoreAlias(store, "ppo", "champion");
      assert.equal(await byAlias("champion"), v1.id);
      assert.equal(await byAlias("challenger"), v3.id, "other aliases untouched");

      const events = await aliasEvents(store, "ppo", "champion");
      assert.deepEqual(
        events.map((e) => e.action),
        ["set", "set", "set", "rollback", "rollback", "restore", "rollback", "rollback", "restore"],
      );
      assert.equal(events[3].who, "cy");
      assert.equal(events[3].why, "drawdown");
      assert.equal(events[3].targetEventId, events[2].id);
      assert.ok(events.every((e) => e.at instanceof Date));
      const { applied, undone } = aliasStacks(events);
      assert.deepEqual(applied.map((e) => e.modelId), [v1.id]);
      assert.deepEqual(undone.map((e) => e.modelId), [v3.id, v2.id]);

      await removeAlias(store, "ppo", "challenger", { why: "lost" });
      assert.deepEqual((await listAliases(store, { name: "ppo" })).map((a) => a.alias), [
        "champion",
      ]);
      await rollbackAlias(store, "ppo", "challenger");
      assert.equal(
        await byAlias("challenger"),
        v3.id,
        "rolling back a removal brings the alias back",
      );
    } finally {
      await store.close();
    }
  });

  Deno.test(`[${factory.name}] delete refuses a model an alias names; list and show report aliases, lineage and file state`, async () => {
    const store = await factory.open();
    const dir = await Deno.makeTempDir();
    try {
      const path = join(dir, "m1");
      await Deno.mkdir(path);
      const weights = new Uint8Array([1, 2, 3, 4]);
      await Deno.writeFile(join(path, "weights.bin"), weights);
      const config = {
        seed: 7,
        instruments: ["AAPL", "MSFT"],
        dataRange: { start: "2015-01-02", end: "2016-12-30" },
        resumedFrom: "3",
        extra: { seedGroup: "g1" },
      };
      const m1 = await registerModel(store, { name: "ppo", path, config });
      await updateModelFiles(store, m1.id, {
        path,
        checksums: { "weights.bin": await sha256Hex(weights) },
      });
      const m2 = await registerModel(store, { name: "ppo", path: join(dir, "gone"), config });
      await setAlias(store, await lookupModel(store, { kind: "id", id: m1.id }), "champion");

      const list = await listModelSummaries(store);
      assert.deepEqual(list.map((m) => [m.id, m.version, m.aliases]), [
        [m2.id, 2, []],
        [m1.id, 1, ["champion"]],
      ]);
      assert.deepEqual(list[1].trainRange, config.dataRange);
      assert.equal(list[1].parent, "3");

      const d = await describeModel(store, await lookupModel(store, { kind: "id", id: m1.id }));
      assert.deepEqual(d.files, { status: "ok", bytes: 4 });
      assert.deepEqual(d.aliases, ["champion"]);
      assert.deepEqual(d.seedSiblings, [m2.id], "same seed group");
      assert.deepEqual(d.instruments, ["AAPL", "MSFT"]);
      assert.ok(
        d.warnings.length > 0,
        "a config that is not a full ModelConfig is reported, not hidden",
      );

      await Deno.writeFile(join(path, "weights.bin"), new Uint8Array([9, 9, 9, 9]));
      const changed = await checkModelFiles(await lookupModel(store, { kind: "id", id: m1.id }));
      assert.deepEqual(changed, { status: "changed", bytes: 4, files: ["weights.bin"] });
      const gone = await checkModelFiles(m2);
      assert.equal(gone.status, "missing");

      await assert.rejects(
        async () =>
          deleteRegisteredModel(store, await lookupModel(store, { kind: "id", id: m1.id })),
        (e: unknown) =>
          e instanceof ModelInUseError && /used by alias ppo@champion/.test(e.message),
      );
      // A replay is unlinked with the model; a live paper run keeps its model registered.
      const replayRun = await startTradingRun(store, {
        modelId: m2.id,
        brokerKind: "paper",
        accountId: "PAPER-REPLAY",
        mode: "replay",
      });
      await deleteRegisteredModel(store, m2);
      assert.deepEqual((await listModelSummaries(store)).map((m) => m.id), [m1.id]);
      assert.equal(
        (await readTradingRun(store, replayRun))?.modelId,
        null,
        "replay kept, unlinked",
      );
      const m3 = await registerModel(store, { name: "ppo", path: join(dir, "m3"), config });
      const live = await startTradingRun(store, {
        modelId: m3.id,
        brokerKind: "paper",
        accountId: "PAPER-1",
        mode: "paper",
      });
      await assert.rejects(
        () => deleteRegisteredModel(store, m3),
        (e: unknown) =>
          e instanceof ModelInUseError &&
          new RegExp(`live trading run ${live} \\(paper, account PAPER-1\\)`).test(e.message),
      );
    } finally {
      await store.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}
