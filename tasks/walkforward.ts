/**
 * `deno task walkforward`: trains and evaluates on rolling windows (train N years,
 * test the next M years out of sample), prints each fold and the aggregate.
 *
 * @module
 */
import { openStore } from "@lib/db/mod.ts";
import { DEFAULT_WALKFORWARD_NAME, type FoldResult, walkForward } from "@lib/pipeline/mod.ts";
import { type CommandSpec, numberArg, parseCommand, runTask } from "@lib/util/mod.ts";
import { TRAIN_OPTIONS, trainOptionsFrom, trainProgress } from "./train.ts";

const SPEC: CommandSpec = {
  name: "walkforward",
  summary:
    "Walk-forward evaluation: over the instruments' common calendar, trains a fresh model on each " +
    "training window and evaluates it deterministically on the test window that follows (never seen in " +
    "training), against equal-weight buy & hold with the same costs. Prints each fold and the aggregate. " +
    "The sample data (AAPL and SPX overlap 2013-05..2018-05) fits --train-years 2 --test-years 1.",
  options: {
    "train-years": {
      type: "string",
      valueName: "N",
      description: "Training window, years",
      default: "2",
    },
    "test-years": {
      type: "string",
      valueName: "M",
      description: "Test window, years",
      default: "1",
    },
    "step-years": {
      type: "string",
      valueName: "S",
      description: "Step between folds, years (default: test years)",
    },
    anchored: {
      type: "boolean",
      description: "Grow the training window from the start instead of rolling it",
    },
    start: {
      type: "string",
      valueName: "DATE",
      description: "Calendar start (default: common start)",
    },
    end: { type: "string", valueName: "DATE", description: "Calendar end (default: common end)" },
    name: {
      type: "string",
      valueName: "NAME",
      description: "Registry name of the fold models",
      default: DEFAULT_WALKFORWARD_NAME,
    },
    ...TRAIN_OPTIONS,
  },
  examples: [
    "deno task walkforward --train-years 2 --test-years 1",
    "deno task walkforward --train-years 3 --test-years 1 --steps 20000 --json",
  ],
};

function f(x: number | null | undefined, digits = 3): string {
  return x === null || x === undefined || !Number.isFinite(x) ? "n/a" : x.toFixed(digits);
}

function foldLine(r: FoldResult): string {
  const d = r.sharpeDifference;
  return `fold ${r.index}: train ${r.train.start}..${r.train.end}  test ${r.test.start}..${r.test.end}  ` +
    `return ${f(r.strategy.totalReturn * 100, 2)} % vs ${f(r.benchmark.totalReturn * 100, 2)} %  ` +
    `Sharpe ${f(r.strategy.sharpe, 2)} vs ${f(r.benchmark.sharpe, 2)}  ` +
    `ΔSharpe 95 % CI [${f(d.lower, 2)}, ${
      f(d.upper, 2)
    }]  model ${r.modelId}, episode ${r.evalEpisodeId}`;
}

async function main() {
  const args = parseCommand(SPEC);
  const train = trainOptionsFrom(args);
  const json = args.json === true;
  const store = await openStore({ url: args["db-url"] as string | undefined });
  let bar: ReturnType<typeof trainProgress> | null = null;
  try {
    const wf = await walkForward(
      store,
      {
        train: { ...train, logEpisodes: "env0" },
        trainYears: numberArg(args, "train-years", { min: 0.1 })!,
        testYears: numberArg(args, "test-years", { min: 0.1 })!,
        stepYears: numberArg(args, "step-years", { min: 0.1 }),
        anchored: args.anchored === true,
        start: args.start as string | undefined,
        end: args.end as string | undefined,
      },
      {
        onFold(i, n, tr, te) {
          if (!json) {
            console.error(
              `fold ${i + 1}/${n}: train ${tr.start}..${tr.end}, test ${te.start}..${te.end}`,
            );
          }
        },
        trainHooks: () => {
          bar = trainProgress(json, "  train");
          return { onStart: bar.onStart, onProgress: bar.onProgress };
        },
        onFoldDone(r) {
          bar?.finish();
          if (!json) console.log(foldLine(r));
        },
      },
    );
    const s = wf.aggregate.strategy.metrics, b = wf.aggregate.benchmark.metrics;
    if (json) {
      console.log(JSON.stringify({
        folds: wf.folds.map((r) => ({
          index: r.index,
          train: r.train,
          test: r.test,
          modelId: r.modelId,
          evalEpisodeId: r.evalEpisodeId,
          totalReturn: r.strategy.totalReturn,
          sharpe: r.strategy.sharpe,
          maxDrawdown: r.strategy.maxDrawdown,
          benchmarkTotalReturn: r.benchmark.totalReturn,
          benchmarkSharpe: r.benchmark.sharpe,
          psr: r.psr,
          sharpeDifference: {
            estimate: r.sharpeDifference.estimate,
            lower: r.sharpeDifference.lower,
            upper: r.sharpeDifference.upper,
          },
        })),
        aggregate: {
          positiveFolds: wf.aggregate.strategy.positiveFolds,
          meanSharpe: s.sharpe?.mean ?? null,
          meanTotalReturn: s.totalReturn?.mean ?? null,
          meanMaxDrawdown: s.maxDrawdown?.mean ?? null,
          benchmarkMeanSharpe: b.sharpe?.mean ?? null,
          benchmarkMeanTotalReturn: b.totalReturn?.mean ?? null,
          stitchedFinalEquity: wf.stitched?.strategy.equity.at(-1) ?? null,
          benchmarkStitchedFinalEquity: wf.stitched?.benchmark.equity.at(-1) ?? null,
        },
      }));
      return;
    }
    console.log(
      `aggregate over ${wf.folds.length} folds: mean return ${
        f((s.totalReturn?.mean ?? NaN) * 100, 2)
      } % ` +
        `(buy & hold ${f((b.totalReturn?.mean ?? NaN) * 100, 2)} %), mean Sharpe ${
          f(s.sharpe?.mean, 2)
        } ± ${f(s.sharpe?.std, 2)} ` +
        `(buy & hold ${f(b.sharpe?.mean, 2)}), positive folds ${
          f(wf.aggregate.strategy.positiveFolds * 100, 0)
        } %`,
    );
    if (wf.stitched) {
      const se = wf.stitched.strategy.equity, be = wf.stitched.benchmark.equity;
      console.log(
        `stitched out-of-sample: policy ${f((se[se.length - 1] / se[0] - 1) * 100, 2)} %, ` +
          `buy & hold ${f((be[be.length - 1] / be[0] - 1) * 100, 2)} %`,
      );
    }
  } finally {
    await store.close();
  }
}

if (import.meta.main) await runTask(main);
