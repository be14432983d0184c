import assert from "node:assert/strict";
import {
  DEFAULT_ALLOCATION_LS_OPTIONS,
  DEFAULT_ALLOCATION_OPTIONS,
  DEFAULT_COSTS,
  DEFAULT_ENV_SETTINGS,
  DEFAULT_SCALED_LOG_RETURN_OPTIONS,
  envOptionsFor,
  type EnvSettings,
  LEGACY_ENV_SETTINGS,
  makePortfolioEnv,
  parseEnvSettings,
} from "@lib/env/mod.ts";
import { handPanel, zeroFeatures } from "./support/env_panels.ts";

Deno.test("DEFAULT_ENV_SETTINGS takes its cost defaults from DEFAULT_COSTS", () => {
  assert.equal(DEFAULT_ENV_SETTINGS.costPerTurnBps, DEFAULT_COSTS.costPerTurnBps);
  assert.equal(DEFAULT_ENV_SETTINGS.slippageBps, DEFAULT_COSTS.slippageBps);
});

Deno.test("parseEnvSettings() fills absent fields with the behaviour before they existed (an old saved model)", () => {
  assert.deepEqual(parseEnvSettings({}), LEGACY_ENV_SETTINGS);
  // What models saved before the friction, fee-model and scheme-option fields traded with.
  assert.equal(LEGACY_ENV_SETTINGS.action, "vol-target");
  assert.equal(LEGACY_ENV_SETTINGS.reward, "risk-aware");
  assert.equal(LEGACY_ENV_SETTINGS.band, 0);
  assert.equal(LEGACY_ENV_SETTINGS.rebalanceEvery, 1);
  assert.equal(LEGACY_ENV_SETTINGS.partialAdjustment, 1);
  assert.equal(LEGACY_ENV_SETTINGS.feeModel, "bps");
  assert.equal(LEGACY_ENV_SETTINGS.impactK, 0);
  // A config saved before this change (every field it had, none of the new ones).
  const old = {
    action: "vol-target",
    reward: "risk-aware",
    window: 1,
    costPerTurnBps: 10,
    slippageBps: 5,
    drawdownStop: null,
    initialCash: 1_000_000,
    episodeLength: 252,
    executeAt: "open",
  };
  assert.deepEqual(parseEnvSettings(old), LEGACY_ENV_SETTINGS);
  const s = parseEnvSettings({ action: "discrete", window: 5, drawdownStop: 0.3 });
  assert.deepEqual(s, {
    ...LEGACY_ENV_SETTINGS,
    action: "discrete",
    window: 5,
    drawdownStop: 0.3,
  });
  // undefined counts as absent (partial settings from command-line flags).
  assert.equal(parseEnvSettings({ window: undefined }).window, LEGACY_ENV_SETTINGS.window);
  // A fresh object: changing it does not touch the defaults.
  s.window = 9;
  s.allocation.cashShare = 0.5;
  assert.equal(LEGACY_ENV_SETTINGS.window, 1);
  assert.equal(DEFAULT_ENV_SETTINGS.allocation.cashShare, 0);
});

