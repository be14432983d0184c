import assert from "node:assert/strict";
import { ManualClock } from "@lib/data/ibkr/clock.ts";
import {
  IB_HISTORICAL_PACING,
  type PacingKey,
  PacingLimiter,
  type PacingRules,
  smallBarRulesApply,
} from "@lib/data/ibkr/pacing.ts";
import { Rng } from "@lib/util/rng.ts";

const EXACT: Partial<PacingRules> = { marginMs: 0 };

function key(request: string, contract = request): PacingKey {
  return { request, contract };
}

/** Starts `acquire` and records when it resolves (clock time). */
function track(limiter: PacingLimiter, clock: ManualClock, k: PacingKey) {
  const out: { at?: number; release?: () => void; waited?: number } = {};
  const p = limiter.acquire(k).then((permit) => {
    out.at = clock.now();
    out.release = permit.release;
    out.waited = permit.waitedMs;
  });
  return Object.assign(out, { done: p });
}

async function runAll(clock: ManualClock, until: () => boolean, maxSteps = 100_000) {
  for (let i = 0; i < maxSteps && !until(); i++) {
    if (!(await clock.runNext())) break;
  }
}

Deno.test("PacingLimiter.acquire() grants 60 distinct requests at once and the 61st exactly 10 minutes later", async () => {
  const clock = new ManualClock(1_000_000);
  const limiter = new PacingLimiter({ clock, rules: EXACT });
  const first = [];
  for (let i = 0; i < 60; i++) {
    const p = await limiter.acquire(key(`r${i}`));
    first.push(p);
    p.release();
  }
  assert.ok(first.every((p) => p.startedAt === 1_000_000 && p.waitedMs === 0));
  const t = track(limiter, clock, key("r60"));
  await clock.advance(599_999);
  assert.equal(t.at, undefined, "61st must not start before the window passes");
  await clock.advance(1);
  await t.done;
  assert.equal(t.at, 1_600_000);
  assert.equal(t.waited, 600_000);
  assert.deepEqual({ ...limiter.stats, open: 0 }, {
    granted: 61,
    waits: 1,
    waitMs: 600_000,
    open: 0,
  });
});

Deno.test("PacingLimiter.acquire() holds an identical request 15 s (+ margin) and lets others pass meanwhile", async () => {
  const clock = new ManualClock(0);
  const limiter = new PacingLimiter({ clock, rules: { marginMs: 500 } });
  (await limiter.acquire(key("AAPL|1 Y", "AAPL"))).release();
  const same = track(limiter, clock, key("AAPL|1 Y", "AAPL"));
  const other = track(limiter, clock, key("MSFT|1 Y", "MSFT"));
  await clock.advance(0);
  assert.equal(other.at, 0, "a different request is not blocked behind the identical one");
  await runAll(clock, () => same.at !== undefined);
  assert.equal(same.at, 15_500);
});

Deno.test("PacingLimiter.acquire() allows 6 requests per contract in 2 s, the 7th at 2 s", async () => {
  const clock = new ManualClock(0);
  const limiter = new PacingLimiter({ clock, rules: EXACT });
  const ts: ReturnType<typeof track>[] = [];
  for (let i = 0; i < 8; i++) {
    ts.push(track(limiter, clock, key(`AAPL chunk ${i}`, "AAPL@SMART/TRADES")));
  }
  const msft = track(limiter, clock, key("MSFT", "MSFT@SMART/TRADES"));
  await runAll(clock, () => ts.every((t) => t.at !== undefined));
  assert.deepEqual(ts.map((t) => t.at), [0, 0, 0, 0, 0, 0, 2000, 2000]);
  assert.equal(msft.at, 0);
});

Deno.test("PacingLimiter.acquire() keeps at most 50 open and grants the 51st at the first release", async () => {
  const clock = new ManualClock(0);
  const limiter = new PacingLimiter({ clock, rules: EXACT });
  const permits = [];
  for (let i = 0; i < 50; i++) permits.push(await limiter.acquire(key(`r${i}`)));
  assert.equal(limiter.stats.open, 50);
  const t = track(limiter, clock, key("r50"));
  await clock.advance(30_000);
  assert.equal(t.at, undefined);
  permits[7].release();
  permits[7].release(); // idempotent
  await clock.advance(0);
  await t.done;
  assert.equal(t.at, 30_000);
  assert.equal(limiter.stats.open, 50);
});

