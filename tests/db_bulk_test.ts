/**
 * upsertColumns() contract: the binary COPY path (direct on a first load, staging table
 * when keys exist) gives the same rows as the SQL (unnest) path, on PGlite and the server.
 */
import assert from "node:assert/strict";
import { type Queryable, type Store, upsertColumns, type UpsertSpec } from "@lib/db/mod.ts";
import { storeFactories } from "./support/stores.ts";

const DDL = (table: string) =>
  `CREATE TABLE ${table} (
    k text, t timestamptz, i8 int8, i4 int4, f float8, b bool, d date, j jsonb, s text,
    PRIMARY KEY (k, t))`;

const COLUMNS = [
  { name: "k", type: "text" },
  { name: "t", type: "timestamptz" },
  { name: "i8", type: "int8" },
  { name: "i4", type: "int4" },
  { name: "f", type: "float8" },
  { name: "b", type: "bool" },
  { name: "d", type: "date" },
  { name: "j", type: "jsonb" },
  { name: "s", type: "text" },
] as const;

const T = Date.UTC(2020, 0, 2);
// Before 1970 and before 2000: negative int64 microseconds and negative days.
const T_OLD = Date.UTC(1969, 11, 31, 23, 59, 59, 999);

/** Five rows covering quoting, unicode, NULLs (null, undefined, NaN), ±Infinity, large ints. */
function rows(): unknown[][] {
  return [
    ["a", 'q"uo\\te', "é€😀", "", "e"],
    [T, new Date(T_OLD), T + 1, T + 2, T + 3],
    [Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 40 + 3, -1, null],
    [-5, 2147483647, -2147483648, 0, undefined],
    [1.5, -0.25, NaN, Infinity, -Infinity],
    [true, false, true, false, null],
    [new Date(Date.UTC(2020, 0, 2, 13)), T_OLD, Date.UTC(2000, 0, 1), null, T],
    [{ a: [1, "x"] }, '{"b": null}', [1, 2], null, "null"],
    ["plain", "tab\there", "new\nline", null, ""],
  ];
}

function spec(
  table: string,
  data: UpsertSpec["data"] = rows(),
  extra: Partial<UpsertSpec> = {},
): UpsertSpec {
  return { table, columns: COLUMNS, key: ["k", "t"], data, ...extra };
}

/** The same transaction without `copyBinary`: forces the SQL (unnest) path. */
function sqlOnly(q: Queryable): Queryable {
  return { query: (sql, params) => q.query(sql, params), exec: (sql) => q.exec(sql) };
}

async function dump(store: Store, table: string) {
  return await store.query(
    `SELECT k, t, i8, i4, f, b, d::text AS d, j::text AS j, s FROM ${table} ORDER BY k, t`,
  );
}

/** Each row's xmin (the transaction that wrote its current version), by key `k`. */
async function xmins(store: Store, table: string): Promise<Record<string, string>> {
  const r = await store.query<{ k: string; x: string }>(
    `SELECT k, xmin::text AS x FROM ${table} ORDER BY k, t`,
  );
  return Object.fromEntries(r.map((x) => [x.k, x.x]));
}

