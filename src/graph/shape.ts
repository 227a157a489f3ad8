/**
 * Shape inference rules, pure functions over `Shape`. A symbolic dim matches only itself or 1; two
 * different names, or a name against a size other than 1, fail at build time rather than at run time.
 */
import { InvalidArgumentError, ShapeError } from "../errors.js";
import { type Dim, formatShape, type Shape } from "./types.js";

export function sameDim(a: Dim, b: Dim): boolean {
  return a === b;
}

export function isStatic(shape: Shape): shape is readonly number[] {
  return shape.every((d) => typeof d === "number");
}

/** Normalizes a possibly negative axis against `rank`; `op` names the operator in the error. */
export function normAxis(axis: number, rank: number, op: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new InvalidArgumentError(`${op}: axis ${axis} is out of range for rank ${rank}`);
  }
  return a;
}

/** Numpy-style multidirectional broadcasting of any number of shapes. */
export function broadcast(op: string, ...shapes: Shape[]): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const k = s.length - rank + i;
      if (k < 0) continue;
      const e = s[k];
      if (e === 1 || sameDim(e, d)) continue;
      if (d === 1) {
        d = e;
        continue;
      }
      throw new ShapeError(
        `${op}: shapes ${shapes.map(formatShape).join(" and ")} do not broadcast (dim ${i}: ${d} vs ${e})`,
      );
    }
    out.push(d);
  }
  return out;
}

/** MatMul with numpy semantics: 1-D operands are promoted then the added axis removed. */
export function matmulShape(a: Shape, b: Shape): Dim[] {
  if (a.length === 0 || b.length === 0) {
    throw new ShapeError(`MatMul: scalars are not allowed, got ${formatShape(a)} and ${formatShape(b)}`);
  }
  const a2 = a.length === 1 ? [1, a[0]] : a;
  const b2 = b.length === 1 ? [b[0], 1] : b;
  const k1 = a2[a2.length - 1];
  const k2 = b2[b2.length - 2];
  if (!sameDim(k1, k2)) {
    throw new ShapeError(
      `MatMul: inner dims differ (${k1} vs ${k2}) for shapes ${formatShape(a)} and ${formatShape(b)}`,
    );
  }
  const batch = broadcast("MatMul", a2.slice(0, -2), b2.slice(0, -2));
  const out: Dim[] = [...batch];
  if (a.length > 1) out.push(a2[a2.length - 2]);
  if (b.length > 1) out.push(b2[b2.length - 1]);
  return out;
}

/** Splits a shape into its numeric product and the multiset of its symbolic names. */
function factor(shape: Shape): { n: number; syms: string[] } {
  let n = 1;
  const syms: string[] = [];
  for (const d of shape) {
    if (typeof d === "number") n *= d;
    else syms.push(d);
  }
  return { n, syms };
}

/**
 * Reshape target with ONNX semantics: 0 copies the input dim (allowzero = 0), -1 is inferred.
 * `fresh` names a dim that cannot be inferred at build time (e.g. symbolic input over a size).
 */
export function reshapeShape(input: Shape, target: readonly number[], fresh: () => string): Dim[] {
  const fail = (why: string) =>
    new ShapeError(`Reshape: cannot reshape ${formatShape(input)} to [${target.join(", ")}]: ${why}`);
  const out: Dim[] = target.map((t, i) => {
    if (t === 0) {
      if (i >= input.length) throw fail(`0 at position ${i} has no input dim to copy`);
      return input[i];
    }
    if (t < -1 || !Number.isInteger(t)) throw fail(`invalid size ${t}`);
    return t;
  });
  const minusOne = out.filter((d) => d === -1).length;
  if (minusOne > 1) throw fail("more than one -1");
  const inF = factor(input);
  const known = factor(out.filter((d) => d !== -1));
  const rest = [...inF.syms];
  for (const s of known.syms) {
    const at = rest.indexOf(s);
    if (at < 0) {
      if (minusOne === 0) throw fail(`symbolic dim "${s}" is not in the input`);
      // A name that the input does not contain: the remaining size can only be known at run time.
      return out.map((d) => (d === -1 ? fresh() : d));
    }
    rest.splice(at, 1);
  }
  if (minusOne === 0) {
    if (rest.length > 0 || inF.n !== known.n) throw fail("element counts differ");
    return out;
  }
  if (known.n === 0 || inF.n % known.n !== 0) {
    if (rest.length === 0) throw fail(`${inF.n} elements do not divide by ${known.n}`);
    return out.map((d) => (d === -1 ? fresh() : d));
  }
  const ratio = inF.n / known.n;
  let inferred: Dim;
  if (rest.length === 0) inferred = ratio;
  else if (rest.length === 1 && ratio === 1) inferred = rest[0];
  else inferred = fresh();
  return out.map((d) => (d === -1 ? inferred : d));
}

