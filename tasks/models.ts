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
} from "@lib/models/mod.ts";
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
    "  list                 models, newest first, with their aliases\n" +
    "  show REF             one model: aliases, lineage, settings, training and evaluation figures, files\n" +
    "  alias REF ALIAS      point ALIAS of the model's name at REF (champion, challenger, any name)\n" +
    "  unalias NAME@ALIAS   remove an alias\n" +
    "  rollback NAME        move --alias back to what it named before its last change\n" +
    "  restore NAME         undo the last rollback of --alias\n" +
    "  history NAME         every alias change of NAME with who, when and why\n" +
    "  drift REF            feature drift: the last --window bars of each observed feature and instrument\n" +
    "                       against the training data (PSI and KS, calibrated on training windows); stored\n" +
    "  delete REF           remove a model from the registry (refused while an alias names it;\n" +
    "                       the directory is kept)\n" +
    "Every change is recorded with --who (default $USER) and --why.",
  positionals: "list|show|alias|unalias|rollback|restore|history|drift|delete [ARGS]",
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
  for (const w of d.warnings) lines.push(`  warning: ${w}`);
  console.log(lines.join("\n"));
}

async function main() {
  const { values: a, positionals } = parseCommandWithPositionals(SPEC);
  const json = a.json === true;
  const cmd = positionals[0];
  if (!cmd) {
    throw new UsageError(
      "Give a subcommand: list, show, alias, unalias, rollback, restore, history or delete (see --help)",
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
        const [ref] = need(positionals, 1, "drift REF [--window N] [--end DATE]");
        const m = await lookupModel(store, registryRef(ref));
        const d = await computeModelDrift(store, m, {
          window: numberArg(a, "window", { min: 5, integer: true }),
          end: a.end as string | undefined,
          thresholds: {
            psi: numberArg(a, "psi", { min: 0 }),
            alpha: numberArg(a, "alpha", { min: 0, max: 1 }),
            share: numberArg(a, "share", { min: 0, max: 1 }),
          },
        });
        if (json) {
          console.log(JSON.stringify({ model: m.id, ref: `${m.name}@v${m.version}`, ...d }));
          break;
        }
        const day = (t: number | null) => t === null ? "?" : new Date(t).toISOString().slice(0, 10);
        console.log(
          `model ${m.id} (${m.name}@v${m.version}): ${d.drifted ? "DRIFTED" : "no drift"}: ` +
            `${d.driftedPairs} of ${d.pairs} feature×instrument pairs moved (threshold share ${d.thresholds.share}) ` +
            `in ${day(d.window.start)}…${day(d.window.end)} (${d.window.bars} bars) vs ` +
            `${
              d.trainedRanges.map((r) => `${r.start}…${r.end}`).join(", ")
            }; stored as drift run ${d.runId}`,
        );
        for (const r of d.rows.filter((x) => x.drifted)) {
          console.log(
            `  ${r.instrument.padEnd(8)} ${r.feature.padEnd(16)} PSI ${r.psi.toFixed(3)} (p ${
              r.psiP.toFixed(3)
            })  ` +
              `KS ${r.ksD.toFixed(3)} (p ${r.ksP.toFixed(3)})`,
          );
        }
        for (const w of d.warnings) console.log(`  warning: ${w}`);
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