Deno.test("parseEnvSettings() with the new-model base gives the sound defaults, nested fields filled one by one", () => {
  const d = parseEnvSettings({}, "env", DEFAULT_ENV_SETTINGS);
  assert.deepEqual(d, DEFAULT_ENV_SETTINGS);
  assert.equal(d.action, "allocation");
  assert.equal(d.reward, "log-return-scaled");
  assert.equal(d.band, 0.02);
  assert.deepEqual(d.allocation, DEFAULT_ALLOCATION_OPTIONS);
  assert.deepEqual(d.allocationLs, DEFAULT_ALLOCATION_LS_OPTIONS);
  assert.deepEqual(d.scaledLogReturn, DEFAULT_SCALED_LOG_RETURN_OPTIONS);
  const s = parseEnvSettings(
    {
      feeModel: "ibkr-fixed",
      impactK: 0.1,
      band: 0.05,
      rebalanceEvery: 5,
      partialAdjustment: 0.5,
      allocation: { cashShare: 0.1 },
      allocationLs: { maxTilt: 1, maxGross: 1.2, cashShare: undefined },
      scaledLogReturn: { volPenalty: 0.1, drawdownPenalty: 0.5 },
    },
    "env",
    DEFAULT_ENV_SETTINGS,
  );
  assert.deepEqual(s, {
    ...DEFAULT_ENV_SETTINGS,
    feeModel: "ibkr-fixed",
    impactK: 0.1,
    band: 0.05,
    rebalanceEvery: 5,
    partialAdjustment: 0.5,
    allocation: { cashShare: 0.1, cashReach: 0.5, scoreScale: 1, base: "buy-and-hold" },
    allocationLs: { cashShare: 0, maxTilt: 1, maxGross: 1.2 },
    scaledLogReturn: { scale: 100, volPenalty: 0.1, drawdownPenalty: 0.5, window: 20 },
  });
  // A partial nested object over a parent's settings keeps the parent's other fields.
  const child = parseEnvSettings({ allocation: { scoreScale: 2 } }, "env", s);
  assert.deepEqual(child.allocation, {
    cashShare: 0.1,
    cashReach: 0.5,
    scoreScale: 2,
    base: "buy-and-hold",
  });
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
    [{ feeModel: "flat" }, /^env\.feeModel must be one of bps, ibkr-fixed, got "flat"$/],
    [{ impactK: -0.1 }, /^env\.impactK must be a finite number ≥ 0, got -0\.1$/],
    [{ band: 1 }, /^env\.band must be in \[0, 1\), got 1$/],
    [{ band: -0.01 }, /^env\.band must be in \[0, 1\), got -0\.01$/],
    [{ rebalanceEvery: 0 }, /^env\.rebalanceEvery must be a positive integer, got 0$/],
    [{ partialAdjustment: 0 }, /^env\.partialAdjustment must be in \(0, 1\], got 0$/],
    [{ allocation: { cashShare: 1 } }, /^env\.allocation\.cashShare must be in \[0, 1\), got 1$/],
    [{ allocation: { cashReach: 0 } }, /^env\.allocation\.cashReach must be in \(0, 1\], got 0$/],
    [
      { allocation: { scoreScale: 21 } },
      /^env\.allocation\.scoreScale must be in \(0, 20\], got 21$/,
    ],
    [{ allocation: 3 }, /^env\.allocation must be an object, got 3$/],
    [
      { allocationLs: { maxGross: 0.5 } },
      /^env\.allocationLs\.maxGross must be a finite number ≥ 1, got 0\.5$/,
    ],
    [
      { allocationLs: { maxTilt: -1 } },
      /^env\.allocationLs\.maxTilt must be a finite number ≥ 0, got -1$/,
    ],
    [
      { scaledLogReturn: { window: 0 } },
      /^env\.scaledLogReturn\.window must be a positive integer, got 0$/,
    ],
    [
      { scaledLogReturn: { drawdownPenalty: "big" } },
      /^env\.scaledLogReturn\.drawdownPenalty must be a finite number ≥ 0, got "big"$/,
    ],
    [
      { scaledLogReturn: { gain: 1 } },
      /^env\.scaledLogReturn\.gain is not an option of scaledLogReturn \(known: scale, volPenalty, drawdownPenalty, window\)$/,
    ],
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
    feeModel: "ibkr-fixed",
    costPerTurnBps: 2.5,
    slippageBps: 0,
    impactK: 0.2,
    drawdownStop: 0.25,
    initialCash: 50_000,
    episodeLength: 64,
    executeAt: "close",
    band: 0.01,
    rebalanceEvery: 3,
    partialAdjustment: 0.25,
    allocation: { cashShare: 0.2, cashReach: 0.3, scoreScale: 4, base: "equal-weight" },
    allocationLs: { cashShare: 0.1, maxTilt: 0.5, maxGross: 2 },
    scaledLogReturn: { scale: 10, volPenalty: 0.2, drawdownPenalty: 1, window: 5 },
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

Deno.test("envOptionsFor() hands fee model, impact, friction and scheme options to the env", () => {
  const s = parseEnvSettings({
    action: "allocation",
    reward: "log-return-scaled",
    feeModel: "ibkr-fixed",
    impactK: 0.3,
    band: 0.04,
    rebalanceEvery: 2,
    partialAdjustment: 0.5,
    allocation: { cashShare: 0.2 },
    scaledLogReturn: { scale: 10 },
  });
  const o = envOptionsFor(s, false);
  assert.equal(o.feeModel, "ibkr-fixed");
  assert.equal(o.impactK, 0.3);
  assert.equal(o.band, 0.04);
  assert.equal(o.rebalanceEvery, 2);
  assert.equal(o.partialAdjustment, 0.5);
  assert.equal(o.actionOptions?.allocation?.cashShare, 0.2);
  assert.equal(o.rewardOptions?.scaledLogReturn?.scale, 10);
  // The env takes them: the cost settings it charges; zero scores target (1 - 0.2) / 2 = 0.4
  // each, and partial adjustment 0.5 moves half way there from cash.
  const closes = [[100, 50], [101, 51], [102, 49]];
  const prices = handPanel(["A", "B"], { open: closes, close: closes });
  const env = makePortfolioEnv(prices, zeroFeatures(prices), o);
  assert.equal(env.costs.feeModel, "ibkr-fixed");
  assert.equal(env.costs.impactK, 0.3);
  env.reset({ start: env.startRange.earliest });
  const r = env.step(new Float32Array(3));
  const w = r.info.targetWeights!;
  assert.ok(Math.abs(w[0] - 0.2) < 1e-12 && Math.abs(w[1] - 0.2) < 1e-12, `targets ${w}`);
});
