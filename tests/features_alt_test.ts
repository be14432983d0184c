/**
 * As-of features over alternative data (`lib/features/alt_features.ts`): hand-computed
 * answers, the syntax of `alt:…` names, the decision time, and the look-ahead properties
 * randomised over seeds on generated values (`syntheticAltValues`, labelled generated):
 * values known after bar t's decision time (moved later, revised, added) change nothing at
 * or before t; a value known exactly at the close is used at that bar and not the one before;
 * an announced date known in advance gives `days_to_next_earnings`, one not yet known NaN;
 * the tail computation of a live cycle equals the full one at the newest bar.
 */
import assert from "node:assert/strict";
import type { AltValue } from "@lib/db/mod.ts";
import { type BarColumns, decisionTime, decisionTimes, panelFromBars } from "@lib/data/mod.ts";
import type { PricePanel } from "@lib/data/mod.ts";
import {
  ALT_FEATURE_NAMES,
  altFeature,
  computeFeaturePanel,
  computeFeaturePanelTail,
  FEATURE_SETS,
  featureTailBars,
  joinAltFeatures,
  lookback,
  resolveFeatureNames,
  resolveFeatureSpec,
  syntheticAltValues,
} from "@lib/features/mod.ts";
import { businessDays } from "@lib/features/synthetic.ts";
import { Rng } from "@lib/util/rng.ts";

const Z = (iso: string) => Date.parse(iso);
const DAYS = [
  "2018-01-02",
  "2018-01-03",
  "2018-01-04",
  "2018-01-05",
  "2018-01-08",
  "2018-01-09",
  "2018-01-10",
  "2018-01-11",
];

/** AAPL on every day, MSFT without a bar on 2018-01-05. */
function handPanel(): PricePanel {
  const bars: BarColumns = {
    instrument: [],
    timestamp: [],
    open: [],
    high: [],
    low: [],
    close: [],
    volume: [],
  };
  for (const s of ["AAPL", "MSFT"]) {
    for (const d of DAYS) {
      if (s === "MSFT" && d === "2018-01-05") continue;
      bars.instrument.push(s);
      bars.timestamp.push(Z(`${d}T00:00:00Z`));
      bars.open.push(100);
      bars.high.push(101);
      bars.low.push(99);
      bars.close.push(100);
      bars.volume.push(1e6);
    }
  }
  return panelFromBars(bars, "1 day");
}

function v(
  field: string,
  eventTime: string,
  knownAt: string,
  value: number,
  source = "v",
): AltValue {
  return { source, instrument: "AAPL", field, eventTime: Z(eventTime), knownAt: Z(knownAt), value };
}

const HAND: AltValue[] = [
  v("eps_surprise_pct", "2018-01-02T21:30:00Z", "2018-01-02T22:00:00Z", 4),
  v("eps_surprise_pct", "2018-01-02T21:30:00Z", "2018-01-04T21:00:00Z", 3.5), // revision, at a close
  v("announcement", "2018-01-09T12:00:00Z", "2017-12-20T00:00:00Z", NaN),
  v("announcement", "2018-04-10T12:00:00Z", "2018-01-05T21:00:00.001Z", NaN),
  v("announcement", "2018-01-09T12:00:00Z", "2018-01-08T21:00:00Z", 0), // cancels Jan 9
  v("sentiment", "2018-01-03T15:00:00Z", "2018-01-03T16:00:00Z", 0.2),
  v("sentiment", "2018-01-08T20:00:00Z", "2018-01-09T14:00:00Z", 0.6),
  v("sentiment", "2018-01-09T10:00:00Z", "2018-01-09T21:00:00Z", -0.4),
  v("sentiment", "2018-01-09T10:00:00Z", "2018-01-11T21:00:00.001Z", 1),
  v("insider_net_shares", "2017-12-15T15:00:00Z", "2017-12-18T00:00:00Z", 1000),
  v("insider_net_shares", "2018-01-03T15:00:00Z", "2018-01-05T22:00:00Z", -300),
  v("score", "2018-01-02T12:00:00Z", "2018-01-03T21:00:00Z", 8),
  v("score", "2018-01-05T20:00:00Z", "2018-01-05T20:30:00Z", 4),
  v("score", "2017-12-01T00:00:00Z", "2017-12-01T00:00:00Z", 5, "w"),
  // Another instrument's value: ignored.
  { ...v("score", "2018-01-04T00:00:00Z", "2018-01-04T00:00:00Z", 9), instrument: "OTHER" },
];

