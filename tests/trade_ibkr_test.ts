/**
 * `deno task trade --broker ibkr` as a user runs it, against the loopback gateway over a
 * real socket, each trade a separate process on one PostgreSQL store:
 *
 * - a live account is refused without `--live --account` naming it (exit 2);
 * - `--dry-run` prints the orders and the gateway receives none;
 * - a live paper cycle submits, the gateway fills on its next tick, the next cycle
 *   reconciles and records the fills, and `deno task account` shows the gateway's book;
 * - kill -9 of the trade process at several points of the cycle (orders recorded but not
 *   sent; the first order acknowledged, not recorded; every answer recorded, the run not
 *   yet updated; and from outside as soon as the gateway has seen an order), then a
 *   rerun: the gateway saw each orderRef exactly once, and after the fills the store's
 *   book equals the gateway's positions.
 *
 * Needs `TEST_DATABASE_URL` (a server survives kill -9 of a client; an embedded PGlite
 * directory written by a killed process might not).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fillBook, openStore, readOrders, readPrices, type Store } from "@lib/db/mod.ts";
import { ingestSample } from "@lib/data/mod.ts";
import { LoopbackGateway } from "@lib/data/ibkr/mod.ts";
import { trainModel } from "@lib/pipeline/mod.ts";
import { PROJECT_ROOT } from "@lib/util/mod.ts";
import { createTempDatabase, SERVER_SKIP_REASON, TEST_DATABASE_URL } from "./support/stores.ts";

const SYMBOLS = ["AAPL", "SPX"];

interface Run {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
}

function trade(url: string, args: string[], env: Record<string, string> = {}) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join("tasks", "trade.ts"), "--db-url", url, ...args],
    cwd: PROJECT_ROOT,
    env: { NO_COLOR: "1", DATABASE_URL: "", ...env },
    stdout: "piped",
    stderr: "piped",
  });
}

async function run(url: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const out = await trade(url, args, env).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    signal: out.signal,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

const lastJson = (s: string) => JSON.parse(s.trim().split("\n").at(-1) ?? "");

/** A gateway whose market starts at the store's last bar, filling at the store's closes. */
async function gateway(store: Store, account: string): Promise<[LoopbackGateway, number]> {
  const gw = new LoopbackGateway({ account, marketStart: "2018-05-11", leverage: 2 });
  const bars = await readPrices(store, { instruments: SYMBOLS, start: "2018-05-01" });
  const last = new Map<string, number>();
  bars.instrument.forEach((s, i) => last.set(s, bars.close[i])); // oldest first: the last wins
  assert.equal(last.size, SYMBOLS.length);
  for (const [s, c] of last) gw.setQuote(s, c);
  return [gw, gw.start().port];
}

