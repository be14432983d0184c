import assert from "node:assert/strict";
import { box, contains, discrete, flatDim, multiDiscrete, sample } from "@lib/env/mod.ts";
import { Rng } from "@lib/util/rng.ts";

Deno.test("box() broadcasts scalar bounds and checks per-element bounds", () => {
  const b = box([2, 3], { low: -1, high: 1 });
  assert.equal(flatDim(b), 6);
  assert.deepEqual([...b.low], [-1, -1, -1, -1, -1, -1]);
  assert.deepEqual([...box([2], { low: [0, 1], high: 2 }).low], [0, 1]);
  assert.throws(() => box([2], { low: [0, 1, 2] }), /3 entries/);
  assert.throws(() => box([1], { low: 2, high: 1 }), RangeError);
});

Deno.test("contains() checks length, bounds, NaN and integrality", () => {
  const b = box([2], { low: -1, high: 1 });
  assert.equal(contains(b, new Float32Array([1, -1])), true);
  assert.equal(contains(b, [1.5, 0]), false);
  assert.equal(contains(b, [NaN, 0]), false);
  assert.equal(contains(b, [0]), false);
  assert.equal(contains(box([1]), [NaN]), false);
  assert.equal(contains(discrete(3), 2), true);
  assert.equal(contains(discrete(3), 3), false);
  assert.equal(contains(discrete(3), [1.5]), false);
  assert.equal(contains(multiDiscrete([3, 2]), [2, 1]), true);
  assert.equal(contains(multiDiscrete([3, 2]), [2, 2]), false);
});

Deno.test("flatDim() counts box elements, one per discrete head", () => {
  assert.equal(flatDim(discrete(5)), 1);
  assert.equal(flatDim(multiDiscrete([3, 3, 3])), 3);
  assert.throws(() => discrete(0), RangeError);
  assert.throws(() => multiDiscrete([3, 1.5]), RangeError);
});

Deno.test("sample() draws seeded members of bounded, half-bounded and unbounded spaces", () => {
  const spaces = [
    box([4], { low: -1, high: 1 }),
    box([3], { low: [0, -Infinity, -Infinity], high: [Infinity, 5, Infinity] }),
    discrete(4),
    multiDiscrete([3, 2, 5]),
  ];
  for (const space of spaces) {
    const rng = new Rng(7);
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const x = sample(space, rng);
      assert.ok(contains(space, x), `${space.kind} sample ${x} not contained`);
      seen.add(x.join(","));
    }
    assert.ok(seen.size > 1, `${space.kind} samples vary`);
    assert.deepEqual(sample(space, new Rng(3)), sample(space, new Rng(3)));
  }
});