function column(
  panel: PricePanel,
  values: Float64Array,
  names: string[],
  inst: string,
  name: string,
) {
  const n = panel.instruments.length, F = names.length;
  const i = panel.instruments.indexOf(inst), f = names.indexOf(name);
  return panel.timestamps.map((_, t) => values[(t * n + i) * F + f]);
}

function assertSeries(actual: number[], expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let k = 0; k < expected.length; k++) {
    const a = actual[k], e = expected[k];
    if (Number.isNaN(e)) assert.ok(Number.isNaN(a), `${what}[${DAYS[k]}] = ${a}, expected NaN`);
    else assert.ok(Math.abs(a - e) < 1e-12, `${what}[${DAYS[k]}] = ${a}, expected ${e}`);
  }
}

Deno.test("decisionTime() is the NYSE close in New York time: 16:00 (DST-correct), 13:00 on early closes, bar end intraday", () => {
  assert.equal(decisionTime(Z("2018-01-02T00:00:00Z"), "1 day"), Z("2018-01-02T21:00:00Z"));
  assert.equal(decisionTime(Z("2018-07-05T00:00:00Z"), "1 day"), Z("2018-07-05T20:00:00Z"));
  assert.equal(decisionTime(Z("2018-07-03T00:00:00Z"), "1 day"), Z("2018-07-03T17:00:00Z"));
  assert.equal(decisionTime(Z("2018-07-05T14:30:00Z"), "5 mins"), Z("2018-07-05T14:35:00Z"));
  assert.throws(() => decisionTime(0, "1 week"), RangeError);
  assert.deepEqual([...decisionTimes([Z("2018-01-02T00:00:00Z")], "1 hour")], [
    Z("2018-01-02T01:00:00Z"),
  ]);
});

Deno.test("joinAltFeatures() gives the hand-computed as-of values of every declared and generic feature", () => {
  const panel = handPanel();
  const names = [
    ...ALT_FEATURE_NAMES,
    "alt:v:score",
    "alt:v:score:decay=1",
    "alt:v:score:window=2",
    "alt:w:score",
    "alt:w:score:decay=0.5",
  ];
  const out = joinAltFeatures(panel, names, HAND);
  const col = (inst: string, name: string) => column(panel, out, names, inst, name);
  const N = NaN;
  // The first print at t1; its revision known exactly at the close of t2 is used at t2.
  assertSeries(
    col("AAPL", "earnings_surprise_last"),
    [N, 4, 3.5, 3.5, 3.5, 3.5, 3.5, 3.5],
    "surprise",
  );
  assertSeries(col("AAPL", "days_since_earnings"), [N, 1, 2, 3, 6, 7, 8, 9], "days since");
  // Jan 9 is next until its cancellation (known at the close of Jan 8); April 10 then,
  // once its announcement (1 ms after the close of Jan 5) is known.
  assertSeries(col("AAPL", "days_to_next_earnings"), [7, 6, 5, 4, 92, 91, 90, 89], "days to next");
  // Lookback 5: NaN before t5; (D(t−5), D(t)] windows; the revision after t7 unused.
  assertSeries(
    col("AAPL", "sentiment_mean_5d"),
    [N, N, N, N, N, (0.2 + 0.6 - 0.4) / 3, 0.1, 0.1],
    "sentiment",
  );
  assertSeries(
    col("AAPL", "insider_net_30d"),
    [1000, 1000, 1000, 1000, 700, 700, 700, 700],
    "insider",
  );
  assertSeries(col("AAPL", "alt:v:score"), [N, 8, 8, 4, 4, 4, 4, 4], "latest");
  assertSeries(col("AAPL", "alt:v:score:decay=1"), [N, 8, 4, 4, 2, 1, 0.5, 0.25], "decay");
  assertSeries(col("AAPL", "alt:v:score:window=2"), [N, N, N, 4, 4, N, N, N], "window");
  assertSeries(col("AAPL", "alt:w:score"), [5, 5, 5, 5, 5, 5, 5, 5], "old latest");
  // Usable before the calendar: its age is unknown until bar H = 5, then ≥ H → 0.
  assertSeries(col("AAPL", "alt:w:score:decay=0.5"), [N, N, N, N, N, 0, 0, 0], "old decay");
  for (const name of names) {
    // MSFT has no values (insider: no coverage → NaN, not 0), and no bar on Jan 5.
    assert.ok(col("MSFT", name).every(Number.isNaN), `MSFT ${name} all NaN`);
  }
  // Order of the values does not matter.
  const shuffled = [...HAND].reverse();
  assert.deepEqual([...joinAltFeatures(panel, names, shuffled)], [...out]);
});

