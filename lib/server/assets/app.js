// The dashboard's browser code: fetch the page's JSON endpoint, render tables and
// charts (vega-embed, loaded by the page from /assets), retry while the store is busy.
// Data goes into the page as text nodes only (never as HTML).

const app = document.getElementById("app");
const alerts = document.getElementById("alerts");
const state = { renders: 0, views: [], lastUpdate: null };
globalThis.__dashboard = state;

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const isNum = (v) => typeof v === "number" && Number.isFinite(v);
const pct = (v, d = 1) => (isNum(v) ? `${(v * 100).toFixed(d)}%` : "–");
const num = (v, d = 2) => (isNum(v) ? v.toFixed(d) : "–");
const int = (v) => (isNum(v) ? Math.round(v).toLocaleString("en-US") : "–");
const when = (s) => (s ? String(s).replace("T", " ").slice(0, 16) : "–");
const link = (href, text) => el("a", { href }, text);

/** columns: [title, (row) => cell, "num"?] */
function table(columns, rows, empty = "none") {
  if (!rows || rows.length === 0) return el("p", { class: "muted" }, empty);
  return el(
    "table",
    {},
    el("thead", {}, el("tr", {}, columns.map(([t, , c]) => el("th", { class: c }, t)))),
    el(
      "tbody",
      {},
      rows.map((r) => el("tr", {}, columns.map(([, f, c]) => el("td", { class: c }, f(r))))),
    ),
  );
}

function section(title, ...body) {
  return el("section", {}, el("h2", {}, title), ...body);
}

async function drawCharts(container, charts) {
  for (const v of state.views) v.finalize();
  state.views = [];
  for (const c of charts ?? []) {
    const host = el("div", { class: "chart", id: `chart-${c.id}` });
    container.append(el("figure", {}, host, el("figcaption", {}, c.caption)));
    const res = await globalThis.vegaEmbed(host, c.spec, {
      actions: false,
      renderer: "svg",
      ast: true,
    });
    state.views.push(res.view);
  }
}

function showAlerts(list, busy) {
  alerts.replaceChildren(
    ...(busy ? [el("div", { class: "alert busy", "data-kind": "busy" }, busy)] : []),
    ...(list ?? []).map((a) =>
      el("div", { class: `alert ${a.level}`, "data-kind": a.level }, a.text)
    ),
  );
}

async function getJson(url) {
  for (;;) {
    const res = await fetch(url, { headers: { accept: "application/json" } });
    const body = await res.json();
    if (res.status === 503 && body.busy) {
      showAlerts([], `${body.error} — retrying in ${body.retryAfter} s`);
      await new Promise((r) => setTimeout(r, 1000 * body.retryAfter));
      continue;
    }
    if (!res.ok) throw new Error(body.error ?? `${res.status} ${res.statusText}`);
    showAlerts([], null);
    return body;
  }
}

// ---- pages -------------------------------------------------------------------------

function trainingTable(rows) {
  return table(
    [
      ["run", (r) => r.id, "num"],
      ["state", (r) => (r.running ? "running" : "finished")],
      ["progress", (r) =>
        r.progress === null ? int(r.timesteps) : el(
          "span",
          {},
          el("progress", { max: 1, value: r.progress }),
          ` ${pct(r.progress, 0)}`,
        )],
      ["steps", (r) => `${int(r.timesteps)} / ${int(r.plannedSteps)}`, "num"],
      ["updates", (r) => r.updates, "num"],
      ["episode return", (r) => num(r.lastEpisodeReturn, 4), "num"],
      ["steps/s", (r) => num(r.stepsPerSecond, 0), "num"],
      ["model", (r) => (r.modelId ? link(`/model/${r.modelId}`, r.modelId) : "–")],
      ["instruments", (r) => r.instruments.join(", ")],
      ["started", (r) => when(r.startedAt)],
    ],
    rows,
    "no training runs",
  );
}

