/**
 * `deno task models`: the model registry — list and show models, point aliases
 * (`champion`, `challenger`, any name) at versions, roll an alias back or restore it,
 * show its history, measure feature drift, delete a model nobody uses.
 *
 * @module
 */
import { aliasEvents, openStore } from "@lib/db/mod.ts";
import {
  checkAliasName,
  compareModels,
  type CompareSource,
  computeModelDrift,
  deleteRegisteredModel,
  describeModel,
  listModelSummaries,
  lookupModel,
  type ModelDescription,
  parseModelRef,
  removeAlias,
  restoreAlias,
  rollbackAlias,
  setAlias,
  type TriggerRules,
} from "@lib/models/mod.ts";
import { performanceDriftOf } from "@lib/pipeline/mod.ts";
import { triggerRetraining } from "@lib/jobs/mod.ts";
import {
  DB_URL_OPTION,
  numberArg,
  parseCommandWithPositionals,
  runTask,
  UsageError,
} from "@lib/util/mod.ts";

const SPEC = {
  name: "models",
  summary: "The model registry. REF is a tt_models id, NAME@vN, NAME@latest or NAME@ALIAS.\n" +
    "  compare A B          A (champion) against B (challenger) on the same bars: their newest A/B\n" +
    "                       books (deno task trade --shadow) or evaluation episodes over the same range;\n" +
    "                       Sharpe difference with the evaluation's block-bootstrap interval and a verdict:\n" +
    "                       promote / not-enough-evidence (with the data it would need) / challenger-worse\n" +
    "  triggers REF         evaluate the retraining rules (--every N bars, --on-feature-drift,\n" +
    "                       --on-performance-drift); --run enqueues the walk-forward retraining job: on a\n" +
    "                       PostgreSQL server on the pg-boss queue tt-retrain for deno task worker (it prints\n" +
    "                       the job id), on PGlite it runs here and now. The job registers a new version as\n" +
    "                       NAME@challenger (never champion, unless --auto-promote and the comparison on the\n" +
    "                       held-back tail says promote)\n" +
    "  list                 models, newest first, with their aliases\n" +
    "  show REF             one model: aliases, lineage, settings, training and evaluation figures, files\n" +
    "  alias REF ALIAS      point ALIAS of the model's name at REF (champion, challenger, any name)\n" +
    "  unalias NAME@ALIAS   remove an alias\n" +
    "  rollback NAME        move --alias back to what it named before its last change\n" +
    "  restore NAME         undo the last rollback of --alias\n" +
    "  history NAME         every alias change of NAME with who, when and why\n" +
    "  drift REF            feature drift: the last --window bars of each observed feature and instrument\n" +
    "                       against the training data (PSI and KS, calibrated on training windows); stored.\n" +
    "                       --performance: a trading run's returns against the backtest instead (tracking\n" +
    "                       error, cumulative difference, P(drawdown this deep) under the block bootstrap);\n" +
    "                       --both: the two\n" +
    "  delete REF           remove a model from the registry (refused while an alias names it;\n" +
    "                       the directory is kept)\n" +
    "Every change is recorded with --who (default $USER) and --why.",
  positionals:
    "list|show|alias|unalias|rollback|restore|history|drift|compare|triggers|delete [ARGS]",
  options: {
    name: { type: "string", valueName: "NAME", description: "list: only models of this name" },
    alias: {
      type: "string",
      valueName: "ALIAS",
      description: "rollback/restore: the alias (default champion); history: only this alias",
    },
    why: { type: "string", valueName: "TEXT", description: "Reason recorded with an alias change" },
    who: { type: "string", valueName: "NAME", description: "Who is recorded (default: $USER)" },
    window: {
      type: "string",
      valueName: "N",
      description: "drift: bars in the recent window",
      default: "63",
    },
    end: {
      type: "string",
      valueName: "DATE",
      description: "drift: last date of the window (default: newest)",
    },
    psi: {
      type: "string",
      valueName: "X",
      description: "drift: PSI threshold of a pair",
      default: "0.25",
    },
    alpha: {
      type: "string",
      valueName: "P",
      description: "drift: test level of a pair (empirical p of PSI and KS)",
      default: "0.01",
    },
    share: {
      type: "string",
      valueName: "S",
      description: "drift: share of drifted pairs that makes the model drifted",
      default: "0.25",
    },
    performance: { type: "boolean", description: "drift: performance drift of a trading run" },
    both: { type: "boolean", description: "drift: feature and performance drift" },
    "trading-run": {
      type: "string",
      valueName: "ID",
      description:
        "drift --performance: the trading run (default the newest paper/IB run, else replay)",
    },
    "max-tracking-error": {
      type: "string",
      valueName: "X",
      description: "drift --performance: annual tracking error that counts as drift",
      default: "0.05",
    },
    "tail-alpha": {
      type: "string",
      valueName: "P",
      description: "drift --performance: bootstrap tail probability that counts as drift",
      default: "0.01",
    },
    source: {
      type: "string",
      valueName: "S",
      description: "compare: books (A/B trading runs), episodes (evaluations), auto",
      choices: ["auto", "books", "episodes"],
      default: "auto",
    },
    confidence: {
      type: "string",
      valueName: "C",
      description: "compare: confidence of the interval (fix it before looking)",
      default: "0.95",
    },
    seed: { type: "string", valueName: "N", description: "compare: bootstrap seed", default: "0" },
    every: { type: "string", valueName: "N", description: "triggers: retrain every N new bars" },
    "on-feature-drift": {
      type: "boolean",
      description: "triggers: retrain when the newest feature drift run drifted",
    },
    "on-performance-drift": {
      type: "boolean",
      description: "triggers: retrain when the newest performance drift run drifted",
    },
    "auto-promote": {
      type: "boolean",
      description: "triggers: promote the retrained challenger when compare says promote",
    },
    run: {
      type: "boolean",
      description: "triggers: when a rule fires, enqueue the retraining job and run it now",
    },
    "train-bars": {
      type: "string",
      valueName: "N",
      description: "triggers: bars of the retraining window",
      default: "756",
    },
    "holdout-bars": {
      type: "string",
      valueName: "N",
      description: "triggers: newest bars held back for the out-of-sample check",
      default: "126",
    },
    steps: {
      type: "string",
      valueName: "N",
      description: "triggers: PPO steps of the retraining",
      default: "4096",
    },
    json: { type: "boolean", description: "Print one JSON line" },
    "db-url": DB_URL_OPTION,
  },
  examples: [
    "deno task models list",
    "deno task models show ppo-portfolio@v3 --json",
    'deno task models alias ppo-portfolio@v3 champion --why "beat v2 out of sample"',
    'deno task models rollback ppo-portfolio --why "drawdown in paper trading"',
    "deno task models history ppo-portfolio",
    "deno task models drift ppo-portfolio@champion --window 63 --json",
    "deno task models drift ppo-portfolio@champion --performance",
    "deno task models compare ppo-portfolio@champion ppo-portfolio@challenger",
    "deno task models triggers ppo-portfolio@champion --every 63 --on-feature-drift --run",
    "deno task evaluate --model ppo-portfolio@champion --start 2019-01-01",
  ],
} as const;