Deno.test("alt:<source>:<field> names: canonical spelling, lookbacks, and errors that say what is wrong", () => {
  assert.equal(altFeature("alt:v:x:decay=05").name, "alt:v:x:decay=5");
  assert.equal(altFeature("alt:v:x:decay=2.5").lookback, 25);
  assert.equal(altFeature("alt:v:x:window=7").lookback, 7);
  assert.equal(lookback("alt:v:x"), 0);
  assert.equal(lookback("sentiment_mean_5d"), 5);
  assert.throws(() => altFeature("alt:v"), /expected 2 or 3 parts/);
  assert.throws(
    () => altFeature("alt:v x:y"),
    (e: Error) => e instanceof SyntaxError && /source "v x"/.test(e.message),
  );
  assert.throws(() => altFeature("alt:v:y:decay=0"), RangeError);
  assert.throws(() => altFeature("alt:v:y:decay=abc"), RangeError);
  assert.throws(() => altFeature("alt:v:y:window=1.5"), /whole number of bars/);
  assert.throws(() => altFeature("alt:v:y:span=3"), /must be decay=<h> or window=<w>/);
  assert.throws(() => altFeature("earnings_surprise"), /Unknown alternative-data feature/);
});

Deno.test("resolveFeatureSpec() mixes sets, bar and alternative features; bar features first, then alt in a fixed order", () => {
  assert.deepEqual(resolveFeatureSpec("basic"), [...FEATURE_SETS.basic]);
  assert.deepEqual(
    resolveFeatureSpec("alt:g:s:decay=3, days_since_earnings,vol_5,earnings_surprise_last"),
    ["vol_5", "earnings_surprise_last", "days_since_earnings", "alt:g:s:decay=3"],
  );
  assert.deepEqual(resolveFeatureSpec("alt"), [...ALT_FEATURE_NAMES]);
  assert.deepEqual(resolveFeatureNames({ set: "alt" }), [...ALT_FEATURE_NAMES]);
  assert.throws(() => resolveFeatureSpec(" , "), /names no feature/);
  assert.throws(() => resolveFeatureSpec("basic,vol_7"), /Unknown feature "vol_7"/);
  assert.throws(() => resolveFeatureSpec("alt:g"), SyntaxError);
});

Deno.test("computeFeaturePanel() places alt columns beside bar features and refuses alt names without values", () => {
  const panel = handPanel();
  const names = resolveFeatureSpec("return_1,earnings_surprise_last");
  const fp = computeFeaturePanel(panel, { names, alt: HAND });
  assert.deepEqual(fp.names, ["return_1", "earnings_surprise_last"]);
  const F = 2, n = 2;
  assert.equal(fp.values[(2 * n + 0) * F + 1], 3.5);
  assert.equal(fp.values[(2 * n + 0) * F + 0], 0); // flat closes
  assert.equal(fp.warmup, 1);
  assert.throws(() => computeFeaturePanel(panel, { names }), /pass its values as options\.alt/);
});

// ---------------------------------------------------------------------------------------
// Properties over generated values, several seeds.

const SEEDS = [1, 2, 3, 4, 5, 6];
const PROP_NAMES = [
  ...ALT_FEATURE_NAMES,
  "alt:generated:score",
  "alt:generated:score:decay=2.5",
  "alt:generated:score:window=4",
];