Deno.test("PacingLimiter.pause() holds every start until the pause ends", async () => {
  const clock = new ManualClock(0);
  const limiter = new PacingLimiter({ clock, rules: EXACT });
  limiter.pause(20_000);
  limiter.pause(5_000); // never shortens
  const t = track(limiter, clock, key("x"));
  await runAll(clock, () => t.at !== undefined);
  assert.equal(t.at, 20_000);
});

Deno.test("PacingLimiter.restore() makes earlier requests (another process) count for every rule", async () => {
  const clock = new ManualClock(1_000_000);
  const limiter = new PacingLimiter({ clock, rules: EXACT });
  // 60 requests 100 s ago, the last of them identical to the next one.
  limiter.restore(
    Array.from({ length: 60 }, (_, i) => ({ at: 900_000 + i, key: key(`old${i}`, "SPY") }))
      .reverse(),
  );
  assert.equal(limiter.stats.granted, 0);
  assert.equal(limiter.earliestStart(key("old59", "SPY")), 900_000 + 600_000);
  const fresh = new PacingLimiter({ clock, rules: EXACT });
  fresh.restore([{ at: 995_000, key: key("AAPL|1 Y", "AAPL") }]);
  assert.equal(fresh.earliestStart(key("AAPL|1 Y", "AAPL")), 995_000 + 15_000, "identical rule");
  fresh.restore(
    Array.from({ length: 5 }, (_, i) => ({ at: 999_000 + i, key: key(`c${i}`, "AAPL") })),
  );
  assert.equal(
    fresh.earliestStart(key("c9", "AAPL")),
    995_000 + 2_000,
    "burst rule: 6 AAPL requests known",
  );
  const t = track(limiter, clock, key("new", "AAPL"));
  await runAll(clock, () => t.at !== undefined);
  assert.equal(t.at, 900_000 + 600_000, "the window counts the restored requests");
});

Deno.test("smallBarRulesApply(): IB's small-bar rules cover bars of 30 secs or less (and unknown sizes)", () => {
  for (const b of ["1 secs", "5 secs", "10 secs", "15 secs", "30 secs", undefined, "2 days"]) {
    assert.equal(smallBarRulesApply(b), true, String(b));
  }
  for (
    const b of ["1 min", "5 mins", "30 mins", "1 hour", "8 hours", "1 day", "1 week", "1 month"]
  ) {
    assert.equal(smallBarRulesApply(b), false, b);
  }
});

Deno.test("PacingLimiter: 1-minute and larger bars skip the 60/10 min, identical and burst rules", async () => {
  const clock = new ManualClock(1_000_000);
  const limiter = new PacingLimiter({ clock, rules: { marginMs: 1_000 } });
  for (const barSize of ["1 min", "1 hour", "1 day"]) {
    // 120 distinct requests, 10 identical ones and 10 on one contract, all at one instant.
    for (let i = 0; i < 120; i++) {
      (await limiter.acquire({ request: `${barSize}|r${i}`, contract: `C${i}`, barSize }))
        .release();
    }
    for (let i = 0; i < 10; i++) {
      (await limiter.acquire({ request: `${barSize}|same`, contract: "AAPL", barSize })).release();
    }
  }
  assert.equal(clock.now(), 1_000_000);
  assert.deepEqual(limiter.stats, { granted: 390, waits: 0, waitMs: 0, open: 0 });
});

