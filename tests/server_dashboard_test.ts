/**
 * The dashboard's endpoints against embedded PGlite (a directory on disk, opened per
 * request) and the PostgreSQL server (`TEST_DATABASE_URL`); the bind and token rules; the
 * store-sharing design (503 while a task holds the store, tasks wait for the dashboard's
 * brief lock); no password in any answer.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { openStore, type Store, storeLockPath } from "@lib/db/mod.ts";
import {
  constantTimeEqual,
  type Dashboard,
  interactive,
  isLoopback,
  requiredToken,
  startDashboard,
} from "@lib/server/mod.ts";
import { equityChart } from "@lib/viz/mod.ts";
import { seedDashboardStore, seedSweep } from "./support/dashboard_seed.ts";
import { createTempDatabase, SERVER_SKIP_REASON, TEST_DATABASE_URL } from "./support/stores.ts";

const TOKEN = "0123456789abcdef-token";

async function getJson(dash: Dashboard, path: string, init?: RequestInit) {
  const res = await fetch(dash.url + path, init);
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text), text, headers: res.headers };
}

/** Every endpoint answers with what the seed wrote. */
async function checkEndpoints(
  dash: Dashboard,
  seed: Awaited<ReturnType<typeof seedDashboardStore>>,
) {
  const health = await getJson(dash, "/api/health");
  assert.equal(health.status, 200);
  const overview = await getJson(dash, "/api/overview");
  assert.equal(overview.status, 200);
  assert.deepEqual(overview.body.models.map((m: { aliases: string[] }) => m.aliases), [[
    "champion",
  ]]);
  assert.equal(overview.body.evaluations[0].episodeId, seed.evalEpisodeId);
  assert.match(overview.body.evaluations[0].verdict, /Undecided/);
  assert.equal(overview.body.training[0].progress, 1);
  assert.equal(overview.body.trading[0].accountId, "PAPER-1");

  const ev = await getJson(dash, `/api/evaluation/${seed.evalEpisodeId}`);
  assert.equal(ev.status, 200);
  assert.deepEqual(ev.body.verdict.sharpeDifference, {
    estimate: -0.2,
    lower: -1.1,
    upper: 0.7,
    confidence: 0.95,
  });
  const ids = ev.body.charts.map((c: { id: string }) => c.id);
  assert.deepEqual(ids, ["equity", "drawdown", "rolling-sharpe", "weights", "training"]);
  // Equity against every baseline: the strategy, the logged benchmark and the other four.
  const equity = ev.body.charts[0].spec;
  assert.equal(equity.encoding.color.scale.domain.length, 6);
  assert.ok(equity.params?.some((p: { bind: string }) => p.bind === "scales"), "time zoom");

  const model = await getJson(dash, `/api/model/${seed.modelId}`);
  assert.equal(model.body.episodeId, seed.evalEpisodeId);

  const risk = await getJson(dash, `/api/risk/${seed.evalEpisodeId}`);
  assert.equal(risk.status, 200);
  assert.deepEqual(risk.body.rows.map((r: { instrument: string }) => r.instrument), ["AAA", "BBB"]);
  const volSum = risk.body.rows.reduce(
    (s: number, r: { volatilityContribution: number }) => s + r.volatilityContribution,
    0,
  );
  assert.ok(Math.abs(volSum - risk.body.portfolioVolatility) < 1e-9);
  assert.ok(risk.body.rows[0].meanWeight > 0.59 && risk.body.rows[0].meanWeight < 0.61);

  const data = await getJson(dash, "/api/data");
  assert.equal(
    data.body.coverage.find((c: { instrument: string }) => c.instrument === "BBB").missing,
    1,
  );
  assert.equal(data.body.charts[0].id, "quality");

  const live = await getJson(dash, "/api/live");
  assert.equal(live.body.trading.run.id, seed.tradingRunId);
  assert.equal(live.body.trading.fillCount, 1);
  assert.equal(live.body.trading.openOrders.length, 1);
  assert.equal(live.body.trading.positions[0].symbol, "AAA");
  assert.ok(live.body.alerts.some((a: { text: string }) => /drift flagged/.test(a.text)));

  assert.equal((await getJson(dash, "/api/evaluation/9999")).status, 404);
  assert.equal((await getJson(dash, "/api/live?run=9999")).status, 404);
  assert.equal((await getJson(dash, "/api/nothing")).status, 404);
  const post = await fetch(dash.url + "/api/overview", { method: "POST" });
  await post.body?.cancel();
  assert.equal(post.status, 405, "read-only");
  for (const path of ["/", `/evaluation/${seed.evalEpisodeId}`, "/live", "/data"]) {
    const res = await fetch(dash.url + path);
    assert.equal(res.status, 200, path);
    assert.match(await res.text(), /<script src="\/assets\/vega-embed.min.js">/);
  }
  const asset = await fetch(dash.url + "/assets/vega-embed.min.js");
  assert.match(await asset.text(), /vegaEmbed/);
}