/** 3 instruments × 260 business days, one with holes. */
function genPanel(seed: number): PricePanel {
  const days = businessDays(260, "2016-01-04");
  const rng = new Rng(seed * 7919);
  const bars: BarColumns = {
    instrument: [],
    timestamp: [],
    open: [],
    high: [],
    low: [],
    close: [],
    volume: [],
  };
  for (const s of ["AAA", "BBB", "CCC"]) {
    for (const d of days) {
      if (s === "CCC" && rng.uniform() < 0.05) continue;
      bars.instrument.push(s);
      bars.timestamp.push(d);
      bars.open.push(10);
      bars.high.push(11);
      bars.low.push(9);
      bars.close.push(10 + rng.uniform());
      bars.volume.push(1000);
    }
  }
  return panelFromBars(bars, "1 day");
}

/** Asserts equal (NaN = NaN) values at bars 0 … t; returns how many differ after t. */
function comparePast(a: Float64Array, b: Float64Array, perBar: number, t: number, what: string) {
  for (let k = 0; k < (t + 1) * perBar; k++) {
    const x = a[k], y = b[k];
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    assert.ok(
      Object.is(x, y),
      `${what}: cell ${k} (bar ${Math.floor(k / perBar)} ≤ ${t}) ${x} → ${y}`,
    );
  }
  let after = 0;
  for (let k = (t + 1) * perBar; k < a.length; k++) {
    if (!(Number.isNaN(a[k]) && Number.isNaN(b[k])) && !Object.is(a[k], b[k])) after++;
  }
  return after;
}

