/**
 * WebAssembly text (WAT) of the kernel backend's numeric core: register-blocked
 * f32x4 matrix products, a vectorised tanh, and a fused gradient-clip + Adam
 * step. Generated from TypeScript so the unrolled register blocks are written
 * once; `tools/build_kernel.ts` assembles it with `wabt` into `_kernel_wasm.ts`
 * (committed), and `tests/agents_kernel_test.ts` checks the two still match.
 *
 * All arithmetic is IEEE float32 with separate multiply and add (no relaxed
 * SIMD, no fused multiply-add), so results are bit-identical on every machine.
 * Every product accumulates in float32 in a fixed order.
 *
 * Layouts: row-major, every column count a multiple of 4 (the caller pads),
 * every row count of `mm` a multiple of {@linkcode MM_ROWS}.
 *
 * @module
 */

/** Rows per register block of `mm`. */
export const MM_ROWS = 4;
/** f32x4 vectors (4 columns each) per register block of `mm`. */
export const MM_VECS = 2;
/** f32x4 vectors per register block of `mmTn` (which blocks 4 output rows). */
export const TN_VECS = 2;

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

function f32x4(x: number): string {
  return `(v128.const f32x4 ${x} ${x} ${x} ${x})`;
}

/**
 * `mm(a, b, c, M, K, N, bias)`: `C[M×N] = A[M×K]·B[K×N] (+ bias[N] if bias ≠ 0)`.
 * Blocks `rows × vecs·4` outputs in registers; a tail loop takes one vector at a time.
 */
function mmFunc(rows: number, vecs: number): string {
  const block = (v: number, label: string): string => {
    const accs = range(rows).flatMap((r) => range(v).map((j) => `$c${r}_${j}`));
    const init =
      range(v).map((j) =>
        `(local.set $t${j} (if (result v128) (local.get $bias) (then (v128.load offset=${
          16 * j
        } (i32.add (local.get $bias) (i32.shl (local.get $n) (i32.const 2))))) (else (v128.const i32x4 0 0 0 0))))`
      ).join("\n") + "\n" +
      range(rows).flatMap((r) => range(v).map((j) => `(local.set $c${r}_${j} (local.get $t${j}))`))
        .join("\n");
    const body =
      range(v).map((j) => `(local.set $b${j} (v128.load offset=${16 * j} (local.get $pb)))`).join(
        "\n",
      ) + "\n" +
      range(rows).map((r) =>
        `(local.set $s (v128.load32_splat (i32.add (local.get $pa) (local.get $ra${r}))))\n` +
        range(v).map((j) =>
          `(local.set $c${r}_${j} (f32x4.add (local.get $c${r}_${j}) (f32x4.mul (local.get $s) (local.get $b${j}))))`
        ).join("\n")
      ).join("\n");
    const store = range(rows).flatMap((r) =>
      range(v).map((j) =>
        `(v128.store offset=${
          16 * j
        } (i32.add (local.get $pc) (local.get $rc${r})) (local.get $c${r}_${j}))`
      )
    ).join("\n");
    void accs;
    return `
      (block $${label}_done (loop $${label}_loop
        (br_if $${label}_done (i32.gt_u (i32.add (local.get $n) (i32.const ${
      4 * v
    })) (local.get $N)))
        ${init}
        (local.set $pa (i32.add (local.get $a) (i32.mul (local.get $m) (local.get $rowA))))
        (local.set $pb (i32.add (local.get $b) (i32.shl (local.get $n) (i32.const 2))))
        (local.set $k (local.get $K))
        (block $${label}_kd (loop $${label}_kl
          (br_if $${label}_kd (i32.eqz (local.get $k)))
          ${body}
          (local.set $pa (i32.add (local.get $pa) (i32.const 4)))
          (local.set $pb (i32.add (local.get $pb) (local.get $rowB)))
          (local.set $k (i32.sub (local.get $k) (i32.const 1)))
          (br $${label}_kl)))
        (local.set $pc (i32.add (local.get $c) (i32.add (i32.mul (local.get $m) (local.get $rowB)) (i32.shl (local.get $n) (i32.const 2)))))
        ${store}
        (local.set $n (i32.add (local.get $n) (i32.const ${4 * v})))
        (br $${label}_loop)))`;
  };
  const locals = [
    ...range(rows).flatMap((r) => range(vecs).map((j) => `(local $c${r}_${j} v128)`)),
    ...range(vecs).map((j) => `(local $b${j} v128) (local $t${j} v128)`),
    ...range(rows).map((r) => `(local $ra${r} i32) (local $rc${r} i32)`),
  ].join(" ");
  return `
  (func (export "mm") (param $a i32) (param $b i32) (param $c i32) (param $M i32) (param $K i32) (param $N i32) (param $bias i32)
    (local $m i32) (local $n i32) (local $k i32) (local $pa i32) (local $pb i32) (local $pc i32)
    (local $rowA i32) (local $rowB i32) (local $s v128) ${locals}
    (local.set $rowA (i32.shl (local.get $K) (i32.const 2)))
    (local.set $rowB (i32.shl (local.get $N) (i32.const 2)))
    ${
    range(rows).map((r) =>
      `(local.set $ra${r} (i32.mul (local.get $rowA) (i32.const ${r})))
    (local.set $rc${r} (i32.mul (local.get $rowB) (i32.const ${r})))`
    ).join("\n")
  }
    (block $m_done (loop $m_loop
      (br_if $m_done (i32.ge_u (local.get $m) (local.get $M)))
      (local.set $n (i32.const 0))
      ${block(vecs, "wide")}
      ${vecs > 1 ? block(1, "tail") : ""}
      (local.set $m (i32.add (local.get $m) (i32.const ${rows})))
      (br $m_loop))))`;
}