for (const factory of storeFactories()) {
  const name = (what: string) => `upsertColumns() [${factory.name}] ${what}`;

  Deno.test(name("stores every type by COPY exactly as the SQL path does"), async () => {
    const store = await factory.open();
    try {
      await store.exec(`${DDL("t_copy")}; ${DDL("t_sql")}`);
      assert.equal(await store.transaction((tx) => upsertColumns(tx, spec("t_copy"))), 5);
      await store.transaction((tx) => upsertColumns(sqlOnly(tx), spec("t_sql")));
      const got = await dump(store, "t_copy");
      assert.deepEqual(got, await dump(store, "t_sql"));
      const byK = new Map(got.map((r) => [r.k as string, r]));
      assert.deepEqual(byK.get("a"), {
        k: "a",
        t: new Date(T),
        i8: Number.MAX_SAFE_INTEGER,
        i4: -5,
        f: 1.5,
        b: true,
        d: "2020-01-02",
        j: '{"a": [1, "x"]}',
        s: "plain",
      });
      const quoted = byK.get('q"uo\\te')!;
      assert.equal((quoted.t as Date).getTime(), T_OLD);
      assert.equal(quoted.i8, -Number.MAX_SAFE_INTEGER);
      assert.equal(quoted.d, "1969-12-31");
      assert.equal(quoted.s, "tab\there");
      const uni = byK.get("é€😀")!;
      assert.equal(uni.i8, 2 ** 40 + 3);
      assert.equal(uni.f, null); // NaN is NULL
      assert.equal(uni.d, "2000-01-01");
      const empty = byK.get("")!;
      assert.equal(empty.f, Infinity);
      assert.equal(empty.d, null);
      assert.equal(empty.s, null);
      const e = byK.get("e")!;
      assert.equal(e.f, -Infinity);
      assert.equal(e.i8, null);
      assert.equal(e.i4, null); // undefined is NULL
      assert.equal(e.j, "null"); // a JSON string is sent as is
      assert.equal(e.s, "");
    } finally {
      await store.close();
    }
  });

  Deno.test(
    name("a rerun with the same rows rewrites none; a changed row is updated"),
    async () => {
      const store = await factory.open();
      try {
        await store.exec(DDL("t_b"));
        await upsertColumns(store, spec("t_b"));
        const before = await xmins(store, "t_b");
        await upsertColumns(store, spec("t_b"));
        assert.deepEqual(await xmins(store, "t_b"), before);
        const data = rows();
        data[4][0] = 2.5; // row "a", column f
        await upsertColumns(store, spec("t_b", data));
        const after = await xmins(store, "t_b");
        assert.notEqual(after.a, before.a);
        assert.deepEqual({ ...after, a: "" }, { ...before, a: "" });
        const [a] = await store.query<{ f: number }>("SELECT f FROM t_b WHERE k = 'a'");
        assert.equal(a.f, 2.5);
      } finally {
        await store.close();
      }
    },
  );

  Deno.test(
    name("batches mixing stored and new keys insert the new and update the changed"),
    async () => {
      const store = await factory.open();
      try {
        await store.exec("CREATE TABLE t_m (k text PRIMARY KEY, v float8)");
        const cols = [{ name: "k", type: "text" }, { name: "v", type: "float8" }];
        const put = (keys: string[], v: number[], extra: Partial<UpsertSpec> = {}) =>
          upsertColumns(store, {
            table: "t_m",
            columns: cols,
            key: ["k"],
            data: [keys, v],
            batchSize: 2,
            ...extra,
          });
        await put(["a", "b"], [1, 2]);
        // Batch 1 hits "a" (staging path from then on); batch 2 is all new; batch 3 hits "b".
        await put(["a", "c", "d", "e", "b", "f"], [10, 3, 4, 5, 2, 6]);
        await put(["c", "g"], [30, 7], { onConflict: "nothing" });
        const got = await store.query<{ k: string; v: number }>("SELECT k, v FROM t_m ORDER BY k");
        assert.deepEqual(got.map((r) => `${r.k}=${r.v}`), [
          "a=10",
          "b=2",
          "c=3",
          "d=4",
          "e=5",
          "f=6",
          "g=7",
        ]);
      } finally {
        await store.close();
      }
    },
  );

  Deno.test(name("a key twice in one batch fails and writes nothing"), async () => {
    const store = await factory.open();
    try {
      await store.exec("CREATE TABLE t_d (k text PRIMARY KEY, v float8)");
      await assert.rejects(
        upsertColumns(store, {
          table: "t_d",
          columns: [{ name: "k", type: "text" }, { name: "v", type: "float8" }],
          key: ["k"],
          data: [["x", "y", "x"], [1, 2, 3]],
        }),
        /affect row a second time/,
      );
      const [{ n }] = await store.query<{ n: number }>("SELECT count(*)::int AS n FROM t_d");
      assert.equal(n, 0);
    } finally {
      await store.close();
    }
  });

  Deno.test(name("given the store, a failing later batch leaves no earlier batch"), async () => {
    const store = await factory.open();
    try {
      await store.exec("CREATE TABLE t_f (k text PRIMARY KEY, v float8 NOT NULL)");
      await assert.rejects(
        upsertColumns(store, {
          table: "t_f",
          columns: [{ name: "k", type: "text" }, { name: "v", type: "float8" }],
          key: ["k"],
          data: [["a", "b", "c", "d"], [1, 2, 3, NaN]],
          batchSize: 2,
        }),
        /null value/,
      );
      const [{ n }] = await store.query<{ n: number }>("SELECT count(*)::int AS n FROM t_f");
      assert.equal(n, 0);
    } finally {
      await store.close();
    }
  });

  Deno.test(
    name("ISO-string timestamps take the SQL path and store the same instants"),
    async () => {
      const store = await factory.open();
      try {
        await store.exec(`${DDL("t_iso")}; ${DDL("t_ms")}`);
        const iso = rows();
        const ms = rows();
        iso[1] = [
          "2020-01-02T00:00:00Z",
          "1969-12-31T23:59:59.999Z",
          ...[
            T + 1,
            T + 2,
            T + 3,
          ].map((x) => new Date(x).toISOString()),
        ];
        ms[1] = [T, T_OLD, T + 1, T + 2, T + 3];
        await upsertColumns(store, spec("t_iso", iso));
        await upsertColumns(store, spec("t_ms", ms));
        assert.deepEqual(await dump(store, "t_iso"), await dump(store, "t_ms"));
      } finally {
        await store.close();
      }
    },
  );
}
