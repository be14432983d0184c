import assert from "node:assert/strict";
import {
  DEFAULT_COSTS,
  DEFAULT_ENV_SETTINGS,
  envOptionsFor,
  type EnvSettings,
  parseEnvSettings,
} from "@lib/env/mod.ts";

Deno.test("DEFAULT_ENV_SETTINGS takes its cost defaults from DEFAULT_COSTS", () => {
  assert.equal(DEFAULT_ENV_SETTINGS.costPerTurnBps, DEFAULT_COSTS.costPerTurnBps);
  assert.equal(DEFAULT_ENV_SETTINGS.slippageBps, DEFAULT_COSTS.slippageBps);
});

Deno.test("parseEnvSettings() fills absent fields from the defaults (a model saved before they existed)", () => {
  assert.deepEqual(parseEnvSettings({}), DEFAULT_ENV_SETTINGS);
  const s = parseEnvSettings({ action: "discrete", window: 5, drawdownStop: 0.3 });
  assert.deepEqual(s, {
    ...DEFAULT_ENV_SETTINGS,
    action: "discrete",
    window: 5,
    drawdownStop: 0.3,
  });
  // undefined counts as absent (partial settings from command-line flags).
  assert.equal(parseEnvSettings({ window: undefined }).window, DEFAULT_ENV_SETTINGS.window);
  // A fresh object: changing it does not touch the defaults.
  s.window = 9;
  assert.equal(DEFAULT_ENV_SETTINGS.window, 1);
});

Deno.test("parseEnvSettings() names each bad field and its value", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ action: "buy" }, /^env\.action must be one of .*vol-target.*, got "buy"$/],
    [{ reward: 3 }, /^env\.reward must be one of .*, got 3$/],
    [{ window: "x" }, /^env\.window must be a positive integer, got "x"$/],
    [{ window: 1.5 }, /^env\.window must be a positive integer, got 1\.5$/],
    [{ window: 0 }, /^env\.window must be a positive integer, got 0$/],
    [{ costPerTurnBps: -1 }, /^env\.costPerTurnBps must be a finite number ≥ 0, got -1$/],
    [{ slippageBps: "5" }, /^env\.slippageBps must be a finite number ≥ 0, got "5"$/],
    [{ drawdownStop: 1.5 }, /^env\.drawdownStop must be in \(0, 1\] or null, got 1\.5$/],
    [{ drawdownStop: 0 }, /^env\.drawdownStop must be in \(0, 1\] or null, got 0$/],
    [{ initialCash: 0 }, /^env\.initialCash must be a finite number > 0, got 0$/],
    [{ episodeLength: 1 }, /^env\.episodeLength must be an integer ≥ 2, got 1$/],
    [{ executeAt: "noon" }, /^env\.executeAt must be one of open, close, got "noon"$/],
    [{ costPerTurnBps: null }, /^env\.costPerTurnBps must be a finite number ≥ 0, got null$/],
  ];
  for (const [json, message] of cases) {
    assert.throws(
      () => parseEnvSettings(json),
      (e: Error) => e instanceof TypeError && message.test(e.message),
      `${JSON.stringify(json)} → ${message}`,
    );
  }
});

Deno.test("parseEnvSettings() refuses an unknown field and a non-object, saying where", () => {
  assert.throws(
    () => parseEnvSettings({ window: 2, commision: 3 }, "m/model.json: config.env"),
    (e: Error) =>
      e instanceof TypeError &&
      /^m\/model\.json: config\.env\.commision is not an env setting \(known: action, .*\)$/.test(
        e.message,
      ),
  );
  for (const bad of [null, 3, "x", [1]]) {
    assert.throws(() => parseEnvSettings(bad), /env must be an object of env settings, got/);
  }
});

Deno.test("parseEnvSettings() round-trips every field through JSON", () => {
  const s: EnvSettings = {
    action: "discrete",
    reward: "dsr",
    window: 3,
    costPerTurnBps: 2.5,
    slippageBps: 0,
    drawdownStop: 0.25,
    initialCash: 50_000,
    episodeLength: 64,
    executeAt: "close",
  };
  assert.deepEqual(parseEnvSettings(JSON.parse(JSON.stringify(s))), s);
  const d = parseEnvSettings(JSON.parse(JSON.stringify(DEFAULT_ENV_SETTINGS)));
  assert.deepEqual(d, DEFAULT_ENV_SETTINGS);
});

Deno.test("envOptionsFor() sets maxSteps only for training and drawdownStop only when on", () => {
  const train = envOptionsFor({ ...DEFAULT_ENV_SETTINGS, drawdownStop: 0.2 }, true);
  assert.equal(train.maxSteps, DEFAULT_ENV_SETTINGS.episodeLength);
  assert.equal(train.drawdownStop, 0.2);
  const evaluate = envOptionsFor(DEFAULT_ENV_SETTINGS, false);
  assert.equal("maxSteps" in evaluate, false);
  assert.equal("drawdownStop" in evaluate, false);
  assert.equal(evaluate.costPerTurnBps, DEFAULT_COSTS.costPerTurnBps);
});
