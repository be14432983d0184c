import assert from "node:assert/strict";
import { redact, redactDeep, urlHasPassword } from "@lib/util/redact.ts";

const CASES: [string, string][] = [
  ["postgres://bob:hunter2@db:5432/x", "postgres://bob:***@db:5432/x"],
  ["postgres://u:pa/ss@h/db", "postgres://u:***@h/db"],
  ["postgres://u:p@ss@h:5432/db?x=@y", "postgres://u:***@h:5432/db?x=@y"],
  ["postgres://u:pa#ss@h/db", "postgres://u:***@h/db"],
  ["postgres://u:pa?ss@h/db", "postgres://u:***@h/db"],
  ["postgres://u:pa ss@h/db", "postgres://u:***@h/db"],
  ["postgres://u:a/b@c#d@host:5432/db", "postgres://u:***@host:5432/db"],
  [
    "postgres://localhost:5432 is down, ask bob@example.com",
    "postgres://localhost:5432 is down, ask bob@example.com",
  ],
  ["postgres://u:p@w@h", "postgres://u:***@h"],
  ["postgresql://u:pw@[::1]:5432/db", "postgresql://u:***@[::1]:5432/db"],
  ["postgres://u:pw@h1:5432,h2:5433/db", "postgres://u:***@h1:5432,h2:5433/db"],
  ["postgres://u:pw@/db?host=/var/run/postgresql", "postgres://u:***@/db?host=/var/run/postgresql"],
  // Ambiguous (a fragment or a password with "#"): the safe side.
  ["postgres://u:pw@h/db#frag@x", "postgres://u:***@x"],
  ["postgres://u:@h/db", "postgres://u:***@h/db"],
  // No password: untouched.
  ["postgres://u@h:5432/db", "postgres://u@h:5432/db"],
  ["postgres://localhost:5432/db", "postgres://localhost:5432/db"],
  [
    "postgres://localhost:5432/db refused; mail bob@example.com",
    "postgres://localhost:5432/db refused; mail bob@example.com",
  ],
  // Embedded in longer messages.
  [
    "error: connect ECONNREFUSED for postgres://u:pa/ss@h:5432/db (attempt 2)",
    "error: connect ECONNREFUSED for postgres://u:***@h:5432/db (attempt 2)",
  ],
  [
    "from postgres://a:x/y@h1/d1 to postgres://b:p@q@h2/d2 done",
    "from postgres://a:***@h1/d1 to postgres://b:***@h2/d2 done",
  ],
  ["line1 postgres://u:s3cr#t@h/db\nline2 ok@x", "line1 postgres://u:***@h/db\nline2 ok@x"],
  [
    '{"dbUrl":"postgres://u:pa ss@h","other":"x@y"}',
    '{"dbUrl":"postgres://u:***@h","other":"x@y"}',
  ],
  [
    `{"url": "postgres://u:p@s/s#1@db.example.com:5432/tt?sslmode=require&x=@y"}`,
    `{"url": "postgres://u:***@db.example.com:5432/tt?sslmode=require&x=@y"}`,
  ],
  ["(see postgres://u:pa/ss@h), then", "(see postgres://u:***@h), then"],
  [
    "urls: postgres://u:p@w@h:1, postgres://v:q@k;",
    "urls: postgres://u:***@h:1, postgres://v:***@k;",
  ],
  ["password=hunter2 user=bob", "password=*** user=bob"],
  ["PGPASSWORD=hunter2 deno task x", "PGPASSWORD=*** deno task x"],
];

Deno.test("redact hides every password in URLs, messages and JSON, and nothing else", () => {
  for (const [input, expected] of CASES) assert.equal(redact(input), expected, input);
});

Deno.test("redact: the password never survives, whatever characters it holds", () => {
  const passwords = ["pa/ss", "p@ss", "p#ss", "p?ss", "pa ss", "a/b@c#d", "a b/c?d", "@@", "x@y/z"];
  for (const pw of passwords) {
    for (const tail of ["", "/db", ":5432/db?sslmode=require", "/db?x=@y"]) {
      const url = `postgres://user:${pw}@db.host${tail}`;
      for (const text of [url, `failed: ${url} (code 1)`, JSON.stringify({ url })]) {
        const out = redact(text);
        assert(!out.includes(pw), `${text} → ${out}`);
        assert(out.includes("postgres://user:***@db.host"), `${text} → ${out}`);
      }
    }
  }
});

Deno.test("urlHasPassword tells a URL with a password from one without", () => {
  assert(urlHasPassword("postgres://u:pw@h/db"));
  assert(urlHasPassword("postgres://u:pa/ss@h/db"));
  assert(!urlHasPassword("postgres://u@h/db"));
  assert(!urlHasPassword("postgres://h:5432/db"));
  assert(!urlHasPassword("postgres://u:@h/db"));
});

Deno.test("redactDeep redacts nested strings and secret-named keys", () => {
  assert.deepEqual(
    redactDeep({ dbUrl: "postgres://a:b/c@h/d", nested: [{ token: "t" }], n: 1 }),
    { dbUrl: "postgres://a:***@h/d", nested: [{ token: "***" }], n: 1 },
  );
});

Deno.test("redact: a password with spaces and @ runs on to a host a URL goes on from", () => {
  assert.equal(
    redact("Cannot connect to postgres://tt:s3cr/et@pw#x y@127.0.0.1:1/tt: refused"),
    "Cannot connect to postgres://tt:***@127.0.0.1:1/tt: refused",
  );
  assert.equal(
    redact("postgres://u:pw@h/db failed; ask bob@example.com"),
    "postgres://u:***@h/db failed; ask bob@example.com",
  );
});
