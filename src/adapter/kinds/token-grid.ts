/**
 * How the merging kinds group patches into tokens on the patch grid.
 *
 * A factor-f kind covers the grid with f×f blocks starting at the top-left patch; block (R, C) holds
 * patches (R·f + dy, C·f + dx) for dy, dx in [0, f), and becomes token R · ⌈cols/f⌉ + C (row-major).
 * A grid whose sides are not multiples of f gets ⌈rows/f⌉ × ⌈cols/f⌉ tokens: the last row and column of
 * blocks are partial, and the slots that fall outside the grid are *missing*:
 *   - pixel-shuffle fills a missing slot with zeros (as llama.cpp pads the grid before its shuffle);
 *   - avgpool averages over the patches present only (the mean of the real patches in the block).
 * NaFlex padding never reaches this code: the encoder returns the real patches only, on their own
 * rows × cols grid (`VisionFeatures.grid`), so padded patches are neither pooled nor shuffled.
 */
import { InvalidArgumentError, ShapeError } from "../../errors.js";
import type { Grid } from "./types.js";

/** The token grid after merging f×f blocks: ⌈rows/f⌉ × ⌈cols/f⌉. */
export function mergedGrid(grid: Grid, factor: number): Grid {
  checkGrid(grid);
  checkFactor(factor);
  return { rows: Math.ceil(grid.rows / factor), cols: Math.ceil(grid.cols / factor) };
}

/** Tokens per image of a fixed-resolution encoder with `side`×`side` patches. */
export function tokensPerImage(side: number, factor: number): number {
  const g = mergedGrid({ rows: side, cols: side }, factor);
  return g.rows * g.cols;
}

export interface BlockIndex {
  /** The merged grid. */
  grid: Grid;
  /**
   * [M, f²] row-major: the feature row of each block slot (slots in (dy, dx) row-major order), or N
   * (one past the last patch: the zero row appended before gathering) for a missing slot.
   */
  index: BigInt64Array;
  /** [M]: 1 / (patches present in the block). */
  inverseCount: Float32Array;
}

/** The gather index of every block of `grid` (see the file comment). */
export function blockIndex(grid: Grid, factor: number): BlockIndex {
  const merged = mergedGrid(grid, factor);
  const n = grid.rows * grid.cols;
  const slots = factor * factor;
  const m = merged.rows * merged.cols;
  const index = new BigInt64Array(m * slots);
  const inverseCount = new Float32Array(m);
  for (let R = 0; R < merged.rows; R++) {
    for (let C = 0; C < merged.cols; C++) {
      const token = R * merged.cols + C;
      let present = 0;
      for (let dy = 0; dy < factor; dy++) {
        for (let dx = 0; dx < factor; dx++) {
          const r = R * factor + dy;
          const c = C * factor + dx;
          const inside = r < grid.rows && c < grid.cols;
          index[token * slots + dy * factor + dx] = BigInt(inside ? r * grid.cols + c : n);
          if (inside) present++;
        }
      }
      inverseCount[token] = 1 / present;
    }
  }
  return { grid: merged, index, inverseCount };
}

function checkGrid(grid: Grid): void {
  if (!Number.isInteger(grid.rows) || !Number.isInteger(grid.cols) || grid.rows < 1 || grid.cols < 1) {
    throw new ShapeError(`patch grid ${grid.rows}×${grid.cols}; expected positive integer sides`);
  }
}

function checkFactor(factor: number): void {
  if (!Number.isInteger(factor) || factor < 1) {
    throw new InvalidArgumentError(`merge factor ${factor}; expected a positive integer`);
  }
}