const PAGES = {
  overview(d) {
    const parts = [el("h1", {}, "Overview")];
    parts.push(section("Training", trainingTable(d.training)));
    parts.push(section(
      "Models",
      table(
        [
          ["id", (m) => link(`/model/${m.id}`, m.id), "num"],
          ["model", (m) => `${m.name}@v${m.version}`],
          ["aliases", (m) => m.aliases.join(", ") || "–"],
          [
            "trained on",
            (m) => (m.trainRange ? `${m.trainRange.start} → ${m.trainRange.end}` : "–"),
          ],
          ["instruments", (m) => m.instruments.join(", ")],
          ["seed", (m) => m.seed ?? "–", "num"],
          ["created", (m) => when(m.createdAt)],
        ],
        d.models,
        "no models yet: deno task train",
      ),
    ));
    parts.push(section(
      "Evaluations",
      table(
        [
          ["episode", (e) => link(`/evaluation/${e.episodeId}`, e.episodeId), "num"],
          ["model", (e) => e.modelId ?? "–", "num"],
          ["range", (e) => e.range ?? "–"],
          ["sample", (e) => (e.inSample ? "in-sample" : "out of sample")],
          ["Sharpe", (e) => num(e.sharpe), "num"],
          ["max DD", (e) => pct(e.maxDrawdown), "num"],
          ["verdict", (e) => e.verdict ?? "–"],
          ["", (e) => link(`/risk/${e.episodeId}`, "risk")],
        ],
        d.evaluations,
        "no evaluations yet: deno task evaluate",
      ),
    ));
    parts.push(section("Trading runs", tradingRunsTable(d.trading)));
    parts.push(section(
      "Sweeps",
      el(
        "p",
        {},
        link("/sweeps", "Sweeps"),
        ": progress, per-job state and the leaderboard of every sweep (deno task sweep)",
      ),
    ));
    app.replaceChildren(...parts);
  },

  sweeps(d) {
    const count = (s, k) => s.progress[k] ?? 0;
    app.replaceChildren(
      el("h1", {}, "Sweeps"),
      section(
        "Sweeps",
        el(
          "div",
          { id: "sweeps", "data-count": d.sweeps.length },
          table(
            [
              ["sweep", (s) => link(`/sweeps/${s.id}`, s.id), "num"],
              ["name", (s) => s.name],
              ["mode", (s) => s.mode],
              ["configurations", (s) => s.configurations, "num"],
              ["progress", (s) =>
                el(
                  "span",
                  {},
                  el("progress", {
                    max: Math.max(1, s.progress.total),
                    value: count(s, "completed"),
                  }),
                  ` ${count(s, "completed")} / ${s.progress.total}`,
                )],
              ["active", (s) => count(s, "active"), "num"],
              ["failed", (s) => count(s, "failed"), "num"],
              ["created", (s) => when(s.createdAt)],
            ],
            d.sweeps,
            "no sweeps yet: deno task sweep",
          ),
        ),
      ),
    );
  },

  sweep(d) {
    const b = d.leaderboard;
    const w = b.winner;
    const states = Object.entries(d.progress).filter(([k]) => k !== "total");
    app.replaceChildren(
      el("h1", {}, `Sweep ${d.sweep.id}: ${d.sweep.name}`),
      el(
        "p",
        { class: "muted" },
        `${d.sweep.mode} · ${d.progress.total} jobs · `,
        states.map(([k, v]) => `${k} ${v}`).join(", ") || "no jobs",
        " · ",
        link("/sweeps", "all sweeps"),
      ),
      el("progress", {
        id: "sweep-progress",
        max: Math.max(1, d.progress.total),
        value: d.progress.completed ?? 0,
      }),
      el(
        "div",
        { class: "verdict", id: "selection" },
        el(
          "strong",
          {},
          `${b.configurations} configuration${b.configurations === 1 ? "" : "s"} tried`,
          w
            ? ` · winner ${w.settingKey}: deflated Sharpe ratio ${pct(w.deflatedSharpe)} ` +
              `(best of ${w.trials} expected by luck: ${num(w.expectedMaxSharpe)})`
            : "",
        ),
        el("div", {}, b.note),
      ),
      section(
        "Leaderboard",
        el("p", { class: "muted" }, `Ranked by the ${b.metric}.`),
        el(
          "div",
          { id: "leaderboard", "data-count": b.rows.length },
          table(
            [
              ["rank", (r) => r.rank, "num"],
              ["setting", (r) => r.settingKey],
              ["median Sharpe", (r) => num(r.median), "num"],
              ["IQR", (r) => `${num(r.interval.q1)} … ${num(r.interval.q3)}`, "num"],
              ["vs buy & hold", (r) => num(r.medianVsBuyAndHold), "num"],
              ["seeds", (r) => r.perSeed.map((s) => `${s.seed}: ${num(s.sharpe)}`).join(", ")],
              ["jobs", (r) => `${r.jobs.completed} / ${r.jobs.total}`, "num"],
              ["failed", (r) => r.jobs.failed, "num"],
            ],
            b.rows,
          ),
        ),
      ),
      section(
        "Jobs",
        el(
          "div",
          { id: "sweep-jobs", "data-count": d.jobs.length },
          table(
            [
              ["job", (j) => j.key],
              ["state", (j) => j.state],
              ["setting", (j) => j.settingKey],
              ["seed", (j) => j.seed, "num"],
              ["fold", (j) => j.fold, "num"],
              ["runs", (j) => j.runs, "num"],
              ["worker", (j) => j.worker ?? "–"],
              ["Sharpe (oos)", (j) => num(j.sharpe), "num"],
              ["model", (j) => (j.modelId ? link(`/model/${j.modelId}`, j.modelId) : "–")],
              ["error", (j) => j.error ?? ""],
            ],
            d.jobs,
          ),
        ),
      ),
    );
  },

  async evaluation(d) {
    const v = d.verdict;
    const diff = v.sharpeDifference;
    const parts = [
      el("h1", {}, d.title),
      el(
        "p",
        { class: "muted" },
        d.subtitle,
        " · ",
        link(`/risk/${d.episodeId}`, "risk attribution"),
      ),
      el(
        "div",
        { class: "verdict", id: "verdict" },
        el("strong", {}, v.text ?? "No verdict logged with this episode."),
        diff
          ? el(
            "div",
            {},
            `Sharpe(strategy) − Sharpe(${v.benchmark ?? "benchmark"}) = ${num(diff.estimate)} `,
            `[${num(diff.lower)}, ${num(diff.upper)}]${
              diff.confidence ? ` at ${pct(diff.confidence, 0)}` : ""
            }`,
            ` · PSR vs 0: ${num(v.psrVsZero)} · PSR vs benchmark: ${num(v.psrVsBenchmark)}`,
          )
          : null,
        v.baselines ? el("div", {}, v.baselines) : null,
      ),
      ...d.notes.map((n) => el("p", { class: "muted" }, n)),
      section(
        "Metrics",
        table([
          ["total return", (m) => pct(m.totalReturn), "num"],
          ["Sharpe", (m) => num(m.sharpe), "num"],
          ["max drawdown", (m) => pct(m.maxDrawdown), "num"],
          ["turnover / year", (m) => num(m.annualizedTurnover), "num"],
          ["costs paid", (m) => pct(m.costsPaidFraction, 2), "num"],
          ["bars", (m) => m.periods, "num"],
        ], [d.metrics]),
      ),
    ];
    if (d.baselines.length) {
      parts.push(section(
        "Baselines",
        table([
          ["baseline", (b) => b.name + (b.best ? " (best)" : "")],
          ["Sharpe", (b) => num(b.sharpe), "num"],
          ["total return", (b) => pct(b.totalReturn), "num"],
        ], d.baselines),
      ));
    }
    if (d.costs) {
      parts.push(
        section(
          "Costs",
          el("p", {}, `Training: ${d.costs.training}`),
          el("p", {}, `Evaluation: ${d.costs.evaluation}`),
          d.costs.warning ? el("p", { class: "muted" }, d.costs.warning) : null,
        ),
      );
    }
    if (d.seeds) {
      const s = d.seeds.sharpe;
      parts.push(section(
        "Seeds (same range and instruments)",
        el(
          "p",
          {},
          `Sharpe over ${d.seeds.rows.length} models: median ${num(s.median)}, quartiles [${
            num(s.q1)
          }, ${num(s.q3)}], range [${num(s.min)}, ${num(s.max)}]`,
        ),
        table([
          ["episode", (r) => link(`/evaluation/${r.episodeId}`, r.episodeId), "num"],
          ["model", (r) => r.modelId ?? "–", "num"],
          ["seed", (r) => r.seed ?? "–", "num"],
          ["Sharpe", (r) => num(r.sharpe), "num"],
        ], d.seeds.rows),
      ));
    }
    const charts = el("section", {}, el("h2", {}, "Charts"));
    parts.push(charts);
    app.replaceChildren(...parts);
    await drawCharts(charts, d.charts);
  },

  async risk(d) {
    const charts = el("section", {}, el("h2", {}, "Charts"));
    app.replaceChildren(
      el("h1", {}, d.title),
      el(
        "p",
        {},
        `Portfolio volatility (annualised, mean weights): ${pct(d.portfolioVolatility, 2)} · `,
        `summed return contribution: ${
          pct(d.totalReturnContribution, 2)
        } over ${d.periods} bars · `,
        link(`/evaluation/${d.episodeId}`, "evaluation"),
      ),
      ...d.notes.map((n) => el("p", { class: "muted" }, n)),
      section(
        "By instrument",
        table([
          ["instrument", (r) => r.instrument],
          ["mean weight", (r) => pct(r.meanWeight), "num"],
          ["return contribution", (r) => pct(r.returnContribution, 2), "num"],
          ["share of return", (r) => pct(r.returnShare, 0), "num"],
          ["marginal vol", (r) => pct(r.marginalVolatility, 1), "num"],
          ["vol contribution", (r) => pct(r.volatilityContribution, 2), "num"],
          ["share of vol", (r) => pct(r.volatilityShare, 0), "num"],
          ["turnover", (r) => num(r.turnover, 3), "num"],
          ["costs", (r) => num(r.costs, 2), "num"],
        ], d.rows),
      ),
      charts,
    );
    await drawCharts(charts, d.charts);
  },

  async data(d) {
    const charts = el("section", {}, el("h2", {}, "Quality"));
    app.replaceChildren(
      el("h1", {}, `Data (${d.barSize} bars)`),
      ...d.notes.map((n) => el("p", { class: "muted" }, n)),
      charts,
      section(
        "Coverage",
        table(
          [
            ["instrument", (r) => r.instrument],
            ["first", (r) => r.first],
            ["last", (r) => r.last],
            ["bars", (r) => int(r.bars), "num"],
            ["present", (r) => int(r.present), "num"],
            ["missing", (r) => int(r.missing), "num"],
            ["suspicious", (r) => int(r.suspicious), "num"],
            ["not listed", (r) => int(r.notListed), "num"],
          ],
          d.coverage,
          "no bars: deno task ingest",
        ),
      ),
      section(
        "Ingest runs",
        table([
          ["run", (r) => r.id, "num"],
          ["source", (r) => r.source],
          ["status", (r) => r.status],
          ["rows", (r) => int(r.rows), "num"],
          ["started", (r) => when(r.startedAt)],
        ], d.ingestRuns),
      ),
    );
    await drawCharts(charts, d.charts);
  },

  async live(d) {
    showAlerts(d.alerts, null);
    const charts = el("section", {}, el("h2", {}, "Charts"));
    const parts = [
      el("h1", {}, "Live monitoring"),
      el(
        "p",
        { class: "muted", id: "live-at" },
        `updated ${when(d.at)} UTC (live: server-sent events)`,
      ),
    ];
    parts.push(...liveTrading(d.trading).filter(Boolean));
    parts.push(section("Training", trainingTable(d.training)));
    parts.push(section(
      "Drift",
      table(
        [
          ["model", (r) => r.model],
          ["kind", (r) => r.kind],
          ["drifted", (r) => (r.drifted ? "YES" : "no")],
          ["pairs", (r) => (r.pairs ? `${r.driftedPairs} / ${r.pairs}` : "–"), "num"],
          ["measured", (r) => when(r.computedAt)],
        ],
        d.drift,
        "no drift measured: deno task models drift REF",
      ),
    ));
    parts.push(charts);
    app.replaceChildren(...parts);
    await drawCharts(charts, d.charts);
  },
};

