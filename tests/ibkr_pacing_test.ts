import assert from "node:assert/strict";
import { ManualClock } from "@lib/data/ibkr/clock.ts";
import {
  IB_HISTORICAL_PACING,
  type PacingKey,
  PacingLimiter,
  type PacingRules,
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