Deno.test("PacingLimiter: a 50-symbol daily run then an hourly run do not wait; 30 secs bars still do", async () => {
  const clock = new ManualClock(5_000_000);
  const limiter = new PacingLimiter({ clock });
  const run = async (barSize: string) => {
    const waited: number[] = [];
    for (let i = 0; i < 50; i++) {
      const contract = `S${i}@SMART/TRADES`;
      for (const what of ["HEAD", "HIST"]) {
        const permit = await limiter.acquire({
          request: `S${i}|${what}|${barSize}`,
          contract,
          barSize,
        });
        waited.push(permit.waitedMs);
        permit.release();
      }
    }
    return waited;
  };
  assert.ok((await run("1 day")).every((w) => w === 0));
  assert.ok((await run("1 hour")).every((w) => w === 0));
  assert.equal(clock.now(), 5_000_000, "no clock time passed: 200 requests, no pacing wait");
  // Small bars: the 200 starts above count (safe reading), so the window is full.
  const small = track(limiter, clock, {
    request: "S0|HIST|30 secs",
    contract: "S0",
    barSize: "30 secs",
  });
  await runAll(clock, () => small.at !== undefined);
  assert.equal(small.at, 5_000_000 + 600_000 + 1_000);
});

Deno.test("PacingLimiter: 30 secs bars keep every small-bar rule (window, identical, burst)", async () => {
  const clock = new ManualClock(0);
  const limiter = new PacingLimiter({ clock, rules: EXACT });
  const k = (request: string, contract = request) => ({ request, contract, barSize: "30 secs" });
  for (let i = 0; i < 60; i++) (await limiter.acquire(k(`r${i}`))).release();
  const sixtyFirst = track(limiter, clock, k("r60"));
  await runAll(clock, () => sixtyFirst.at !== undefined);
  assert.equal(sixtyFirst.at, 600_000);
  sixtyFirst.release!();
  const fresh = new PacingLimiter({ clock, rules: EXACT });
  const t0 = clock.now();
  (await fresh.acquire(k("AAPL|1 D", "AAPL"))).release();
  assert.equal(fresh.earliestStart(k("AAPL|1 D", "AAPL")), t0 + 15_000, "identical rule");
  for (let i = 0; i < 5; i++) (await fresh.acquire(k(`AAPL|${i}`, "AAPL"))).release();
  assert.equal(fresh.earliestStart(k("AAPL|9", "AAPL")), t0 + 2_000, "burst rule");
  assert.equal(fresh.earliestStart({ ...k("AAPL|9", "AAPL"), barSize: "1 min" }), -Infinity);
});

Deno.test("PacingLimiter: large bars still respect the 50-open cap and a pause", async () => {
  const clock = new ManualClock(0);
  const limiter = new PacingLimiter({ clock, rules: EXACT });
  const k = (i: number) => ({ request: `r${i}`, contract: `c${i}`, barSize: "1 day" });
  const permits = [];
  for (let i = 0; i < 50; i++) permits.push(await limiter.acquire(k(i)));
  const fiftyFirst = track(limiter, clock, k(50));
  await clock.advance(10_000);
  assert.equal(fiftyFirst.at, undefined, "the 51st open request waits");
  permits[0].release();
  await clock.advance(0);
  await fiftyFirst.done;
  assert.equal(fiftyFirst.at, 10_000);
  limiter.pause(30_000);
  const paused = track(limiter, clock, k(99));
  permits[1].release();
  await runAll(clock, () => paused.at !== undefined);
  assert.equal(paused.at, 40_000, "a pause after 162 holds large-bar requests too");
});

Deno.test("PacingLimiter rejects nonsensical rules with a RangeError", () => {
  assert.throws(() => new PacingLimiter({ rules: { maxInWindow: 0 } }), RangeError);
  assert.throws(() => new PacingLimiter({ rules: { windowMs: -1 } }), RangeError);
});