/**
 * `mmTn(a, b, c, M, K, N)`: `C[K×N] = A[M×K]ᵀ·B[M×N]` (weight gradients: inputs
 * transposed times output deltas). Blocks 4 rows of C × `vecs` vectors.
 */
function mmTnFunc(vecs: number): string {
  const block = (v: number, label: string): string => {
    const zero = range(4).flatMap((r) =>
      range(v).map((j) => `(local.set $c${r}_${j} (v128.const i32x4 0 0 0 0))`)
    ).join("\n");
    const body =
      range(v).map((j) => `(local.set $b${j} (v128.load offset=${16 * j} (local.get $pb)))`).join(
        "\n",
      ) + "\n" +
      range(4).map((r) =>
        `(local.set $s (v128.load32_splat offset=${4 * r} (local.get $pa)))\n` +
        range(v).map((j) =>
          `(local.set $c${r}_${j} (f32x4.add (local.get $c${r}_${j}) (f32x4.mul (local.get $s) (local.get $b${j}))))`
        ).join("\n")
      ).join("\n");
    const store = range(4).flatMap((r) =>
      range(v).map((j) =>
        `(v128.store offset=${
          16 * j
        } (i32.add (local.get $pc) (local.get $rc${r})) (local.get $c${r}_${j}))`
      )
    ).join("\n");
    return `
      (block $${label}_done (loop $${label}_loop
        (br_if $${label}_done (i32.gt_u (i32.add (local.get $n) (i32.const ${
      4 * v
    })) (local.get $N)))
        ${zero}
        (local.set $pa (i32.add (local.get $a) (i32.shl (local.get $k) (i32.const 2))))
        (local.set $pb (i32.add (local.get $b) (i32.shl (local.get $n) (i32.const 2))))
        (local.set $m (local.get $M))
        (block $${label}_md (loop $${label}_ml
          (br_if $${label}_md (i32.eqz (local.get $m)))
          ${body}
          (local.set $pa (i32.add (local.get $pa) (local.get $rowA)))
          (local.set $pb (i32.add (local.get $pb) (local.get $rowB)))
          (local.set $m (i32.sub (local.get $m) (i32.const 1)))
          (br $${label}_ml)))
        (local.set $pc (i32.add (local.get $c) (i32.add (i32.mul (local.get $k) (local.get $rowB)) (i32.shl (local.get $n) (i32.const 2)))))
        ${store}
        (local.set $n (i32.add (local.get $n) (i32.const ${4 * v})))
        (br $${label}_loop)))`;
  };
  const locals = [
    ...range(4).flatMap((r) => range(vecs).map((j) => `(local $c${r}_${j} v128)`)),
    ...range(vecs).map((j) => `(local $b${j} v128)`),
    ...range(4).map((r) => `(local $rc${r} i32)`),
  ].join(" ");
  return `
  (func (export "mmTn") (param $a i32) (param $b i32) (param $c i32) (param $M i32) (param $K i32) (param $N i32)
    (local $m i32) (local $n i32) (local $k i32) (local $pa i32) (local $pb i32) (local $pc i32)
    (local $rowA i32) (local $rowB i32) (local $s v128) ${locals}
    (local.set $rowA (i32.shl (local.get $K) (i32.const 2)))
    (local.set $rowB (i32.shl (local.get $N) (i32.const 2)))
    ${
    range(4).map((r) => `(local.set $rc${r} (i32.mul (local.get $rowB) (i32.const ${r})))`).join(
      "\n",
    )
  }
    (block $k_done (loop $k_loop
      (br_if $k_done (i32.ge_u (local.get $k) (local.get $K)))
      (local.set $n (i32.const 0))
      ${block(vecs, "wide")}
      ${vecs > 1 ? block(1, "tail") : ""}
      (local.set $k (i32.add (local.get $k) (i32.const 4)))
      (br $k_loop))))`;
}