/** The Sweeps endpoints answer with the sweep {@linkcode seedSweep} wrote. */
async function checkSweepEndpoints(dash: Dashboard, sweep: { sweepId: number; keys: string[] }) {
  const list = await getJson(dash, "/api/sweeps");
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.sweeps.map((s: { id: number }) => s.id), [sweep.sweepId]);
  assert.deepEqual(list.body.sweeps[0].progress, { total: 4, completed: 3, failed: 1 });
  const one = await getJson(dash, `/api/sweeps/${sweep.sweepId}`);
  assert.equal(one.status, 200);
  assert.deepEqual(one.body.jobs.map((j: { key: string }) => j.key), sweep.keys);
  assert.deepEqual(one.body.jobs.map((j: { state: string }) => j.state), [
    "completed",
    "completed",
    "completed",
    "failed",
  ]);
  assert.match(one.body.jobs[3].error, /NOPE/);
  const board = one.body.leaderboard;
  assert.equal(board.configurations, 2);
  // Ranked by the median over seeds: lr=0.001 (one seed, 1.2) above lr=0.0003 (0.4, 0.6 → 0.5).
  assert.deepEqual(board.rows.map((r: { settingKey: string }) => r.settingKey), [
    "lr=0.001",
    "lr=0.0003",
  ]);
  assert.ok(Math.abs(board.rows[1].median - 0.5) < 1e-9);
  assert.equal(board.winner.trials, 2);
  assert.ok(board.winner.deflatedSharpe > 0 && board.winner.deflatedSharpe < 1);
  assert.match(board.note, /2 configurations tried/);
  assert.equal((await getJson(dash, "/api/sweeps/9999")).status, 404);
  for (const path of ["/sweeps", `/sweeps/${sweep.sweepId}`]) {
    const res = await fetch(dash.url + path);
    assert.equal(res.status, 200, path);
    assert.match(await res.text(), /data-page="sweep/);
  }
}