function need(positionals: string[], n: number, usage: string): string[] {
  if (positionals.length !== n + 1) {
    throw new UsageError(`usage: deno task models ${usage}`);
  }
  return positionals.slice(1);
}

function registryRef(text: string) {
  const ref = parseModelRef(text);
  if (ref.kind === "path") {
    throw new UsageError(
      `"${text}" is not a registry reference: use an id, NAME@vN, NAME@latest or NAME@ALIAS`,
    );
  }
  return ref;
}

function fmtNum(x: number | null | undefined, digits = 3): string {
  return x === null || x === undefined || !Number.isFinite(x) ? "—" : x.toFixed(digits);
}

function printShow(d: ModelDescription): void {
  const lines = [
    `model ${d.id}  ${d.name}@v${d.version}${
      d.aliases.length ? `  (${d.aliases.join(", ")})` : ""
    }`,
    `  created     ${d.createdAt}`,
    `  directory   ${d.path}`,
    `  files       ${d.files.status}${
      "bytes" in d.files ? `, ${d.files.bytes.toLocaleString("en-US")} bytes` : ""
    }${d.files.status === "changed" ? `: ${d.files.files.join(", ")}` : ""}${
      "reason" in d.files ? ` (${d.files.reason})` : ""
    }`,
    `  parent      ${d.parent ?? "—"}`,
    `  trained on  ${d.trainedRanges.map((r) => `${r.start}…${r.end}`).join(", ") || "—"}${
      d.barSize ? ` (${d.barSize})` : ""
    }`,
    `  universe    ${d.instruments.join(", ") || "—"}`,
    `  features    ${d.featureSet ?? "—"} (${d.features.length})`,
    `  backend     ${d.backend ?? "—"}, ${
      d.timesteps?.toLocaleString("en-US") ?? "—"
    } steps, seed ${d.seed ?? "—"}${
      d.seedGroup ? `, group ${d.seedGroup} (+${d.seedSiblings.length} models)` : ""
    }`,
    `  code        ${d.codeVersion ?? "—"}`,
    `  data        ${
      d.data.map((w) =>
        `${w.runId === null ? "bars before lineage" : `ingest run ${w.runId} (${w.source})`}: ${
          w.bars.toLocaleString("en-US")
        } bars ${w.first}…${w.last}`
      ).join("; ") || "—"
    }`,
  ];
  for (const r of d.trainRuns) {
    const m = r.lastMetrics;
    lines.push(
      `  train run ${r.id}: ${r.startedAt} → ${r.finishedAt ?? "unfinished"}` +
        (m
          ? `, last update: return ${fmtNum(m.meanEpisodeReturn)}, kl ${fmtNum(m.approxKl, 4)}`
          : ""),
    );
  }
  for (const e of d.evaluations) {
    lines.push(
      `  eval ep ${e.episodeId}: ${e.start?.slice(0, 10) ?? "?"}…${e.end?.slice(0, 10) ?? "?"} ` +
        `sharpe ${fmtNum(e.sharpe, 2)}, max drawdown ${fmtNum(e.maxDrawdown, 3)}, turnover ${
          fmtNum(e.turnover, 2)
        }`,
    );
  }
  if (d.evaluations.length === 0) lines.push("  evaluations none (deno task evaluate --model …)");
  const f = d.drift.feature, p = d.drift.performance;
  lines.push(
    `  drift       feature ${
      f ? `${f.drifted ? "DRIFTED" : "ok"} (run ${f.runId}, ${f.computedAt.slice(0, 16)})` : "—"
    }, performance ${
      p
        ? `${p.drifted ? "DRIFTED" : "ok"} (run ${p.runId}, ${p.computedAt.slice(0, 16)})${
          p.reasons.length ? `: ${p.reasons.join("; ")}` : ""
        }`
        : "—"
    }`,
  );
  for (const w of d.warnings) lines.push(`  warning: ${w}`);
  console.log(lines.join("\n"));
}