for (const seed of SEEDS) {
  Deno.test(`[seed ${seed}] alternative values known after bar t's decision time (moved later, revised, added) change nothing at or before t`, () => {
    const panel = genPanel(seed);
    const values = syntheticAltValues(panel.instruments, panel.timestamps, { seed });
    const D = decisionTimes(panel.timestamps, panel.barSize);
    const rng = new Rng(seed * 104729);
    const perBar = panel.instruments.length * PROP_NAMES.length;
    const base = joinAltFeatures(panel, PROP_NAMES, values);
    let changedAfter = 0;
    for (let trial = 0; trial < 4; trial++) {
      const t = rng.integer(0, panel.timestamps.length - 20);
      const cut = D[t];
      // (1) Only what was known by D(t): the past is a function of it alone.
      const known = values.filter((x) => x.knownAt <= cut);
      comparePast(base, joinAltFeatures(panel, PROP_NAMES, known), perBar, t, `known-only t=${t}`);
      // (2) Every value known later: moved later still, value changed; plus revisions of
      //     past events and new events, all published after D(t).
      const moved = values.map((x) =>
        x.knownAt > cut
          ? { ...x, knownAt: x.knownAt + rng.integer(1, 20 * 86_400_000), value: rng.normal() }
          : x
      );
      for (const x of known.filter(() => rng.uniform() < 0.2)) {
        moved.push({
          ...x,
          knownAt: cut + rng.integer(1, 30 * 86_400_000),
          value: 99 + rng.normal(),
        });
      }
      for (let k = 0; k < 20; k++) {
        const x = values[rng.integer(0, values.length - 1)];
        moved.push({
          ...x,
          eventTime: cut - rng.integer(0, 10 * 86_400_000),
          knownAt: cut + rng.integer(1, 5 * 86_400_000),
          value: rng.normal(),
        });
      }
      changedAfter += comparePast(
        base,
        joinAltFeatures(panel, PROP_NAMES, moved),
        perBar,
        t,
        `perturbed after t=${t}`,
      );
    }
    assert.ok(changedAfter > 0, "the perturbations changed something after t (the test bites)");
  });

  Deno.test(`[seed ${seed}] a value known exactly at the close is used at that bar, not the one before; 1 ms later it waits a bar`, () => {
    const panel = genPanel(seed);
    const D = decisionTimes(panel.timestamps, panel.barSize);
    const rng = new Rng(seed * 31337);
    const values = syntheticAltValues(panel.instruments, panel.timestamps, { seed });
    const names = ["alt:exact:x", "earnings_surprise_last", "alt:exact:x:window=3"];
    const n = panel.instruments.length, F = names.length;
    const aaa = panel.instruments.indexOf("AAA");
    for (let trial = 0; trial < 5; trial++) {
      const t = rng.integer(4, panel.timestamps.length - 2);
      const value = 1000 + trial + rng.uniform();
      const atClose: AltValue = {
        source: "exact",
        instrument: "AAA",
        field: "x",
        eventTime: D[t] - rng.integer(0, 3_600_000),
        knownAt: D[t],
        value,
      };
      // The newest report: its event time is the close itself.
      const report: AltValue = {
        source: "zz-exact",
        instrument: "AAA",
        field: "eps_surprise_pct",
        eventTime: D[t],
        knownAt: D[t],
        value,
      };
      const others = values.filter((x) =>
        !(x.field === "eps_surprise_pct" && x.eventTime === D[t])
      );
      const out = joinAltFeatures(panel, names, [...others, atClose, report]);
      const at = (bar: number, f: number) => out[(bar * n + aaa) * F + f];
      assert.equal(at(t, 0), value, `alt:exact:x at t=${t}`);
      assert.ok(Number.isNaN(at(t - 1, 0)), `alt:exact:x at t−1=${t - 1}`);
      assert.equal(at(t, 1), value, `earnings_surprise_last at t=${t}`);
      assert.notEqual(at(t - 1, 1), value);
      assert.equal(at(t, 2), value, "window mean at t");
      assert.ok(Number.isNaN(at(t - 1, 2)));
      const late = joinAltFeatures(panel, names, [...others, { ...atClose, knownAt: D[t] + 1 }]);
      assert.ok(Number.isNaN(late[(t * n + aaa) * F]), "known 1 ms after the close: not at t");
      assert.equal(late[((t + 1) * n + aaa) * F], value, "… but at t + 1");
    }
  });

  Deno.test(`[seed ${seed}] days_to_next_earnings: an announced date known in advance counts, one not yet known gives NaN`, () => {
    const panel = genPanel(seed);
    const D = decisionTimes(panel.timestamps, panel.barSize);
    const rng = new Rng(seed * 65537);
    const n = panel.instruments.length;
    const bbb = panel.instruments.indexOf("BBB");
    const DAY = 86_400_000;
    for (let trial = 0; trial < 5; trial++) {
      const t = rng.integer(1, panel.timestamps.length - 30);
      const ahead = rng.integer(1, 40);
      const announced: AltValue = {
        source: "generated",
        instrument: "BBB",
        field: "announcement",
        // Before the open, `ahead` calendar days after the session of t.
        eventTime: panel.timestamps[t] + ahead * DAY + 12 * 3_600_000,
        knownAt: D[t] - rng.integer(0, 20) * DAY,
        value: NaN,
      };
      const out = joinAltFeatures(panel, ["days_to_next_earnings"], [announced]);
      assert.equal(out[t * n + bbb], ahead, `known ${announced.knownAt} ≤ D(${t})`);
      const notYet = joinAltFeatures(panel, ["days_to_next_earnings"], [{
        ...announced,
        knownAt: D[t] + rng.integer(1, 5 * DAY),
      }]);
      assert.ok(Number.isNaN(notYet[t * n + bbb]), "published after D(t): NaN at t");
      const tBefore = D.findIndex((d) => d >= announced.knownAt);
      for (let k = 0; k < tBefore; k++) assert.ok(Number.isNaN(out[k * n + bbb]));
    }
  });

  Deno.test(`[seed ${seed}] the live cycle's tail computation equals the full one at the newest bar`, () => {
    const panel = genPanel(seed);
    const values = syntheticAltValues(panel.instruments, panel.timestamps, { seed });
    const names = resolveFeatureSpec(["basic", ...PROP_NAMES].join(","));
    const window = 1 + (seed % 3);
    const bars = featureTailBars(names, window);
    const full = computeFeaturePanel(panel, { names, alt: values });
    const tail = computeFeaturePanelTail(panel, { names, alt: values }, bars);
    const perBar = panel.instruments.length * names.length;
    const T = panel.timestamps.length;
    for (let k = (T - window) * perBar; k < T * perBar; k++) {
      const x = full.values[k], y = tail.values[k];
      if (Number.isNaN(x) && Number.isNaN(y)) continue;
      assert.ok(Object.is(x, y), `cell ${k}: ${x} vs ${y}`);
    }
  });
}
