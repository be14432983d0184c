/**
 * One owner per embedded store (issue 11, item 1): real processes on one PGlite directory.
 * The second opener is refused with the owner's PID before touching anything, a dead
 * owner's lock is taken over, `close()` releases the lock, and two ingests at once end
 * with a clean refusal or correct results, never loss.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  countPrices,
  openStore,
  readPrices,
  readStoreLock,
  StoreInUseError,
  storeLockPath,
} from "@lib/db/mod.ts";
import { PROJECT_ROOT } from "@lib/util/mod.ts";

const ENV = { DATABASE_URL: "", NO_COLOR: "1" };

/** Starts `hold_store.ts DIR [SYMBOL]` and waits for its `ready` (or its exit). */
async function hold(dir: string, symbol?: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tests/support/hold_store.ts", dir, ...(symbol ? [symbol] : [])],
    cwd: PROJECT_ROOT,
    env: ENV,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const first = await lines.read();
  return {
    child,
    ready: (first.value ?? "").includes("ready"),
    async finish() {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode("done\n")).catch(() => undefined);
      await w.close().catch(() => undefined);
      let rest = "";
      for (;;) {
        const r = await lines.read();
        if (r.done) break;
        rest += r.value;
      }
      const stderr = await new Response(child.stderr).text();
      const status = await child.status;
      return { code: status.code, stdout: (first.value ?? "") + rest, stderr };
    },
  };
}

