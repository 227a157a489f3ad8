import { ShapeError } from "./errors.js";

/** A dense row-major float32 tensor that carries its dims, so shape mistakes fail at the boundary. */
export interface Tensor {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

export function numel(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

export function tensor(data: Float32Array, dims: readonly number[]): Tensor {
  if (data.length !== numel(dims)) {
    throw new ShapeError(
      `tensor data has ${data.length} elements but dims [${dims.join(", ")}] need ${numel(dims)}`,
    );
  }
  return { data, dims: [...dims] };
}

export function zeros(dims: readonly number[]): Tensor {
  return { data: new Float32Array(numel(dims)), dims: [...dims] };
}

/**
 * Checks `t.dims` against `expected`; `-1` (or a string name) matches any size.
 * `what` names the tensor in the error message.
 */
export function assertDims(
  t: { dims: readonly number[] },
  expected: readonly (number | string)[],
  what: string,
): void {
  const ok =
    t.dims.length === expected.length &&
    expected.every((e, i) => typeof e === "string" || e === -1 || e === t.dims[i]);
  if (!ok) {
    throw new ShapeError(`${what}: expected dims [${expected.join(", ")}], got [${t.dims.join(", ")}]`);
  }
}

/** Row `i` of a 2-D tensor as a view (no copy). */
export function row(t: Tensor, i: number): Float32Array {
  const width = t.dims[t.dims.length - 1];
  return t.data.subarray(i * width, (i + 1) * width);
}