/*
 * Tanh: Cephes `tanhf` on four lanes — an odd polynomial for |x| < 0.625,
 * `1 − 2/(e^{2|x|} + 1)` above (Cephes `expf` polynomial, |x| clamped to 10, 2ⁿ
 * built in the exponent bits after a magic-number rounding), sign restored.
 * Maximum error a few float32 ulps. Constants live in locals set before the
 * loop, because V8 rebuilds a `v128.const` at every use.
 */
const TANH_CONSTS: Record<string, number> = {
  p0: -5.70498872745e-3,
  p1: 2.06390887954e-2,
  p2: -5.37397155531e-2,
  p3: 1.33314422036e-1,
  p4: -3.33332819422e-1,
  two: 2,
  ten: 10,
  log2e: 1.44269504088896341,
  c1: 0.693359375,
  c2: -2.12194440e-4,
  e0: 1.9875691500e-4,
  e1: 1.3981999507e-3,
  e2: 8.3334519073e-3,
  e3: 4.1665795894e-2,
  e4: 1.6666665459e-1,
  e5: 5.0000001201e-1,
  one: 1,
  small: 0.625,
  // 1.5·2²³ + 127: adding it rounds to an integer n and leaves n + 127 in the low mantissa bits
  magic: 12583039,
};
const K = (name: string): string => `(local.get $k_${name})`;

const TANH_LOCALS = [
  "(local $x v128) (local $ax v128) (local $z v128) (local $tp v128) (local $e v128) (local $tn v128) (local $r v128) (local $big v128)",
  ...Object.keys(TANH_CONSTS).map((k) => `(local $k_${k} v128)`),
].join(" ");

const TANH_PROLOGUE = Object.entries(TANH_CONSTS).map(([k, v]) => `(local.set $k_${k} ${f32x4(v)})`)
  .join("\n");