export function transposeShape(input: Shape, perm: readonly number[]): Dim[] {
  const sorted = [...perm].sort((x, y) => x - y);
  if (perm.length !== input.length || sorted.some((p, i) => p !== i)) {
    throw new ShapeError(
      `Transpose: perm [${perm.join(", ")}] is not a permutation of the axes of ${formatShape(input)}`,
    );
  }
  return perm.map((p) => input[p]);
}

export function concatShape(shapes: Shape[], axis: number): Dim[] {
  const rank = shapes[0].length;
  const a = normAxis(axis, rank, "Concat");
  let total: Dim = 0;
  for (const s of shapes) {
    const mismatch = s.length !== rank || s.some((d, i) => i !== a && !sameDim(d, shapes[0][i]));
    if (mismatch) {
      throw new ShapeError(
        `Concat: shapes ${shapes.map(formatShape).join(" and ")} differ outside axis ${axis}`,
      );
    }
    const d = s[a];
    total = typeof total === "number" && typeof d === "number" ? total + d : `${total}+${d}`;
  }
  const out = [...shapes[0]];
  out[a] = total;
  return out;
}

/** Gather along `axis`: the indices' shape replaces that axis. */
export function gatherShape(data: Shape, indices: Shape, axis: number): Dim[] {
  const a = normAxis(axis, data.length, "Gather");
  return [...data.slice(0, a), ...indices, ...data.slice(a + 1)];
}

/** Slice with constant starts/ends/steps on `axes` (ONNX clamping rules). */
export function sliceShape(
  input: Shape,
  starts: readonly number[],
  ends: readonly number[],
  axes: readonly number[],
  steps: readonly number[],
  fresh: () => string,
): Dim[] {
  const out: Dim[] = [...input];
  axes.forEach((axis, i) => {
    const a = normAxis(axis, input.length, "Slice");
    const dim = input[a];
    const step = steps[i];
    if (step === 0) throw new InvalidArgumentError("Slice: step 0 is not allowed");
    if (typeof dim !== "number") {
      out[a] = fresh();
      return;
    }
    const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
    let s = starts[i] < 0 ? starts[i] + dim : starts[i];
    let e = ends[i] < 0 ? ends[i] + dim : ends[i];
    if (step > 0) {
      s = clamp(s, 0, dim);
      e = clamp(e, 0, dim);
      out[a] = Math.max(0, Math.ceil((e - s) / step));
    } else {
      s = clamp(s, 0, dim - 1);
      e = clamp(e, -1, dim - 1);
      out[a] = Math.max(0, Math.ceil((e - s) / step));
    }
  });
  return out;
}

export function reduceShape(input: Shape, axes: readonly number[], keepdims: boolean, op: string): Dim[] {
  const norm = new Set(axes.map((a) => normAxis(a, input.length, op)));
  const out: Dim[] = [];
  input.forEach((d, i) => {
    if (!norm.has(i)) out.push(d);
    else if (keepdims) out.push(1);
  });
  return out;
}

export function unsqueezeShape(input: Shape, axes: readonly number[]): Dim[] {
  const rank = input.length + axes.length;
  const norm = new Set(axes.map((a) => normAxis(a, rank, "Unsqueeze")));
  const out: Dim[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) out.push(norm.has(i) ? 1 : input[k++]);
  return out;
}

export function squeezeShape(input: Shape, axes: readonly number[]): Dim[] {
  const norm = new Set(axes.map((a) => normAxis(a, input.length, "Squeeze")));
  for (const a of norm) {
    if (input[a] !== 1) throw new ShapeError(`Squeeze: axis ${a} of ${formatShape(input)} is not 1`);
  }
  return input.filter((_, i) => !norm.has(i));
}

/** Conv over NC[spatial] with weight [M, C/group, k...]; pads as [begin..., end...]. */
export function convShape(
  x: Shape,
  w: Shape,
  strides: readonly number[],
  pads: readonly number[],
  dilations: readonly number[],
  group: number,
  fresh: () => string,
): Dim[] {
  const spatial = x.length - 2;
  if (spatial < 1 || w.length !== x.length) {
    throw new ShapeError(`Conv: input ${formatShape(x)} and weight ${formatShape(w)} need the same rank ≥ 3`);
  }
  const c = x[1];
  if (typeof c === "number" && typeof w[1] === "number" && c !== w[1] * group) {
    throw new ShapeError(
      `Conv: input ${formatShape(x)} has ${c} channels, weight ${formatShape(w)} × group ${group} expects ${(w[1] as number) * group}`,
    );
  }
  const out: Dim[] = [x[0], w[0]];
  for (let i = 0; i < spatial; i++) {
    const n = x[2 + i];
    const k = w[2 + i];
    if (typeof n !== "number" || typeof k !== "number") {
      out.push(fresh());
      continue;
    }
    const eff = dilations[i] * (k - 1) + 1;
    const size = Math.floor((n + pads[i] + pads[spatial + i] - eff) / strides[i]) + 1;
    if (size < 1) throw new ShapeError(`Conv: kernel ${formatShape(w)} does not fit input ${formatShape(x)}`);
    out.push(size);
  }
  return out;
}