Deno.test("a second process on one embedded store is refused with the owner's PID; the owner's data is intact", async () => {
  const root = await Deno.makeTempDir({ prefix: "tt_lock_" });
  const dir = join(root, "pgdata");
  try {
    const first = await hold(dir, "AAA");
    assert.ok(first.ready, "the first process opened the store");
    const owner = await readStoreLock(dir);
    assert.equal(owner?.pid, first.child.pid);

    const second = await hold(dir, "BBB");
    assert.equal(second.ready, false, "the second process must not open the store");
    const s = await second.finish();
    assert.equal(s.code, 1);
    assert.match(
      s.stderr,
      new RegExp(
        `is in use by PID ${first.child.pid} \\(hold_store test, since \\d\\d:\\d\\d:\\d\\d\\)`,
      ),
    );
    assert.match(s.stderr, /DATABASE_URL/);
    assert.doesNotMatch(s.stderr, /\n\s+at /, "a message, not a stack trace");

    // In this process too: refused while the first holds it.
    await assert.rejects(() => openStore({ url: "", dataDir: dir }), StoreInUseError);

    const f = await first.finish();
    assert.equal(f.code, 0, f.stderr);
    assert.equal(await readStoreLock(dir), null, "the lock is released on close");

    const store = await openStore({ url: "", dataDir: dir });
    try {
      const bars = await readPrices(store, {});
      assert.deepEqual(
        bars.instrument,
        ["AAA"],
        "the first's bar is there, the second wrote nothing",
      );
      assert.equal(bars.close[0], 1.5);
    } finally {
      await store.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a stale lock of a dead PID on this host is taken over; close() releases the lock", async () => {
  const root = await Deno.makeTempDir({ prefix: "tt_lock_" });
  const dir = join(root, "pgdata");
  try {
    // A process that has exited: its PID is no longer running.
    const dead = new Deno.Command(Deno.execPath(), { args: ["eval", "0"] }).spawn();
    await dead.status;
    await Deno.writeTextFile(
      storeLockPath(dir),
      JSON.stringify({
        pid: dead.pid,
        task: "deno task ingest",
        host: Deno.hostname(),
        startedAt: "2026-01-01T19:40:02.000Z",
      }),
    );
    const logged: string[] = [];
    const origError = console.error;
    console.error = (...a: unknown[]) => logged.push(a.join(" "));
    let store;
    try {
      store = await openStore({ url: "", dataDir: dir });
    } finally {
      console.error = origError;
    }
    assert.ok(logged.some((l) => l.includes(`left by PID ${dead.pid}`)), logged.join("\n"));
    assert.equal((await readStoreLock(dir))?.pid, Deno.pid);
    assert.equal(await countPrices(store), 0);
    await store.close();
    assert.equal(await readStoreLock(dir), null);
    // Open again after close: the lock is free.
    const again = await openStore({ url: "", dataDir: dir });
    await again.close();

    // A lock of a live process on another host is never taken over.
    await Deno.writeTextFile(
      storeLockPath(dir),
      JSON.stringify({ pid: 1, task: "deno task train", host: "elsewhere", startedAt: "x" }),
    );
    await assert.rejects(
      () => openStore({ url: "", dataDir: dir }),
      /in use by PID 1 .*on elsewhere/,
    );
    await Deno.remove(storeLockPath(dir));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("memory:// stores take no lock", async () => {
  const a = await openStore({ dataDir: "memory://" });
  const b = await openStore({ dataDir: "memory://" });
  await a.close();
  await b.close();
});

Deno.test("two `deno task ingest --source sample` at once on one TT_DATA_DIR: a clean refusal or correct results, never loss", async () => {
  const root = await Deno.makeTempDir({ prefix: "tt_lock_ingest_" });
  try {
    const ingest = () =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "tasks/ingest.ts", "--source", "sample"],
        cwd: PROJECT_ROOT,
        env: { ...ENV, TT_DATA_DIR: root },
        stdout: "piped",
        stderr: "piped",
      }).output();
    const runs = await Promise.all([ingest(), ingest()]);
    const dec = new TextDecoder();
    const ok = runs.filter((r) => r.success);
    assert.ok(ok.length >= 1, runs.map((r) => dec.decode(r.stderr)).join("\n---\n"));
    for (const r of runs.filter((r) => !r.success)) {
      const err = dec.decode(r.stderr);
      assert.equal(r.code, 1);
      assert.match(err, /error: store .*pgdata is in use by PID \d+ \(deno task ingest, since /);
      assert.doesNotMatch(err, /\n\s+at /);
    }
    const store = await openStore({ url: "", dataDir: join(root, "pgdata") });
    try {
      const bars = await readPrices(store, {});
      const per = new Map<string, number>();
      for (const s of bars.instrument) per.set(s, (per.get(s) ?? 0) + 1);
      // The sample: SPX 2000-01-03…2020-04-17 and AAPL 2013-05-13…2018-05-11, all there.
      assert.ok((per.get("SPX") ?? 0) > 5000, `SPX rows: ${per.get("SPX")}`);
      assert.ok((per.get("AAPL") ?? 0) > 1200, `AAPL rows: ${per.get("AAPL")}`);
      assert.equal(await countPrices(store), bars.instrument.length);
    } finally {
      await store.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the lock is released at exit without close() and on SIGTERM", async () => {
  const root = await Deno.makeTempDir({ prefix: "tt_lock_exit_" });
  const lockModule = new URL("../lib/db/store_lock.ts", import.meta.url).href;
  try {
    const script = (dir: string, tail: string) =>
      `import { acquireStoreLock } from ${JSON.stringify(lockModule)};
       await acquireStoreLock(${JSON.stringify(dir)});
       console.log("locked");
       ${tail}`;
    const exited = await new Deno.Command(Deno.execPath(), {
      args: ["eval", script(join(root, "a"), "Deno.exit(3);")],
      stdout: "piped",
    }).output();
    assert.equal(exited.code, 3);
    assert.match(new TextDecoder().decode(exited.stdout), /locked/);
    assert.equal(await readStoreLock(join(root, "a")), null, "released by Deno.exit");

    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", script(join(root, "b"), "setTimeout(() => {}, 60_000);")],
      stdout: "piped",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    assert.match((await reader.read()).value ?? "", /locked/);
    assert.equal((await readStoreLock(join(root, "b")))?.pid, child.pid);
    child.kill("SIGTERM");
    assert.equal((await child.status).code, 143);
    await reader.cancel();
    assert.equal(await readStoreLock(join(root, "b")), null, "released on SIGTERM");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
