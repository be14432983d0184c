/**
 * Seeded orthogonal initialisation computed in plain JavaScript (float64), so the
 * initial weights are bit-identical on every tfjs backend and in the hand-written
 * kernel. Private to lib/agents.
 *
 * @module
 */
import { Rng } from "../util/rng.ts";

/**
 * An orthogonal `[fanIn, fanOut]` kernel (row-major, `x @ W` layout) scaled by
 * `gain`, following `torch.nn.init.orthogonal_` on the `[fanOut, fanIn]` weight:
 * QR of a standard-normal matrix with the sign fixed so `diag(R) > 0` (done here
 * with twice-repeated modified Gram–Schmidt, which gives that same `Q`).
 *
 * @param fanIn Rows of the kernel (inputs).
 * @param fanOut Columns of the kernel (outputs).
 * @param gain Scale (√2 hidden, 0.01 actor head, 1 critic head).
 * @param rng Source of the normal draws.
 * @returns `fanIn × fanOut` values.
 * @example
 * ```ts
 * const w = orthogonalKernel(90, 64, Math.SQRT2, new Rng(1));
 * ```
 */
export function orthogonalKernel(
  fanIn: number,
  fanOut: number,
  gain: number,
  rng: Rng,
): Float32Array {
  // torch's weight is [rows = fanOut, cols = fanIn]; it orthogonalises the taller
  // orientation, a [big, small] matrix, column by column.
  const rows = fanOut, cols = fanIn;
  const big = Math.max(rows, cols), small = Math.min(rows, cols);
  // torch draws the flattened [rows, cols] normal matrix row-major, then transposes
  // it when rows < cols.
  const flat = new Float64Array(rows * cols);
  for (let i = 0; i < flat.length; i++) flat[i] = rng.normal();
  // a: big × small, column-major for cheap column access: a[c * big + r]
  const a = new Float64Array(big * small);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = flat[r * cols + c];
      if (rows >= cols) a[c * big + r] = v; // (r, c) of a [rows × cols]
      else a[r * big + c] = v; // transposed: a is [cols × rows], element (c, r)
    }
  }
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < small; j++) {
      const cj = j * big;
      for (let k = 0; k < j; k++) {
        const ck = k * big;
        let dot = 0;
        for (let i = 0; i < big; i++) dot += a[ck + i] * a[cj + i];
        for (let i = 0; i < big; i++) a[cj + i] -= dot * a[ck + i];
      }
      let norm = 0;
      for (let i = 0; i < big; i++) norm += a[cj + i] * a[cj + i];
      norm = Math.sqrt(norm);
      for (let i = 0; i < big; i++) a[cj + i] /= norm;
    }
  }
  // q (big × small) → torch weight [rows × cols] → our kernel [fanIn × fanOut] = weightᵀ.
  const out = new Float32Array(fanIn * fanOut);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const q = rows >= cols ? a[c * big + r] : a[r * big + c];
      out[c * fanOut + r] = gain * q; // kernel[c][r] = weight[r][c]
    }
  }
  return out;
}