function tradingRunsTable(rows) {
  return table(
    [
      ["run", (r) => r.id, "num"],
      ["model", (r) => r.modelId ?? "–", "num"],
      ["mode", (r) => r.mode],
      ["account", (r) => r.accountId],
      ["status", (r) => r.status],
      ["state", (r) => el("span", { class: `state-${r.tradingState}` }, r.tradingState)],
      ["last bar", (r) => when(r.lastBar)],
      ["started", (r) => when(r.startedAt)],
    ],
    rows,
    "no trading runs: deno task trade --broker paper",
  );
}

function liveTrading(t) {
  if (!t.run) {
    return [
      section(
        "Trading",
        el("p", { class: "muted" }, "no trading runs: deno task trade --broker paper"),
      ),
    ];
  }
  const r = t.run;
  const a = t.account;
  const others = t.runs.filter((x) => x.id !== r.id);
  return [
    others.length
      ? el(
        "p",
        { class: "muted" },
        "Other trading runs: ",
        others.map((x) => [link(`/live?run=${x.id}`, `${x.id} (${x.mode}, ${x.status})`), " "]),
      )
      : null,
    section(
      `Trading run ${r.id} (${r.mode}${r.dryRun ? ", dry run" : ""}, ${r.accountId})`,
      el(
        "p",
        {},
        "State: ",
        el("span", { class: `state-${r.tradingState}`, id: "trading-state" }, r.tradingState),
        r.stateReason ? ` — ${r.stateReason}` : "",
        ` · status ${r.status} · last bar ${when(r.lastBar)}`,
      ),
      a
        ? table([
          ["net liquidation", (x) => num(x.netLiquidation), "num"],
          ["cash", (x) => num(x.cash), "num"],
          ["positions", (x) => num(x.grossPositionValue), "num"],
          ["P&L", (x) => num(x.pnl), "num"],
          ["unrealised", (x) => num(x.unrealizedPnl), "num"],
          ["realised", (x) => num(x.realizedPnl), "num"],
          ["commission", (x) => num(x.commission), "num"],
          ["bar", (x) => when(x.bar)],
        ], [a])
        : el("p", { class: "muted" }, "no account snapshot yet"),
    ),
    section(
      "Positions",
      table(
        [
          ["symbol", (p) => p.symbol],
          ["quantity", (p) => num(p.quantity, 4), "num"],
          ["avg cost", (p) => num(p.avgCost), "num"],
          ["price", (p) => num(p.marketPrice), "num"],
          ["value", (p) => num(p.marketValue), "num"],
          ["unrealised", (p) => num(p.unrealizedPnl), "num"],
          ["P&L", (p) => num(p.pnl), "num"],
        ],
        t.positions,
        "flat",
      ),
    ),
    section(
      "Open orders",
      table(
        [
          ["ref", (o) => o.ref],
          ["symbol", (o) => o.symbol],
          ["side", (o) => o.side],
          ["quantity", (o) => num(o.quantity, 4), "num"],
          ["filled", (o) => num(o.filled, 4), "num"],
          ["type", (o) => o.type],
          ["status", (o) => o.status],
        ],
        t.openOrders,
        "no open orders",
      ),
    ),
    section(
      "Fills",
      el(
        "div",
        { id: "fills", "data-count": t.fillCount },
        table(
          [
            ["time", (f) => when(f.time)],
            ["symbol", (f) => f.symbol],
            ["side", (f) => f.side],
            ["quantity", (f) => num(f.quantity, 4), "num"],
            ["price", (f) => num(f.price), "num"],
            ["commission", (f) => num(f.commission, 4), "num"],
            ["exec id", (f) => f.execId],
          ],
          t.fills,
          "no fills",
        ),
      ),
    ),
    section(
      "Risk decisions",
      table(
        [
          ["bar", (x) => when(x.bar)],
          ["symbol", (x) => x.symbol],
          ["allowed", (x) => (x.allowed ? "yes" : "BLOCKED")],
          ["rule", (x) => x.rule ?? "–"],
          ["reason", (x) => x.reason],
          ["state", (x) => x.tradingState],
        ],
        t.riskDecisions,
        "no risk decisions",
      ),
    ),
  ];
}