async function main() {
  const { values: a, positionals } = parseCommandWithPositionals(SPEC);
  const json = a.json === true;
  const cmd = positionals[0];
  if (!cmd) {
    throw new UsageError(
      "Give a subcommand: list, show, alias, unalias, rollback, restore, history, drift, compare, triggers or delete (see --help)",
    );
  }
  const who = { who: a.who as string | undefined, why: a.why as string | undefined };
  const store = await openStore({ url: a["db-url"] as string | undefined });
  try {
    switch (cmd) {
      case "list": {
        need(positionals, 0, "list [--name NAME]");
        const models = await listModelSummaries(store, { name: a.name as string | undefined });
        if (json) console.log(JSON.stringify({ store: store.description, models }));
        else if (models.length === 0) {
          console.log(`No models in ${store.description} (deno task train)`);
        } else {
          for (const m of models) {
            console.log(
              `${String(m.id).padStart(4)}  ${`${m.name}@v${m.version}`.padEnd(28)} ${
                (m.aliases.join(",") || "").padEnd(20)
              } ${
                m.trainRange ? `${m.trainRange.start}…${m.trainRange.end}` : "—".padEnd(21)
              }  ${m.instruments.length} instruments  ${m.createdAt.slice(0, 16)}`,
            );
          }
        }
        break;
      }
      case "show": {
        const [ref] = need(positionals, 1, "show REF");
        const d = await describeModel(store, await lookupModel(store, registryRef(ref)));
        if (json) console.log(JSON.stringify(d));
        else printShow(d);
        break;
      }
      case "alias": {
        const [ref, alias] = need(positionals, 2, "alias REF ALIAS");
        checkAliasName(alias);
        const m = await lookupModel(store, registryRef(ref));
        const e = await setAlias(store, m, alias, who);
        const text = e
          ? `${m.name}@${alias} → model ${m.id} (v${m.version})${
            e.previousModelId === null ? "" : `, was model ${e.previousModelId}`
          }`
          : `${m.name}@${alias} already names model ${m.id} (v${m.version}); nothing recorded`;
        console.log(json ? JSON.stringify({ changed: e !== null, event: e, model: m.id }) : text);
        break;
      }
      case "unalias": {
        const [ref] = need(positionals, 1, "unalias NAME@ALIAS");
        const r = parseModelRef(ref);
        if (r.kind !== "alias") throw new UsageError(`unalias takes NAME@ALIAS; got "${ref}"`);
        const e = await removeAlias(store, r.name, r.alias, who);
        console.log(
          json
            ? JSON.stringify({ event: e })
            : `${r.name}@${r.alias} removed (was model ${e.previousModelId})`,
        );
        break;
      }
      case "rollback":
      case "restore": {
        const [name] = need(positionals, 1, `${cmd} NAME [--alias ALIAS]`);
        const alias = checkAliasName((a.alias as string | undefined) ?? "champion");
        const e = cmd === "rollback"
          ? await rollbackAlias(store, name, alias, who)
          : await restoreAlias(store, name, alias, who);
        console.log(
          json
            ? JSON.stringify({ event: e })
            : `${name}@${alias}: ${e.modelId === null ? "unset" : `model ${e.modelId}`} (was ${
              e.previousModelId === null ? "unset" : `model ${e.previousModelId}`
            }; ${cmd} of change ${e.targetEventId})`,
        );
        break;
      }
      case "history": {
        const [name] = need(positionals, 1, "history NAME [--alias ALIAS]");
        const events = await aliasEvents(store, name, a.alias as string | undefined);
        if (json) console.log(JSON.stringify({ name, events }));
        else if (events.length === 0) console.log(`No alias changes recorded for ${name}`);
        else {
          for (const e of events) {
            console.log(
              `${String(e.id).padStart(4)}  ${e.at.toISOString().slice(0, 19)}  ${
                e.alias.padEnd(12)
              } ${e.action.padEnd(8)} ${e.previousModelId ?? "—"} → ${
                e.modelId ?? "—"
              }  by ${e.who}${e.why ? `: ${e.why}` : ""}`,
            );
          }
        }
        break;
      }
      case "drift": {
        const [ref] = need(
          positionals,
          1,
          "drift REF [--window N] [--end DATE] [--performance|--both]",
        );
        const m = await lookupModel(store, registryRef(ref));
        const perf = a.performance === true || a.both === true;
        const feat = a.performance !== true || a.both === true;
        const out: Record<string, unknown> = { model: m.id, ref: `${m.name}@v${m.version}` };
        const day = (t: number | null) => t === null ? "?" : new Date(t).toISOString().slice(0, 10);
        const text: string[] = [];
        if (feat) {
          const d = await computeModelDrift(store, m, {
            window: numberArg(a, "window", { min: 5, integer: true }),
            end: a.end as string | undefined,
            thresholds: {
              psi: numberArg(a, "psi", { min: 0 }),
              alpha: numberArg(a, "alpha", { min: 0, max: 1 }),
              share: numberArg(a, "share", { min: 0, max: 1 }),
            },
          });
          if (a.both === true) out.feature = d;
          else Object.assign(out, d);
          text.push(
            `model ${m.id} (${m.name}@v${m.version}): feature ${
              d.drifted ? "DRIFTED" : "no drift"
            }: ` +
              `${d.driftedPairs} of ${d.pairs} feature×instrument pairs moved (threshold share ${d.thresholds.share}) ` +
              `in ${day(d.window.start)}…${day(d.window.end)} (${d.window.bars} bars) vs ` +
              `${
                d.trainedRanges.map((r) => `${r.start}…${r.end}`).join(", ")
              }; stored as drift run ${d.runId}`,
          );
          for (const r of d.rows.filter((x) => x.drifted)) {
            text.push(
              `  ${r.instrument.padEnd(8)} ${r.feature.padEnd(16)} PSI ${r.psi.toFixed(3)} (p ${
                r.psiP.toFixed(3)
              })  ` +
                `KS ${r.ksD.toFixed(3)} (p ${r.ksP.toFixed(3)})`,
            );
          }
          for (const w of d.warnings) text.push(`  warning: ${w}`);
        }
        if (perf) {
          const runArg = a["trading-run"];
          const p = await performanceDriftOf(store, m, {
            runId: runArg === undefined
              ? undefined
              : numberArg(a, "trading-run", { min: 1, integer: true }),
            thresholds: {
              maxTrackingError: numberArg(a, "max-tracking-error", { min: 0 }),
              alpha: numberArg(a, "tail-alpha", { min: 0, max: 1 }),
            },
          });
          if (a.both === true) out.performance = p;
          else Object.assign(out, p);
          const sb = p.sameBars;
          text.push(
            `model ${m.id} (${m.name}@v${m.version}): performance ${
              p.drifted ? "DRIFTED" : "no drift"
            }: run ${p.runId} ${day(p.window.start)}…${day(p.window.end)} (${p.bars} returns) vs ` +
              `episode ${p.episodeId}: return ${(p.live.totalReturn * 100).toFixed(2)} % ` +
              `(backtest median ${(p.expected.medianReturn * 100).toFixed(2)} %, P(≤) ${
                p.pReturn.toFixed(3)
              }), drawdown ${(p.live.maxDrawdown * 100).toFixed(2)} % (P(≥) ${
                p.pDrawdown.toFixed(3)
              })` +
              (sb
                ? `, tracking error ${
                  (sb.trackingError * 100).toFixed(2)
                } %/yr, cumulative difference ${
                  (sb.cumulativeDifference * 100).toFixed(2)
                } % on ${sb.bars} bars`
                : "") +
              `; stored as drift run ${p.driftRunId}`,
          );
          for (const r of p.reasons) text.push(`  ${r}`);
          for (const w of p.warnings) text.push(`  warning: ${w}`);
        }
        console.log(json ? JSON.stringify(out) : text.join("\n"));
        break;
      }
      case "compare": {
        const [ra, rb] = need(positionals, 2, "compare A B [--source books|episodes]");
        const ma = await lookupModel(store, registryRef(ra));
        const mb = await lookupModel(store, registryRef(rb));
        const c = await compareModels(store, ma, mb, {
          source: a.source as CompareSource,
          confidence: numberArg(a, "confidence", { min: 0.5, max: 0.999 }),
          seed: numberArg(a, "seed", { integer: true }),
        });
        if (json) {
          console.log(JSON.stringify({
            ...c,
            championRef: `${ma.name}@v${ma.version}`,
            challengerRef: `${mb.name}@v${mb.version}`,
          }));
          break;
        }
        const day = (t: number) => new Date(t).toISOString().slice(0, 10);
        console.log(
          [
            `${ma.name}@v${ma.version} (A, champion) vs ${mb.name}@v${mb.version} (B, challenger): ` +
            `${c.verdict.toUpperCase()}`,
            `  data       ${
              c.source === "books"
                ? `A/B pair ${c.pairId}: runs ${c.championRunId} and ${c.challengerRunId}`
                : `evaluation episodes ${c.championEpisodeId} and ${c.challengerEpisodeId}`
            }, ${day(c.range.start)}…${day(c.range.end)}, ${c.bars} bars`,
            `  Sharpe     A ${c.champion.sharpe.toFixed(2)}, B ${c.challenger.sharpe.toFixed(2)}`,
            `  return     A ${(c.champion.totalReturn * 100).toFixed(2)} %, B ${
              (c.challenger.totalReturn * 100).toFixed(2)
            } %; paired B − A ${(c.paired.annualised * 100).toFixed(2)} %/yr, tracking ${
              (c.paired.trackingError * 100).toFixed(2)
            } %/yr`,
            `  ${c.text}`,
          ].join("\n"),
        );
        break;
      }
      case "triggers": {
        const [ref] = need(
          positionals,
          1,
          "triggers REF [--every N] [--on-feature-drift] [--on-performance-drift] [--run]",
        );
        const m = await lookupModel(store, registryRef(ref));
        const rules: TriggerRules = {
          everyBars: a.every === undefined
            ? undefined
            : numberArg(a, "every", { min: 1, integer: true }),
          featureDrift: a["on-feature-drift"] === true,
          performanceDrift: a["on-performance-drift"] === true,
          autoPromote: a["auto-promote"] === true,
        };
        if (rules.everyBars === undefined && !rules.featureDrift && !rules.performanceDrift) {
          throw new UsageError(
            "Give at least one rule: --every N, --on-feature-drift or --on-performance-drift",
          );
        }
        const r = await triggerRetraining(store, m, rules, {
          run: a.run === true,
          url: (a["db-url"] as string | undefined) ?? (Deno.env.get("DATABASE_URL") || undefined),
          trainBars: numberArg(a, "train-bars", { min: 20, integer: true }),
          holdoutBars: numberArg(a, "holdout-bars", { min: 20, integer: true }),
          steps: numberArg(a, "steps", { min: 1, integer: true }),
        });
        if (json) {
          console.log(JSON.stringify(r));
          break;
        }
        const lines = [
          `model ${m.id} (${m.name}@v${m.version}): ${r.state.newBars} new bars since ${r.state.since}; ` +
          `feature drift ${
            r.state.featureDrift
              ? (r.state.featureDrift.drifted ? "DRIFTED" : "ok")
              : "never measured"
          }, performance drift ${
            r.state.performanceDrift
              ? (r.state.performanceDrift.drifted ? "DRIFTED" : "ok")
              : "never measured"
          }`,
          r.fired.length
            ? `  fired: ${r.fired.map((f) => `${f.rule} (${f.detail})`).join("; ")}`
            : "  no rule fired",
        ];
        if (r.fired.length && !r.job) {
          lines.push("  (give --run to enqueue and run the retraining)");
        }
        if (r.dispatch?.mode === "queue") {
          lines.push(
            `  job ${r.dispatch.jobId} queued on ${r.dispatch.queue} (pg-boss job ${r.dispatch.queueJobId}): ` +
              `a worker (deno task worker) runs it and registers ${m.name}@challenger; ` +
              `follow it with deno task models show ${m.name}@challenger`,
          );
        }
        if (r.outcome) {
          const o = r.outcome;
          lines.push(
            `  job ${o.jobId}: new version model ${o.challengerModelId} (v${o.challengerVersion}) is ` +
              `${m.name}@challenger${o.promoted ? " and now champion (auto-promote)" : ""}; ` +
              `vs model ${o.championModelId} on the held-back tail: ${o.verdict} — ${o.text}`,
          );
        }
        console.log(lines.join("\n"));
        break;
      }
      case "delete": {
        const [ref] = need(positionals, 1, "delete REF");
        const m = await lookupModel(store, registryRef(ref));
        await deleteRegisteredModel(store, m);
        console.log(
          json
            ? JSON.stringify({ deleted: m.id })
            : `model ${m.id} (${m.name}@v${m.version}) removed from the registry; ${m.path} kept`,
        );
        break;
      }
      default:
        throw new UsageError(`Unknown subcommand "${cmd}" (see deno task models --help)`);
    }
  } finally {
    await store.close();
  }
}

if (import.meta.main) await runTask(main);
