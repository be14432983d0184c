/**
 * The as-of features through the store (`tt_alt_data` → `loadMarket` → the feature panel),
 * on PGlite and the PostgreSQL server, over several seeds of generated values
 * (`syntheticAltValues`, labelled generated): an instrument whose values known after bar
 * t's decision time were moved later, revised and added to has the same features at or
 * before t as its twin; a value known exactly at a close is used at that bar and not the
 * one before; an announced date known in advance gives `days_to_next_earnings`, one not
 * yet known NaN; the live cycle's tail features equal the full computation; and the
 * panel equals the pure join of the same values.
 */
import assert from "node:assert/strict";
import { type AltValue, upsertAltValues, upsertPrices } from "@lib/db/mod.ts";
import { type BarColumns, decisionTimes } from "@lib/data/mod.ts";
import {
  ALT_FEATURE_NAMES,
  joinAltFeatures,
  resolveFeatureSpec,
  syntheticAltValues,
} from "@lib/features/mod.ts";
import { businessDays } from "@lib/features/synthetic.ts";
import { loadCycleMarket, loadMarket } from "@lib/pipeline/mod.ts";
import { Rng } from "@lib/util/rng.ts";
import { storeFactories } from "./support/stores.ts";

const SEEDS = [1, 2, 3, 4];
const T = 180;
const DAY = 86_400_000;
const SPEC = [
  "return_1",
  ...ALT_FEATURE_NAMES,
  "alt:generated:score",
  "alt:generated:score:decay=2",
  "alt:generated:score:window=3",
  "alt:exact:x",
  "alt:exact:y",
].join(",");

interface Case {
  seed: number;
  /** Bar index of the cut. */
  cut: number;
  /** Bar of the value known exactly at the close. */
  exact: number;
  exactValue: number;
  /** Bar the announcement is published at (exactly at its close), and days ahead. */
  announcedAt: number;
  ahead: number;
  /** Bar at whose close the second announcement is still 1 ms in the future. */
  notYet: number;
  base: AltValue[];
}

function makeCases(timestamps: Float64Array): { cases: Case[]; values: AltValue[] } {
  const D = decisionTimes(timestamps, "1 day");
  const cases: Case[] = [];
  const values: AltValue[] = [];
  for (const seed of SEEDS) {
    const rng = new Rng(seed * 2654435761 % 4294967296);
    const a = `S${seed}A`, b = `S${seed}B`, c = `S${seed}C`;
    const cut = rng.integer(40, T - 40);
    const exact = rng.integer(10, cut);
    const exactValue = 500 + seed + rng.uniform();
    const base = [
      ...syntheticAltValues([a], timestamps, { seed }),
      {
        source: "exact",
        instrument: a,
        field: "x",
        eventTime: D[exact] - 3_600_000,
        knownAt: D[exact],
        value: exactValue,
      },
      {
        source: "exact",
        instrument: a,
        field: "y",
        eventTime: D[exact] - 3_600_000,
        knownAt: D[exact] + 1,
        value: exactValue,
      },
    ];
    // The twin: same past, everything known after D(cut) moved later and changed, plus
    // revisions and new events published after D(cut).
    const after = D[cut];
    const twin = base.map((v) =>
      v.knownAt > after
        ? {
          ...v,
          instrument: b,
          knownAt: v.knownAt + rng.integer(1, 15) * DAY,
          value: 7 * rng.normal(),
        }
        : { ...v, instrument: b }
    );
    for (const v of base.filter((v) => v.knownAt <= after && rng.uniform() < 0.15)) {
      twin.push({
        ...v,
        instrument: b,
        knownAt: after + rng.integer(1, 10 * DAY),
        value: -v.value - 1,
      });
    }
    for (let k = 0; k < 15; k++) {
      const v = base[rng.integer(0, base.length - 1)];
      twin.push({
        ...v,
        instrument: b,
        eventTime: after - rng.integer(0, 6 * DAY),
        knownAt: after + rng.integer(1, 4 * DAY),
        value: rng.normal(),
      });
    }
    const announcedAt = rng.integer(5, T - 80);
    const ahead = rng.integer(1, 40);
    const notYet = announcedAt + 45;
    const announcements: AltValue[] = [
      {
        source: "generated",
        instrument: c,
        field: "announcement",
        eventTime: timestamps[announcedAt] + ahead * DAY + 12 * 3_600_000,
        knownAt: D[announcedAt],
        value: NaN,
      },
      {
        source: "generated",
        instrument: c,
        field: "announcement",
        eventTime: timestamps[T - 1] + 30 * DAY,
        knownAt: D[notYet] + 1,
        value: NaN,
      },
    ];
    values.push(...base, ...twin, ...announcements);
    cases.push({ seed, cut, exact, exactValue, announcedAt, ahead, notYet, base });
  }
  return { cases, values };
}

