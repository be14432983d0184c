import assert from "node:assert/strict";
import { DEFAULT_SEED, deriveSeed, Rng, SEED_STREAMS, type SeedStream } from "@lib/util/mod.ts";

Deno.test("deriveSeed() gives each stream of one seed its own 32-bit seed", () => {
  const seeds = SEED_STREAMS.map((s) => deriveSeed(7, s));
  assert.equal(new Set(seeds).size, SEED_STREAMS.length);
  for (const s of seeds) assert.ok(Number.isInteger(s) && s >= 0 && s < 2 ** 32, `${s}`);
});

Deno.test("deriveSeed() is a pure function: the same seed gives the same streams", () => {
  for (const seed of [0, DEFAULT_SEED, 2, -3, 123456789]) {
    for (const stream of SEED_STREAMS) {
      assert.equal(deriveSeed(seed, stream), deriveSeed(seed, stream));
      const a = new Rng(deriveSeed(seed, stream)), b = new Rng(deriveSeed(seed, stream));
      for (let i = 0; i < 5; i++) assert.equal(a.nextUint32(), b.nextUint32());
    }
  }
});

Deno.test("deriveSeed(): streams differ from each other and from neighbouring seeds' streams", () => {
  // `seed + k` schemes collide (seed 1's stream 1 = seed 2's stream 0); a hash must not.
  const all = new Set<number>();
  for (let seed = 0; seed < 200; seed++) {
    for (const stream of SEED_STREAMS) all.add(deriveSeed(seed, stream));
  }
  assert.equal(all.size, 200 * SEED_STREAMS.length);
  // The random numbers of two streams are not the same sequence, nor shifted copies.
  const draw = (stream: SeedStream) => {
    const r = new Rng(deriveSeed(DEFAULT_SEED, stream));
    return Array.from({ length: 64 }, () => r.nextUint32());
  };
  const noise = draw("actionNoise"), order = draw("minibatch");
  assert.equal(noise.filter((x) => order.includes(x)).length, 0);
});

Deno.test("deriveSeed() refuses a non-integer seed and an unknown stream", () => {
  assert.throws(() => deriveSeed(1.5, "envStarts"), /seed must be an integer, got 1.5/);
  assert.throws(
    () => deriveSeed(1, "weights" as SeedStream),
    /unknown stream "weights"; use one of envStarts, actionNoise/,
  );
});

Deno.test("Rng with the same seed gives the same sequence; another seed differs", () => {
  const a = new Rng(5), b = new Rng(5), c = new Rng(6);
  const xs = Array.from({ length: 8 }, () => a.uniform());
  assert.deepEqual(xs, Array.from({ length: 8 }, () => b.uniform()));
  assert.notDeepEqual(xs, Array.from({ length: 8 }, () => c.uniform()));
  for (const x of xs) assert.ok(x >= 0 && x < 1);
});