// ---- boot --------------------------------------------------------------------------

async function render(page, data) {
  await PAGES[page](data);
  state.renders++;
  state.lastUpdate = new Date().toISOString();
  document.body.dataset.renders = String(state.renders);
}

async function boot() {
  const page = app.dataset.page;
  const api = app.dataset.api + (page === "live" ? location.search : "");
  fetch("/api/health").then((r) => r.json()).then((h) => {
    if (h.store) document.getElementById("store").textContent = h.store;
  }).catch(() => {});
  try {
    await render(page, await getJson(api));
  } catch (e) {
    app.replaceChildren(el("h1", {}, "Cannot show this page"), el("p", { id: "error" }, e.message));
    return;
  }
  if (page === "live") {
    const source = new EventSource(`/api/live/stream${location.search}`);
    source.addEventListener("live", (ev) => {
      render("live", JSON.parse(ev.data)).catch((e) =>
        showAlerts([{ level: "danger", text: e.message }], null)
      );
    });
    source.addEventListener(
      "busy",
      (ev) => showAlerts([], `${JSON.parse(ev.data).error} — retrying`),
    );
    source.addEventListener(
      "failure",
      (ev) => showAlerts([{ level: "danger", text: JSON.parse(ev.data).error }], null),
    );
  }
}

boot();