Deno.test({
  name: "trade --broker ibkr: live refusal, dry run, a live paper cycle and kill -9 reruns",
  ignore: !TEST_DATABASE_URL,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const db = await createTempDatabase();
    const dir = await Deno.makeTempDir({ prefix: "tt_trade_ibkr_" });
    const store = await openStore({ url: db.url });
    const gateways: LoopbackGateway[] = [];
    const ports = new Map<LoopbackGateway, number>();
    const open = async (account: string) => {
      const [gw, port] = await gateway(store, account);
      gateways.push(gw);
      ports.set(gw, port);
      return gw;
    };
    try {
      await ingestSample(store, { silent: true });
      const m = await trainModel(store, {
        symbols: SYMBOLS,
        start: "2013-05-13",
        end: "2015-12-31",
        steps: 256,
        numEnvs: 2,
        policy: "mlp",
        seed: 2,
        out: join(dir, "model"),
      });
      const model = String(m.modelId);
      const ib = (gw: LoopbackGateway, ...more: string[]) => [
        "--model",
        model,
        "--broker",
        "ibkr",
        "--port",
        String(ports.get(gw)),
        ...more,
      ];

      await t.step("a live account is refused unless --live and --account name it", async () => {
        const gw = await open("U1234567");
        const plain = await run(db.url, ib(gw, "--json"));
        assert.equal(plain.code, 2, plain.stderr);
        assert.match(plain.stderr, /live/i);
        const wrong = await run(db.url, ib(gw, "--live", "--account", "U7654321", "--json"));
        assert.equal(wrong.code, 2, wrong.stderr);
        assert.match(wrong.stderr, /U7654321/);
        const noAccount = await run(db.url, ib(gw, "--live"));
        assert.equal(noAccount.code, 2);
        assert.match(noAccount.stderr, /--live needs --account/);
        assert.deepEqual(gw.refCounts(), {}, "no order reached the live account");
      });

      await t.step("--dry-run prints the orders and the gateway receives none", async () => {
        const gw = await open("DU1000001");
        const r = await run(db.url, ib(gw, "--account", "DU1000001", "--dry-run"));
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /dry run: \d+ orders would go out \(none sent\)/);
        assert.match(r.stdout, /(BUY|SELL) +\d+ (AAPL|SPX)/);
        assert.deepEqual(gw.refCounts(), {});
        assert.equal(gw.trading.ordersReceived, 0);
      });

      await t.step(
        "a live paper cycle: submit, the gateway fills, the next cycle records the fills",
        async () => {
          const gw = await open("DU1000002");
          const first = await run(db.url, ib(gw, "--account", "DU1000002", "--json"));
          assert.equal(first.code, 0, first.stderr);
          const j1 = lastJson(first.stdout);
          assert.equal(j1.mode, "ibkr");
          assert.ok(j1.orders.sent > 0, first.stdout);
          assert.deepEqual(
            Object.values(gw.refCounts()),
            new Array(j1.orders.sent).fill(1),
          );
          await gw.advance();
          const second = await run(db.url, ib(gw, "--account", "DU1000002", "--json"));
          assert.equal(second.code, 0, second.stderr);
          const j2 = lastJson(second.stdout);
          assert.equal(j2.runId, j1.runId);
          assert.equal(j2.reconciled, true, j2.differences.join("; "));
          const orders = await readOrders(store, j1.runId);
          assert.ok(orders.every((o) => o.status === "filled"), JSON.stringify(orders));
          await assertBooksAgree(store, j1.runId, gw);
          const acct = await new Deno.Command(Deno.execPath(), {
            args: [
              "run",
              "-A",
              "tasks/account.ts",
              "--db-url",
              db.url,
              "--run",
              String(j1.runId),
              "--json",
            ],
            cwd: PROJECT_ROOT,
            stdout: "piped",
            stderr: "piped",
          }).output();
          const a = lastJson(new TextDecoder().decode(acct.stdout));
          const book = gw.book().positions;
          assert.deepEqual(
            Object.fromEntries(
              a.positions.map((p: { symbol: string; quantity: number }) => [p.symbol, p.quantity]),
            ),
            Object.fromEntries(Object.entries(book).map(([s, p]) => [s, p.quantity])),
          );
        },
      );

      for (const at of ["planned", "submitted:1", "recorded"]) {
        await t.step(`kill -9 at ${at}, rerun: each order once, the books agree`, async () => {
          const account = `DU2${["planned", "submitted:1", "recorded"].indexOf(at)}00000`;
          const gw = await open(account);
          const killed = await run(db.url, ib(gw, "--account", account, "--json"), {
            TT_TRADE_KILL_AT: at,
          });
          assert.equal(killed.signal, "SIGKILL", `killed at ${at}: ${killed.stderr}`);
          const seen = gw.refCounts();
          if (at === "planned") assert.deepEqual(seen, {});
          else assert.ok(Object.keys(seen).length >= 1);
          const rerun = await run(db.url, ib(gw, "--account", account, "--json"));
          assert.equal(rerun.code, 0, rerun.stderr);
          const j = lastJson(rerun.stdout);
          assert.equal(j.reconciled, true, j.differences.join("; "));
          await assertOnceAndAgree(
            store,
            j.runId,
            gw,
            db.url,
            ib(gw, "--account", account, "--json"),
          );
        });
      }

      await t.step("kill -9 from outside once the gateway has an order, rerun", async () => {
        const account = "DU3000000";
        const gw = await open(account);
        const child = trade(db.url, ib(gw, "--account", account, "--json")).spawn();
        const until = Date.now() + 120_000;
        while (gw.trading.ordersReceived === 0 && Date.now() < until) {
          await new Promise((r) => setTimeout(r, 2));
        }
        child.kill("SIGKILL");
        const st = await child.output();
        assert.ok(gw.trading.ordersReceived >= 1, "the gateway saw an order before the kill");
        assert.ok(st.signal === "SIGKILL" || st.code === 0);
        const rerun = await run(db.url, ib(gw, "--account", account, "--json"));
        assert.equal(rerun.code, 0, rerun.stderr);
        const j = lastJson(rerun.stdout);
        await assertOnceAndAgree(
          store,
          j.runId,
          gw,
          db.url,
          ib(gw, "--account", account, "--json"),
        );
      });
    } finally {
      for (const gw of gateways) await gw.stop();
      await store.close();
      await db.drop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** Each ref of the run reached the gateway once; after a fill tick the books agree. */
async function assertOnceAndAgree(
  store: Store,
  runId: number,
  gw: LoopbackGateway,
  url: string,
  args: string[],
): Promise<void> {
  const counts = gw.refCounts();
  const refs = Object.keys(counts);
  assert.ok(refs.length >= 1, "the rerun sent the orders");
  assert.ok(Object.values(counts).every((n) => n === 1), JSON.stringify(counts));
  const stored = await readOrders(store, runId);
  const sent = stored.filter((o) => o.status !== "blocked" && o.status !== "cancelled");
  assert.deepEqual(sent.map((o) => o.ref).sort(), refs.sort());
  await gw.advance();
  // The next cycle (a process, as a user runs it) records the fills and reconciles.
  const next = await run(url, args);
  assert.equal(next.code, 0, next.stderr);
  const j = lastJson(next.stdout);
  assert.equal(j.runId, runId);
  assert.equal(j.reconciled, true, j.differences.join("; "));
  assert.ok(Object.values(gw.refCounts()).every((n) => n === 1), "still once each");
  await assertBooksAgree(store, runId, gw);
}

async function assertBooksAgree(store: Store, runId: number, gw: LoopbackGateway): Promise<void> {
  const book = await fillBook(store, runId);
  const want = Object.fromEntries(
    Object.entries(gw.book().positions).filter(([, p]) => p.quantity !== 0).map((
      [s, p],
    ) => [s, p.quantity]),
  );
  assert.ok(Object.keys(want).length >= 1, "the gateway holds positions");
  assert.deepEqual(Object.fromEntries([...book].filter(([, q]) => q !== 0)), want);
}

if (!TEST_DATABASE_URL) console.log(`skip: ${SERVER_SKIP_REASON}`);
