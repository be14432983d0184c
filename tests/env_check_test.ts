import assert from "node:assert/strict";
import {
  ACTION_NAMES,
  box,
  checkEnv,
  checkVecEnv,
  type Env,
  makePortfolioEnv,
  makePortfolioVecEnv,
  REWARD_NAMES,
  type StepInfo,
} from "@lib/env/mod.ts";
import { BenchVecEnv, makeBenchMarket } from "../tasks/bench/_market.ts";
import { causalFeatures, syntheticPrices } from "./support/env_panels.ts";

const prices = syntheticPrices(4, 120, 9);
const features = causalFeatures(prices);

for (const action of ACTION_NAMES) {
  for (const reward of REWARD_NAMES) {
    for (const drawdownStop of [undefined, 0.03]) {
      for (const executeAt of ["open", "close"] as const) {
        const name = `checkEnv() passes for ${action} × ${reward} × ` +
          `${drawdownStop ? "drawdown stop" : "no stopper"} × execute at ${executeAt}`;
        Deno.test(name, () => {
          for (const seed of [0, 1]) {
            const report = checkEnv(
              () =>
                makePortfolioEnv(prices, features, {
                  action,
                  reward,
                  drawdownStop,
                  executeAt,
                  window: 2,
                  impactK: 0.3,
                  maxSteps: 40,
                }),
              { seed },
            );
            assert.deepEqual(report.problems, []);
            assert.ok(report.ok && report.steps > 0);
          }
        });
      }
    }
  }
}

Deno.test("checkEnv() runs to end of data when maxSteps is unset", () => {
  const report = checkEnv(() => makePortfolioEnv(prices, features, { range: { start: 90 } }));
  assert.ok(report.ok, report.problems.join("\n"));
});

/** A tiny env with switchable defects, to show the checker can fail. */
class FaultyEnv implements Env<Float32Array, Float32Array> {
  readonly observationSpace = box([2]);
  readonly actionSpace = box([1], { low: -1, high: 1 });
  #t = 0;
  #calls = 0;
  constructor(readonly defect: "nan" | "no-throw" | "random" | "endless" | "no-cost") {}
  #info(): StepInfo {
    const info: StepInfo = {
      t: this.#t,
      timestamp: this.#t,
      netWorth: 1,
      weights: new Float64Array(1),
    };
    if (this.defect !== "no-cost") {
      Object.assign(info, { cost: 0, slippage: 0, turnover: 0, rewardTerms: {} });
    }
    return info;
  }
  reset() {
    this.#t = 0;
    return { observation: new Float32Array(2), info: this.#info() };
  }
  step(_a: Float32Array) {
    if (this.#t >= 3 && this.defect !== "no-throw" && this.defect !== "endless") {
      throw new Error("done");
    }
    this.#t++;
    this.#calls++;
    const observation = new Float32Array([this.defect === "nan" && this.#t === 2 ? NaN : 0, 0]);
    const reward = this.defect === "random" ? this.#calls : 0;
    const end = this.#t >= 3 && this.defect !== "endless";
    return {
      observation,
      reward,
      terminated: false,
      truncated: end,
      info: { ...this.#info(), stopReason: "x" },
    };
  }
}

Deno.test("checkEnv() reports each broken promise of the contract", () => {
  const problems = (d: FaultyEnv["defect"]) =>
    checkEnv(() => new FaultyEnv(d), { maxEpisodeSteps: 20 }).problems;
  assert.match(
    problems("nan").join("\n"),
    /step 1: observation is not in the observation space \(entry 0 is NaN\)/,
  );
  assert.match(problems("no-throw").join("\n"), /did not throw/);
  assert.match(problems("random").join("\n"), /did not reproduce/);
  assert.match(problems("endless").join("\n"), /did not end within 20 steps/);
  assert.match(problems("no-cost").join("\n"), /info\.cost/);
  class ThrowingEnv extends FaultyEnv {
    override step(_a: Float32Array): never {
      throw new Error("boom");
    }
  }
  const throwing = checkEnv(() => new ThrowingEnv("nan"));
  assert.match(throwing.problems.join("\n"), /step 0: step\(\) threw: boom/);
});

for (const action of ACTION_NAMES) {
  Deno.test(`checkVecEnv() passes for makePortfolioVecEnv with ${action} actions`, () => {
    const report = checkVecEnv(
      () =>
        makePortfolioVecEnv(prices, features, {
          action,
          numEnvs: 3,
          maxSteps: 12,
          drawdownStop: 0.05,
        }),
      { seed: 2, steps: 40 },
    );
    assert.deepEqual(report.problems, []);
  });
}

Deno.test("checkVecEnv() passes for the benchmark's BenchVecEnv", () => {
  const market = makeBenchMarket(1, { days: 300 });
  const report = checkVecEnv(() => new BenchVecEnv(market, { numEnvs: 2, seed: 1001 }), {
    steps: 260,
  });
  assert.deepEqual(report.problems, []);
});

Deno.test("checkVecEnv() reports a vec env that does not auto-reset", () => {
  const report = checkVecEnv(() => {
    const vec = makePortfolioVecEnv(prices, features, { numEnvs: 2, maxSteps: 5 });
    const step = vec.step.bind(vec);
    vec.step = (a) => ({ ...step(a), finalObservations: [null, null] });
    return vec;
  }, { steps: 10 });
  assert.match(
    report.problems.join("\n"),
    /finalObservations\[k\] is not present exactly when env k ended/,
  );
});