Deno.test("dashboard endpoints on embedded PGlite: per-request opens, the lock is free between requests", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tt_dash_" });
  const pgdata = join(dir, "pgdata");
  try {
    const store = await openStore({ url: "", dataDir: pgdata });
    const seed = await seedDashboardStore(store);
    const sweep = await seedSweep(store);
    await store.close();
    const dash = await startDashboard({ url: "", dataDir: pgdata, port: 0, holdMs: 50 });
    try {
      await checkEndpoints(dash, seed);
      await checkSweepEndpoints(dash, sweep);
      await new Promise((r) => setTimeout(r, 300));
      const free = await Deno.stat(storeLockPath(pgdata)).then(() => false, () => true);
      assert.ok(free, "the dashboard let go of the store between requests");
      // A task can open the store while the dashboard serves.
      const task = await openStore({ url: "", dataDir: pgdata, migrate: false });
      const busy = await getJson(dash, "/api/overview");
      assert.equal(busy.status, 503);
      assert.match(busy.body.error, new RegExp(`in use by PID ${Deno.pid}`));
      assert.equal(busy.headers.get("retry-after"), "5");
      await task.close();
      assert.equal((await getJson(dash, "/api/overview")).status, 200, "served again");
    } finally {
      await dash.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a task opening the store waits for the dashboard's brief lock instead of failing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tt_dash_" });
  const pgdata = join(dir, "pgdata");
  try {
    const store = await openStore({ url: "", dataDir: pgdata });
    await seedDashboardStore(store);
    await store.close();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "tasks/dashboard.ts", "--port", "0", "--json"],
      env: { TT_DATA_DIR: dir, DATABASE_URL: "" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let line = "";
    while (!line.includes("\n")) line += (await reader.read()).value ?? "";
    const { url } = JSON.parse(line);
    let stop = false;
    try {
      // Keep the dashboard busy with requests while a "task" opens the store.
      const hammer = (async () => {
        while (!stop) {
          await fetch(`${url}/api/overview`).then((r) => r.body?.cancel(), () => undefined);
        }
      })();
      await new Promise((r) => setTimeout(r, 400));
      const task = await openStore({ url: "", dataDir: pgdata, migrate: false });
      const rows = await task.query<{ n: number }>("SELECT count(*)::int8 AS n FROM tt_models");
      assert.equal(rows[0].n, 1);
      const busy = await fetch(`${url}/api/overview`);
      assert.equal(busy.status, 503, "the dashboard yields while the task holds the store");
      await busy.body?.cancel();
      await task.close();
      stop = true;
      await hammer.catch(() => undefined);
    } finally {
      stop = true;
      child.kill("SIGTERM");
      await reader.cancel();
      await child.stderr.cancel();
      await child.status;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "dashboard endpoints on the PostgreSQL server; the URL's password appears nowhere",
  ignore: !TEST_DATABASE_URL,
  async fn() {
    const tmp = await createTempDatabase();
    let store: Store | undefined;
    try {
      store = await openStore({ url: tmp.url });
      const seed = await seedDashboardStore(store);
      const sweep = await seedSweep(store);
      const u = new URL(tmp.url);
      u.password = "s3cr3t-pw";
      // The server ignores a password it does not need (trust auth); the dashboard must hide it.
      const dash = await startDashboard({ url: u.toString(), port: 0 });
      try {
        await checkEndpoints(dash, seed);
        await checkSweepEndpoints(dash, sweep);
        for (
          const path of [
            "/api/health",
            "/api/overview",
            "/api/live",
            `/api/evaluation/${seed.evalEpisodeId}`,
          ]
        ) {
          const { text } = await getJson(dash, path);
          assert.ok(!text.includes("s3cr3t-pw"), `${path} shows the password`);
        }
        assert.match((await getJson(dash, "/api/health")).body.store, /PostgreSQL/);
      } finally {
        await dash.close();
      }
    } finally {
      await store?.close();
      await tmp.drop();
    }
  },
});
if (!TEST_DATABASE_URL) console.log(`skip: ${SERVER_SKIP_REASON}`);

Deno.test("a non-loopback bind without a token is refused; with one every request needs it", async () => {
  assert.ok(isLoopback("127.0.0.1") && isLoopback("::1") && isLoopback("localhost"));
  assert.ok(!isLoopback("0.0.0.0") && !isLoopback("192.168.1.5"));
  assert.equal(requiredToken("127.0.0.1", undefined), null);
  assert.throws(() => requiredToken("0.0.0.0", undefined), /needs a token/);
  assert.throws(() => requiredToken("0.0.0.0", "short"), /at least 16/);
  await assert.rejects(
    () => startDashboard({ host: "0.0.0.0", port: 0, url: "", dataDir: "/nonexistent", token: "" }),
    /needs a token/,
  );
  const cli = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tasks/dashboard.ts", "--host", "0.0.0.0", "--port", "0"],
    env: { TT_DASHBOARD_TOKEN: "" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(cli.code, 1);
  assert.match(new TextDecoder().decode(cli.stderr), /needs a token/);

  const store = await openStore({ dataDir: "memory://" });
  const { storeAccessFrom } = await import("@lib/server/mod.ts");
  const dash = await startDashboard({
    host: "0.0.0.0",
    port: 0,
    token: TOKEN,
    access: storeAccessFrom(store),
  });
  const base = `http://127.0.0.1:${dash.port}`;
  try {
    for (const path of ["/api/overview", "/", "/assets/app.js", "/api/live/stream"]) {
      const res = await fetch(base + path);
      await res.body?.cancel();
      assert.equal(res.status, 401, path);
    }
    const wrong = await fetch(base + "/api/overview", {
      headers: { authorization: "Bearer 0123456789abcdef-tokeX" },
    });
    await wrong.body?.cancel();
    assert.equal(wrong.status, 401);
    const ok = await fetch(base + "/api/overview", {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    // A page opened with ?token= sets the cookie the page's own requests then carry.
    const page = await fetch(`${base}/?token=${TOKEN}`);
    await page.body?.cancel();
    assert.equal(page.status, 200);
    const cookie = page.headers.get("set-cookie")!.split(";")[0];
    assert.match(page.headers.get("set-cookie")!, /HttpOnly; SameSite=Strict/);
    const withCookie = await fetch(base + "/api/health", { headers: { cookie } });
    assert.equal(withCookie.status, 200);
    await withCookie.body?.cancel();
  } finally {
    await dash.close();
    await store.close();
  }
  assert.ok(constantTimeEqual("abc", "abc") && !constantTimeEqual("abc", "abd"));
  assert.ok(!constantTimeEqual("abc", "abcd") && !constantTimeEqual("", "a"));
});

Deno.test("interactive() adds tooltips and a time zoom without touching the input spec", () => {
  const spec = equityChart({ strategy: { timestamps: [0, 86_400_000], equity: [1, 1.1] } });
  const before = JSON.stringify(spec);
  const out = interactive(spec);
  assert.equal(JSON.stringify(spec), before);
  assert.deepEqual(Reflect.get(Object(out.mark), "tooltip"), true);
  assert.deepEqual(JSON.parse(JSON.stringify(out.params))[0].bind, "scales");
});