/** Inline tanh of local `$x`, leaving the result on the stack. */
const TANH_BODY = `
    (local.set $ax (f32x4.abs (local.get $x)))
    ;; small: x + x·z·P(z), z = x²
    (local.set $z (f32x4.mul (local.get $x) (local.get $x)))
    (local.set $tp (f32x4.add (f32x4.mul ${K("p0")} (local.get $z)) ${K("p1")}))
    (local.set $tp (f32x4.add (f32x4.mul (local.get $tp) (local.get $z)) ${K("p2")}))
    (local.set $tp (f32x4.add (f32x4.mul (local.get $tp) (local.get $z)) ${K("p3")}))
    (local.set $tp (f32x4.add (f32x4.mul (local.get $tp) (local.get $z)) ${K("p4")}))
    (local.set $tp (f32x4.add (local.get $x) (f32x4.mul (f32x4.mul (local.get $x) (local.get $z)) (local.get $tp))))
    ;; big: e = exp(2·min(|x|, 10)); n = round(e·log2 e); r = e − n·ln 2 (two parts)
    (local.set $e (f32x4.mul ${K("two")} (f32x4.min (local.get $ax) ${K("ten")})))
    (local.set $tn (f32x4.add (f32x4.mul (local.get $e) ${K("log2e")}) ${K("magic")}))
    (local.set $z (f32x4.sub (local.get $tn) ${K("magic")}))
    (local.set $e (f32x4.sub (local.get $e) (f32x4.mul (local.get $z) ${K("c1")})))
    (local.set $e (f32x4.sub (local.get $e) (f32x4.mul (local.get $z) ${K("c2")})))
    (local.set $z (f32x4.mul (local.get $e) (local.get $e)))
    (local.set $r (f32x4.add (f32x4.mul ${K("e0")} (local.get $e)) ${K("e1")}))
    (local.set $r (f32x4.add (f32x4.mul (local.get $r) (local.get $e)) ${K("e2")}))
    (local.set $r (f32x4.add (f32x4.mul (local.get $r) (local.get $e)) ${K("e3")}))
    (local.set $r (f32x4.add (f32x4.mul (local.get $r) (local.get $e)) ${K("e4")}))
    (local.set $r (f32x4.add (f32x4.mul (local.get $r) (local.get $e)) ${K("e5")}))
    (local.set $r (f32x4.add (f32x4.add (f32x4.mul (local.get $r) (local.get $z)) (local.get $e)) ${
  K("one")
}))
    ;; × 2ⁿ: the low mantissa bits of tn hold n + 127; shift them into the exponent
    (local.set $r (f32x4.mul (local.get $r) (i32x4.shl (local.get $tn) (i32.const 23))))
    (local.set $big (f32x4.sub ${K("one")} (f32x4.div ${K("two")} (f32x4.add (local.get $r) ${
  K("one")
}))))
    ;; restore the sign of x on the big branch
    (local.set $big (v128.or (local.get $big) (v128.and (local.get $x) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000))))
    (v128.bitselect (local.get $tp) (local.get $big) (f32x4.lt (local.get $ax) ${K("small")}))`;

