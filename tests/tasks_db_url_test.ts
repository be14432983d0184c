/**
 * Secrets on the command line: `--db-url` with a password warns; `DATABASE_URL` and
 * `PGPASSWORD` (the forms the README recommends) keep the password out of every output
 * of a `deno task` run, the task runner's echo of the command line included.
 */
import assert from "node:assert/strict";
import { DB_URL_PASSWORD_WARNING } from "@lib/util/cli.ts";
import { PROJECT_ROOT } from "@lib/util/mod.ts";
import { createTempDatabase, TEST_DATABASE_URL } from "./support/stores.ts";

// Unencoded "/", "@", "#" and a space: the characters the redactor used to miss.
const PASSWORD = "s3cr/et@pw#x y";
const UNREACHABLE = "127.0.0.1:1";

interface Run {
  code: number;
  out: string;
  stderr: string;
}

/** `deno [run -A tasks/X.ts | task X] args` in a subprocess; `out` is stdout + stderr. */
async function run(
  how: "task" | "run",
  task: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Run> {
  const dataDir = await Deno.makeTempDir({ prefix: "tt_dburl_" });
  try {
    const cmd = how === "task"
      ? ["task", task, ...args]
      : ["run", "-A", `tasks/${task}.ts`, ...args];
    const o = await new Deno.Command(Deno.execPath(), {
      args: cmd,
      cwd: PROJECT_ROOT,
      env: { TT_DATA_DIR: dataDir, DATABASE_URL: "", PGPASSWORD: "", NO_COLOR: "1", ...env },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    const stderr = dec.decode(o.stderr);
    return { code: o.code, out: dec.decode(o.stdout) + stderr, stderr };
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
}

function withPassword(url: string, password: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.username || "tt"}:${password}@${u.host}${u.pathname}${u.search}`;
}

function assertNoSecret(r: Run, what: string): void {
  for (const piece of [PASSWORD, "s3cr", "et@pw", "pw#x"]) {
    assert.ok(!r.out.includes(piece), `${what}: output holds "${piece}":\n${r.out}`);
  }
}

Deno.test("--db-url with a password prints the warning, once, and the error hides the password", async () => {
  const r = await run("run", "quality", [
    "--db-url",
    `postgres://tt:${PASSWORD}@${UNREACHABLE}/tt`,
    "--json",
  ]);
  assert.equal(r.code, 1, r.out);
  const lines = r.stderr.split("\n");
  assert.equal(lines.filter((l) => l === DB_URL_PASSWORD_WARNING).length, 1, r.stderr);
  assert.match(r.stderr, /error: /);
  assertNoSecret(r, "deno run with --db-url");
});

Deno.test("--db-url without a password, DATABASE_URL and PGPASSWORD: no warning", async () => {
  const plain = await run("run", "quality", ["--db-url", `postgres://tt@${UNREACHABLE}/tt`]);
  const env = await run("run", "quality", [], {
    DATABASE_URL: `postgres://tt:${PASSWORD}@${UNREACHABLE}/tt`,
  });
  for (const r of [plain, env]) {
    assert.equal(r.code, 1, r.out);
    assert.ok(!r.stderr.includes(DB_URL_PASSWORD_WARNING), r.stderr);
    assertNoSecret(r, "no warning case");
  }
});

Deno.test("deno task with DATABASE_URL or PGPASSWORD: no output holds the password (failing connection)", async () => {
  const viaEnv = await run("task", "quality", ["--json"], {
    DATABASE_URL: `postgres://tt:${PASSWORD}@${UNREACHABLE}/tt`,
  });
  const viaPgPassword = await run("task", "quality", [
    "--db-url",
    `postgres://tt@${UNREACHABLE}/tt`,
    "--json",
  ], { PGPASSWORD: PASSWORD });
  for (const [name, r] of [["DATABASE_URL", viaEnv], ["PGPASSWORD", viaPgPassword]] as const) {
    assert.equal(r.code, 1, `${name}: ${r.out}`);
    assert.match(r.stderr, /Task quality/, "the task runner echoed its command line");
    assertNoSecret(r, name);
  }
});

Deno.test({
  name:
    "deno task against a server: DATABASE_URL and PGPASSWORD runs succeed and print no password; --db-url warns",
  ignore: !TEST_DATABASE_URL,
  async fn() {
    const db = await createTempDatabase();
    try {
      // A URL must percent-encode its password; the pieces checked survive encoding.
      const url = withPassword(db.url, encodeURIComponent(PASSWORD));
      const viaEnv = await run("task", "quality", ["--json", "--dry-run"], { DATABASE_URL: url });
      const viaPg = await run("task", "quality", ["--json", "--dry-run", "--db-url", db.url], {
        PGPASSWORD: PASSWORD,
      });
      for (const [name, r] of [["DATABASE_URL", viaEnv], ["PGPASSWORD", viaPg]] as const) {
        assert.equal(r.code, 0, `${name}: ${r.out}`);
        assert.ok(!r.stderr.includes(DB_URL_PASSWORD_WARNING), `${name}: ${r.stderr}`);
        assertNoSecret(r, name);
      }
      const json = JSON.parse(viaEnv.out.trim().split("\n").find((l) => l.startsWith("{"))!);
      assert.match(String(json.store), /^PostgreSQL postgres:\/\/tt:\*\*\*@/);
      // The form the README used to document: works, warns, and deno task echoes it.
      const viaFlag = await run("task", "quality", ["--json", "--dry-run", "--db-url", url]);
      assert.equal(viaFlag.code, 0, viaFlag.out);
      assert.ok(viaFlag.stderr.includes(DB_URL_PASSWORD_WARNING), viaFlag.stderr);
    } finally {
      await db.drop();
    }
  },
});