function bars(instruments: string[], timestamps: Float64Array): BarColumns {
  const rng = new Rng(99);
  const out: BarColumns = {
    instrument: [],
    timestamp: [],
    open: [],
    high: [],
    low: [],
    close: [],
    volume: [],
  };
  const closes = Array.from(timestamps, () => 50 + 5 * rng.uniform());
  for (const s of instruments) {
    timestamps.forEach((ts, k) => {
      out.instrument.push(s);
      out.timestamp.push(ts);
      out.open.push(closes[k]);
      out.high.push(closes[k] + 1);
      out.low.push(closes[k] - 1);
      out.close.push(closes[k]);
      out.volume.push(1000);
    });
  }
  return out;
}

for (const factory of storeFactories()) {
  Deno.test(`[${factory.name}] as-of features from tt_alt_data: look-ahead properties over ${SEEDS.length} seeds`, async (t) => {
    const store = await factory.open();
    try {
      const timestamps = businessDays(T, "2017-01-02");
      const { cases, values } = makeCases(timestamps);
      const instruments = SEEDS.flatMap((s) => [`S${s}A`, `S${s}B`, `S${s}C`]);
      await upsertPrices(store, "1 day", bars(instruments, timestamps));
      assert.ok(await upsertAltValues(store, values) > values.length * 0.95);
      const market = await loadMarket(store, { symbols: instruments, featureSet: SPEC });
      const names = resolveFeatureSpec(SPEC);
      assert.deepEqual(market.features.names, names);
      const fp = market.features;
      const N = fp.instruments.length, F = names.length;
      const cell = (inst: string, bar: number, name: string) =>
        fp.values[(bar * N + fp.instruments.indexOf(inst)) * F + names.indexOf(name)];
      const same = (x: number, y: number) => (Number.isNaN(x) && Number.isNaN(y)) || x === y;

      await t.step("values known after bar t's decision time change nothing at or before t", () => {
        for (const c of cases) {
          let differAfter = 0;
          for (let bar = 0; bar < T; bar++) {
            for (const name of names) {
              const x = cell(`S${c.seed}A`, bar, name), y = cell(`S${c.seed}B`, bar, name);
              if (bar <= c.cut) {
                assert.ok(
                  same(x, y),
                  `seed ${c.seed} ${name} bar ${bar} ≤ cut ${c.cut}: ${x} vs ${y}`,
                );
              } else if (!same(x, y)) differAfter++;
            }
          }
          assert.ok(differAfter > 0, `seed ${c.seed}: the twin differs after the cut`);
        }
      });

      await t.step("the panel read from the store equals the pure join of the same values", () => {
        for (const c of cases) {
          const alt = names.filter((n) => n !== "return_1");
          const one = {
            instruments: [`S${c.seed}A`],
            timestamps: [...timestamps],
            barSize: "1 day",
            close: new Float64Array(T).fill(1),
          };
          const pure = joinAltFeatures(one, alt, c.base);
          for (let bar = 0; bar < T; bar++) {
            alt.forEach((name, f) => {
              const x = Math.fround(pure[bar * alt.length + f]), y = cell(`S${c.seed}A`, bar, name);
              assert.ok(same(x, y), `seed ${c.seed} ${name} bar ${bar}: pure ${x}, store ${y}`);
            });
          }
        }
      });

      await t.step(
        "a value known exactly at the close is used at that bar, not before; 1 ms later waits a bar",
        () => {
          for (const c of cases) {
            const a = `S${c.seed}A`, v = Math.fround(c.exactValue);
            assert.equal(cell(a, c.exact, "alt:exact:x"), v);
            assert.ok(Number.isNaN(cell(a, c.exact - 1, "alt:exact:x")));
            assert.ok(Number.isNaN(cell(a, c.exact, "alt:exact:y")));
            assert.equal(cell(a, c.exact + 1, "alt:exact:y"), v);
          }
        },
      );

      await t.step(
        "an announced date known in advance gives days_to_next_earnings; one not yet known NaN",
        () => {
          for (const c of cases) {
            const inst = `S${c.seed}C`;
            assert.ok(Number.isNaN(cell(inst, c.announcedAt - 1, "days_to_next_earnings")));
            assert.equal(cell(inst, c.announcedAt, "days_to_next_earnings"), c.ahead);
            assert.ok(
              Number.isNaN(cell(inst, c.notYet, "days_to_next_earnings")),
              "published 1 ms after",
            );
            assert.ok(cell(inst, c.notYet + 1, "days_to_next_earnings") > 0);
          }
        },
      );

      await t.step(
        "the live cycle's tail features equal the full computation at the newest bars",
        async () => {
          const window = 2;
          const cycle = await loadCycleMarket(store, {
            symbols: instruments,
            featureSet: SPEC,
            window,
            start: "2017-06-01",
          });
          assert.ok(cycle.features.warmup > 0, "computed over a tail only");
          const n = cycle.features.instruments.length;
          const Tc = cycle.features.timestamps.length;
          assert.equal(cycle.features.timestamps.at(-1), fp.timestamps.at(-1));
          for (let k = (Tc - window) * n * F; k < Tc * n * F; k++) {
            const off = fp.values.length - cycle.features.values.length;
            assert.ok(same(cycle.features.values[k], fp.values[k + off]), `cell ${k}`);
          }
        },
      );
    } finally {
      await store.close();
    }
  });
}