/** Element-wise helpers over `n` floats (`n` a multiple of 4). */
const ELEMENTWISE = `
  (func (export "tanh") (param $p i32) (param $n i32)
    (local $end i32) ${TANH_LOCALS}
    ${TANH_PROLOGUE}
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $x (v128.load (local.get $p)))
      (v128.store (local.get $p) ${TANH_BODY})
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (br $l))))

  ;; d[i] *= 1 - h[i]² (back through tanh, h = tanh output)
  (func (export "tanhGrad") (param $d i32) (param $h i32) (param $n i32)
    (local $end i32) (local $hv v128)
    (local.set $end (i32.add (local.get $d) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $d) (local.get $end)))
      (local.set $hv (v128.load (local.get $h)))
      (v128.store (local.get $d) (f32x4.mul (v128.load (local.get $d))
        (f32x4.sub ${f32x4(1)} (f32x4.mul (local.get $hv) (local.get $hv)))))
      (local.set $d (i32.add (local.get $d) (i32.const 16)))
      (local.set $h (i32.add (local.get $h) (i32.const 16)))
      (br $l))))

  ;; dst[N] = column sums of src[M×N]
  (func (export "colSum") (param $src i32) (param $dst i32) (param $M i32) (param $N i32)
    (local $n i32) (local $m i32) (local $p i32) (local $acc v128) (local $row i32)
    (local.set $row (i32.shl (local.get $N) (i32.const 2)))
    (block $nd (loop $nl
      (br_if $nd (i32.ge_u (local.get $n) (local.get $N)))
      (local.set $acc (v128.const i32x4 0 0 0 0))
      (local.set $p (i32.add (local.get $src) (i32.shl (local.get $n) (i32.const 2))))
      (local.set $m (local.get $M))
      (block $md (loop $ml
        (br_if $md (i32.eqz (local.get $m)))
        (local.set $acc (f32x4.add (local.get $acc) (v128.load (local.get $p))))
        (local.set $p (i32.add (local.get $p) (local.get $row)))
        (local.set $m (i32.sub (local.get $m) (i32.const 1)))
        (br $ml)))
      (v128.store (i32.add (local.get $dst) (i32.shl (local.get $n) (i32.const 2))) (local.get $acc))
      (local.set $n (i32.add (local.get $n) (i32.const 4)))
      (br $nl))))

  ;; dst[C×R] = src[R×C]ᵀ
  (func (export "transpose") (param $src i32) (param $dst i32) (param $R i32) (param $C i32)
    (local $r i32) (local $c i32)
    (block $rd (loop $rl
      (br_if $rd (i32.ge_u (local.get $r) (local.get $R)))
      (local.set $c (i32.const 0))
      (block $cd (loop $cl
        (br_if $cd (i32.ge_u (local.get $c) (local.get $C)))
        (f32.store
          (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $c) (local.get $R)) (local.get $r)) (i32.const 2)))
          (f32.load (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $r) (local.get $C)) (local.get $c)) (i32.const 2)))))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $cl)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rl))))

  ;; Σ g[i]² over n floats, four float32 partial sums added lane 0..3 at the end
  (func (export "sumSq") (param $g i32) (param $n i32) (result f32)
    (local $end i32) (local $acc v128) (local $v v128)
    (local.set $end (i32.add (local.get $g) (i32.shl (local.get $n) (i32.const 2))))
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $g) (local.get $end)))
      (local.set $v (v128.load (local.get $g)))
      (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $v) (local.get $v))))
      (local.set $g (i32.add (local.get $g) (i32.const 16)))
      (br $l)))
    (f32.add (f32.add (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
      (f32x4.extract_lane 2 (local.get $acc))) (f32x4.extract_lane 3 (local.get $acc))))

  ;; Adam (PyTorch's form) on n floats, gradient first scaled by gs (global-norm clip):
  ;;   g ← gs·g;  m ← b1·m + (1−b1)·g;  v ← b2·v + (1−b2)·g²
  ;;   p ← p − step·(m / (√v · (1/sbc2) + eps)),  step = lr / (1 − b1ᵗ),  sbc2 = √(1 − b2ᵗ)
  (func (export "adam") (param $p i32) (param $g i32) (param $m i32) (param $v i32) (param $n i32)
      (param $gs f32) (param $b1 f32) (param $b2 f32) (param $step f32) (param $sbc2 f32) (param $eps f32)
    (local $end i32) (local $gv v128) (local $mv v128) (local $vv v128)
    (local $GS v128) (local $B1 v128) (local $B2 v128) (local $C1 v128) (local $C2 v128) (local $ST v128) (local $SB v128) (local $EP v128)
    (local.set $GS (f32x4.splat (local.get $gs)))
    (local.set $B1 (f32x4.splat (local.get $b1)))
    (local.set $B2 (f32x4.splat (local.get $b2)))
    (local.set $C1 (f32x4.splat (f32.sub (f32.const 1) (local.get $b1))))
    (local.set $C2 (f32x4.splat (f32.sub (f32.const 1) (local.get $b2))))
    (local.set $ST (f32x4.splat (local.get $step)))
    (local.set $SB (f32x4.splat (f32.div (f32.const 1) (local.get $sbc2))))
    (local.set $EP (f32x4.splat (local.get $eps)))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $gv (f32x4.mul (v128.load (local.get $g)) (local.get $GS)))
      (local.set $mv (f32x4.add (f32x4.mul (local.get $B1) (v128.load (local.get $m))) (f32x4.mul (local.get $C1) (local.get $gv))))
      (local.set $vv (f32x4.add (f32x4.mul (local.get $B2) (v128.load (local.get $v)))
        (f32x4.mul (local.get $C2) (f32x4.mul (local.get $gv) (local.get $gv)))))
      (v128.store (local.get $m) (local.get $mv))
      (v128.store (local.get $v) (local.get $vv))
      (v128.store (local.get $p) (f32x4.sub (v128.load (local.get $p))
        (f32x4.mul (local.get $ST) (f32x4.div (local.get $mv)
          (f32x4.add (f32x4.mul (f32x4.sqrt (local.get $vv)) (local.get $SB)) (local.get $EP))))))
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (local.set $g (i32.add (local.get $g) (i32.const 16)))
      (local.set $m (i32.add (local.get $m) (i32.const 16)))
      (local.set $v (i32.add (local.get $v) (i32.const 16)))
      (br $l))))`;

/**
 * The complete module text.
 * @returns WAT source of the kernel module (exports `mem`, `mm`, `mmTn`, `tanh`,
 *   `tanhGrad`, `colSum`, `transpose`, `sumSq`, `adam`).
 * @example
 * ```ts
 * const wat = kernelWat(); // assembled by tools/build_kernel.ts
 * ```
 */
export function kernelWat(): string {
  return `(module
  (memory (export "mem") 1)
  ${mmFunc(MM_ROWS, MM_VECS)}
  ${mmTnFunc(TN_VECS)}
  ${ELEMENTWISE}
)
`;
}
