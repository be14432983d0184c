/**
 * The dashboard in a real browser: Debian's chromium driven by playwright-core loads each
 * page, waits for the charts' marks, checks the console stays clean, saves a screenshot
 * under `data/reports/dashboard/`, and watches the live page update when the store changes.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { openStore, startTrainRun, updateTradingRun } from "@lib/db/mod.ts";
import { startDashboard, storeAccessFrom } from "@lib/server/mod.ts";
import { dataDir } from "@lib/util/mod.ts";
import {
  appendFill,
  appendTrainRow,
  seedDashboardStore,
  seedSweep,
} from "./support/dashboard_seed.ts";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);
if (!haveChromium) console.log(`skip: ${CHROMIUM} not installed (apt-get install chromium)`);

Deno.test({
  name: "dashboard pages draw their charts in chromium without console errors; live page updates",
  ignore: !haveChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const store = await openStore({ dataDir: "memory://" });
    const seed = await seedDashboardStore(store);
    const sweep = await seedSweep(store);
    const dash = await startDashboard({
      access: storeAccessFrom(store),
      port: 0,
      liveIntervalMs: 300,
    });
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    });
    const shots = join(dataDir(), "reports", "dashboard");
    await Deno.mkdir(shots, { recursive: true });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(`console: ${m.text()}`);
      });
      page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
      page.on("response", (r) => {
        if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${r.url()}`);
      });
      const pages: [string, string, number][] = [
        ["overview", "/", 0],
        ["evaluation", `/evaluation/${seed.evalEpisodeId}`, 5],
        ["risk", `/risk/${seed.evalEpisodeId}`, 2],
        ["data", "/data", 1],
        ["live", "/live", 2],
        ["sweeps", "/sweeps", 0],
        ["sweep", `/sweeps/${sweep.sweepId}`, 0],
      ];
      for (const [name, path, charts] of pages) {
        await page.goto(dash.url + path);
        await page.waitForSelector("body[data-renders]", { timeout: 20_000 });
        assert.equal(await page.locator("#error").count(), 0, `${name}: error shown`);
        for (let i = 0; i < charts; i++) {
          // A chart is drawn when its SVG holds marks (paths, rects, lines).
          await page.waitForFunction(
            (k) => {
              const svgs = document.querySelectorAll(".chart svg");
              return svgs.length > k &&
                  svgs[k].querySelectorAll(
                      "g.mark-line path, g.mark-area path, g.mark-rect path, " +
                        "g.mark-rect rect, g.mark-bar path, path.mark-line, .mark-rect path, .mark-area path",
                    )
                      .length > 0 ||
                (svgs.length > k && svgs[k].querySelectorAll("path").length > 3);
            },
            i,
            { timeout: 20_000 },
          );
        }
        assert.equal(await page.locator(".chart").count(), charts, `${name}: charts`);
        await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
        assert.deepEqual(errors, [], `${name}: ${errors.join("; ")}`);
      }
      // Overview lists the model with its alias and links the evaluation and the Sweeps page.
      await page.goto(dash.url + "/");
      await page.waitForSelector("body[data-renders]");
      const text = await page.locator("main").innerText();
      assert.match(text, /ppo-dash@v1/);
      assert.match(text, /champion/);
      // Sweeps: Overview → Sweeps → the sweep: its leaderboard and jobs tables.
      await page.click('main a[href="/sweeps"]');
      await page.waitForSelector('#sweeps[data-count="1"] table');
      await page.click(`#sweeps a[href="/sweeps/${sweep.sweepId}"]`);
      await page.waitForSelector('#leaderboard[data-count="2"] table');
      assert.equal(await page.locator("#sweep-jobs tbody tr").count(), 4);
      assert.match(await page.locator("#leaderboard tbody tr").first().innerText(), /lr=0\.001/);
      assert.match(
        await page.locator("#selection").innerText(),
        /2 configurations tried.*deflated Sharpe ratio/s,
      );
      assert.deepEqual(errors, [], errors.join("; "));
      // Live: drift flagged → a visible alert.
      await page.goto(dash.url + "/live");
      await page.waitForSelector("body[data-renders]");
      await page.waitForSelector("#alerts .warning", { timeout: 10_000 });
      assert.match(await page.locator("#alerts").innerText(), /feature drift flagged/);
      // Live: the paper book is shown; a new fill appears without a reload.
      assert.match(await page.locator("main").innerText(), /PAPER-1/);
      assert.equal(await page.locator("#fills").getAttribute("data-count"), "1");
      await appendFill(store, seed.tradingRunId, 1);
      await page.waitForSelector('#fills[data-count="2"]', { timeout: 10_000 });
      assert.match(await page.locator("#fills").innerText(), /e-1/);
      // Live: a reducing run raises a visible alert.
      await updateTradingRun(store, seed.tradingRunId, {
        tradingState: "reducing",
        stateReason: "drawdown 12% ≥ 10%",
      });
      await page.waitForSelector("#alerts .warning >> text=REDUCING", { timeout: 10_000 });
      assert.equal(await page.locator("#trading-state").innerText(), "reducing");
      // Live: a new training run with a metrics row appears without a reload.
      const before = Number(await page.locator("body").getAttribute("data-renders"));
      const runId = await startTrainRun(store, { steps: 1024, data: { instruments: ["AAA"] } });
      await appendTrainRow(store, runId, 0);
      await page.waitForFunction(
        (n) => Number(document.body.dataset.renders) > n,
        before,
        { timeout: 10_000 },
      );
      await page.waitForFunction(
        (id) =>
          document.querySelector("main")!.textContent!.includes("running") &&
          [...document.querySelectorAll("td")].some((td) => td.textContent === String(id)),
        runId,
        { timeout: 10_000 },
      );
      await page.screenshot({ path: join(shots, "live-updated.png"), fullPage: true });
      assert.deepEqual(errors, [], errors.join("; "));
    } finally {
      await browser.close();
      await dash.close();
      await store.close();
    }
  },
});