/** Replays a random schedule and checks every rule over every window of the granted starts. */
async function replayRandomSchedule(seed: number, rules: Partial<PacingRules>) {
  const rng = new Rng(seed);
  const clock = new ManualClock(0);
  const limiter = new PacingLimiter({ clock, rules });
  const r = limiter.rules;
  const n = 260;
  const contracts = ["AAPL", "MSFT", "SPY", "NVDA", "IBM"];
  const grants: { at: number; k: PacingKey }[] = [];
  const events: { t: number; d: number }[] = [];
  let finished = 0;
  let maxOpenSeen = 0;
  let open = 0;
  const jobs = [];
  for (let i = 0; i < n; i++) {
    const arrival = rng.integer(0, 1_800_000);
    const c = contracts[rng.integer(0, contracts.length - 1)];
    // Few distinct requests per contract, so identical requests really collide.
    const k = key(`${c}|chunk${rng.integer(0, 3)}`, `${c}@SMART/TRADES`);
    const hold = rng.uniform() < 0.2 ? rng.integer(60_000, 400_000) : rng.integer(0, 5_000);
    jobs.push((async () => {
      await clock.sleep(arrival);
      const permit = await limiter.acquire(k);
      assert.equal(permit.startedAt, clock.now());
      grants.push({ at: permit.startedAt, k });
      open++;
      maxOpenSeen = Math.max(maxOpenSeen, open);
      events.push({ t: clock.now(), d: +1 });
      await clock.sleep(hold);
      open--;
      events.push({ t: clock.now(), d: -1 });
      permit.release();
      finished++;
    })());
  }
  await runAll(clock, () => finished === n, 1_000_000);
  await Promise.all(jobs);
  assert.equal(finished, n, "every request is eventually granted");
  const m = r.marginMs;
  const starts = grants.map((g) => g.at);
  for (let i = 1; i < starts.length; i++) {
    assert.ok(starts[i] >= starts[i - 1], "grants in clock order");
  }
  for (let i = 0; i + r.maxInWindow < starts.length; i++) {
    assert.ok(
      starts[i + r.maxInWindow] - starts[i] >= r.windowMs + m,
      `window rule broken at grant ${i}: ${starts[i]} .. ${starts[i + r.maxInWindow]}`,
    );
  }
  const byReq = new Map<string, number>();
  const byContract = new Map<string, number[]>();
  for (const g of grants) {
    const prev = byReq.get(g.k.request);
    if (prev !== undefined) {
      assert.ok(
        g.at - prev >= r.identicalMs + m,
        `identical ${g.k.request} at ${prev} and ${g.at}`,
      );
    }
    byReq.set(g.k.request, g.at);
    const list = byContract.get(g.k.contract) ?? [];
    list.push(g.at);
    byContract.set(g.k.contract, list);
  }
  for (const [c, list] of byContract) {
    for (let j = 0; j + r.maxBurst < list.length; j++) {
      assert.ok(
        list[j + r.maxBurst] - list[j] >= r.burstMs + m,
        `burst rule broken for ${c} at ${list[j]}`,
      );
    }
  }
  assert.ok(maxOpenSeen <= r.maxOpen, `open ${maxOpenSeen} > ${r.maxOpen}`);
  return { maxOpenSeen, last: starts[starts.length - 1], waits: limiter.stats.waits };
}

Deno.test("PacingLimiter property: random schedules never break any of the four rules (IB rules)", async () => {
  for (const seed of [1, 2, 3]) {
    const res = await replayRandomSchedule(seed, {});
    assert.ok(res.waits > 0, "the schedule is dense enough to force waits");
  }
});

Deno.test("PacingLimiter property: tight rules (small windows, few open) are never broken", async () => {
  const res = await replayRandomSchedule(7, {
    maxInWindow: 10,
    windowMs: 60_000,
    maxOpen: 3,
    maxBurst: 2,
    marginMs: 250,
  });
  assert.equal(res.maxOpenSeen, 3, "the open limit is reached and held");
});

Deno.test("IB_HISTORICAL_PACING states IB's published numbers", () => {
  assert.deepEqual(
    { ...IB_HISTORICAL_PACING },
    {
      windowMs: 600_000,
      maxInWindow: 60,
      identicalMs: 15_000,
      burstMs: 2_000,
      maxBurst: 6,
      maxOpen: 50,
      marginMs: 1_000,
    },
  );
});

Deno.test("PacingLimiter.acquire() counts no wait when the clock merely ticks between two reads (a loaded machine)", async () => {
  let t = 5_000_000;
  // Every read of the clock moves it 1 ms on, as a busy machine's Date.now() can.
  const ticking = { now: () => t++, sleep: (ms: number) => Promise.resolve(void (t += ms)) };
  const limiter = new PacingLimiter({ clock: ticking });
  for (let i = 0; i < 10; i++) {
    const p = await limiter.acquire({ request: `R${i}`, contract: `C${i}`, barSize: "1 day" });
    assert.equal(p.waitedMs, 0, `permit ${i} did not wait`);
    p.release();
  }
  assert.equal(limiter.stats.waits, 0);
});
