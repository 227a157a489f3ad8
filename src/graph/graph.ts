/**
 * A typed ONNX graph under construction. Every op method checks its operands' dtypes and shapes and
 * infers the output shape at build time, so a wiring mistake fails where it is made with both shapes
 * in the message. Nodes are appended in creation order, which is a topological order.
 */
import { InvalidArgumentError, ShapeError } from "../errors.js";
import {
  broadcast,
  concatShape,
  convShape,
  gatherShape,
  matmulShape,
  normAxis,
  reduceShape,
  reshapeShape,
  sliceShape,
  squeezeShape,
  transposeShape,
  unsqueezeShape,
} from "./shape.js";
import {
  type Attr,
  attr,
  type Dim,
  type DType,
  formatShape,
  type InitializerData,
  type Node,
  type Shape,
  type Value,
} from "./types.js";

/** A `Value`, or a JS number that becomes a scalar constant of the other operand's dtype. */
export type Operand = Value | number;

interface NameTable {
  used: Set<string>;
  counter: number;
  scalars: Map<string, Value>;
}

export class Graph {
  readonly name: string;
  /** The enclosing graph for a subgraph (a Loop body); `null` for the model's main graph. */
  readonly parent: Graph | null;
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  readonly nodes: Node[] = [];
  readonly initializers: InitializerData[] = [];
  private readonly names: NameTable;

  constructor(name = "main", parent: Graph | null = null) {
    this.name = name;
    this.parent = parent;
    this.names = parent ? parent.names : { used: new Set(), counter: 0, scalars: new Map() };
  }

  /** The main graph; constants live there so that subgraphs can share them. */
  get root(): Graph {
    return this.parent ? this.parent.root : this;
  }

  /** A model-wide unique name starting with `prefix`. */
  uniqueName(prefix: string): string {
    const name = this.freeName(prefix);
    this.names.used.add(name);
    return name;
  }

  /** A name not used yet, without reserving it. */
  private freeName(prefix: string): string {
    let name = prefix;
    while (this.names.used.has(name)) name = `${prefix}_${++this.names.counter}`;
    return name;
  }

  /** A fresh symbolic dim for sizes known only at run time. */
  freshDim(prefix = "d"): string {
    return `${prefix}_${++this.names.counter}`;
  }

  private claim(name: string): string {
    if (this.names.used.has(name))
      throw new InvalidArgumentError(`graph: the name "${name}" is already used`);
    this.names.used.add(name);
    return name;
  }

  private makeValue(name: string, dtype: DType, shape: Shape, producer: Node | null): Value {
    return { graph: this, name, dtype, shape: [...shape], producer };
  }

  /** Declares a graph input; string dims are symbolic (`"batch"`). */
  input(name: string, dtype: DType, shape: Shape): Value {
    const v = this.makeValue(this.claim(name), dtype, shape, null);
    this.inputs.push(v);
    return v;
  }

  /** Declares `value` a graph output named `name` (an Identity node renames when needed). */
  output(value: Value, name: string = value.name): Value {
    this.checkOwned(value, "output");
    const out =
      name === value.name ? value : this.add1("Identity", [value], value.dtype, value.shape, {}, name);
    this.outputs.push(out);
    return out;
  }

  /**
   * Adds a named constant tensor (a weight). float32/float16 take Float32Array (float16 is converted
   * when written), float64 takes Float64Array, int64 takes BigInt64Array; any type takes numbers.
   */
  initializer(
    name: string,
    dtype: DType,
    dims: readonly number[],
    data: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | readonly number[],
  ): Value {
    const n = dims.reduce((a, b) => a * b, 1);
    const typed = toTyped(dtype, data);
    if (typed.length !== n) {
      throw new ShapeError(
        `initializer "${name}": ${typed.length} values do not fill dims ${formatShape(dims)}`,
      );
    }
    return this.addInitializer(this.root.claim(name), dtype, dims, typed);
  }

  private addInitializer(
    name: string,
    dtype: DType,
    dims: readonly number[],
    typed: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array,
  ): Value {
    const root = this.root;
    const v = root.makeValue(name, dtype, dims, null);
    root.initializers.push({ value: v, dims: [...dims], data: typed });
    return v;
  }

  /** An unnamed constant (shape `dims`, default scalar). */
  constant(
    dtype: DType,
    data: readonly number[] | Float32Array | Float64Array | BigInt64Array,
    dims: readonly number[] = [],
  ): Value {
    const typed = toTyped(dtype, data);
    if (typed.length !== dims.reduce((a, b) => a * b, 1)) {
      throw new ShapeError(`constant: ${typed.length} values do not fill dims ${formatShape(dims)}`);
    }
    return this.addInitializer(this.uniqueName("const"), dtype, dims, typed);
  }

  /** A cached scalar constant. */
  scalar(value: number, dtype: DType): Value {
    const key = `${dtype}:${value}`;
    const cached = this.names.scalars.get(key);
    if (cached) return cached;
    const v = this.constant(dtype, [value]);
    this.names.scalars.set(key, v);
    return v;
  }

  /** An int64 1-D constant, for shapes, axes and indices. */
  ints(values: readonly number[]): Value {
    return this.constant("int64", values, [values.length]);
  }

  private checkOwned(v: Value, op: string): void {
    for (let g: Graph | null = this; g; g = g.parent) if (v.graph === g) return;
    throw new InvalidArgumentError(
      `${op}: value "${v.name}" belongs to graph "${v.graph.name}", not to "${this.name}" or its parents`,
    );
  }

  /**
   * Appends a node with explicit output types; op methods call this after inferring shapes.
   * Use it directly for ops the builder has no method for.
   */
  node(
    op: string,
    inputs: readonly (Value | null)[],
    outputs: readonly { dtype: DType; shape: Shape; name?: string }[],
    attrs: Record<string, Attr> = {},
    domain = "",
  ): Value[] {
    for (const v of inputs) if (v) this.checkOwned(v, op);
    const name = this.uniqueName(`${op}_node`);
    const outs: Value[] = [];
    const node: Node = { op, domain, name, inputs: [...inputs], outputs: outs, attrs };
    for (const o of outputs) {
      outs.push(
        this.makeValue(o.name ? this.claim(o.name) : this.uniqueName(`${op}_out`), o.dtype, o.shape, node),
      );
    }
    this.nodes.push(node);
    return outs;
  }

  private add1(
    op: string,
    inputs: (Value | null)[],
    dtype: DType,
    shape: Shape,
    attrs: Record<string, Attr> = {},
    name?: string,
  ): Value {
    return this.node(op, inputs, [{ dtype, shape, name }], attrs)[0];
  }

  private operands(op: string, a: Operand, b: Operand): [Value, Value] {
    if (typeof a === "number" && typeof b === "number") {
      throw new InvalidArgumentError(`${op}: at least one operand must be a graph value`);
    }
    const va = typeof a === "number" ? this.scalar(a, (b as Value).dtype) : a;
    const vb = typeof b === "number" ? this.scalar(b, va.dtype) : b;
    if (va.dtype !== vb.dtype) {
      throw new InvalidArgumentError(
        `${op}: dtypes differ ("${va.dtype}" ${formatShape(va.shape)} vs "${vb.dtype}" ${formatShape(vb.shape)})`,
      );
    }
    return [va, vb];
  }

  private binary(op: string, a: Operand, b: Operand, outType?: DType): Value {
    const [va, vb] = this.operands(op, a, b);
    return this.add1(op, [va, vb], outType ?? va.dtype, broadcast(op, va.shape, vb.shape));
  }

  // ── elementwise ────────────────────────────────────────────────────────────
  add(a: Operand, b: Operand): Value {
    return this.binary("Add", a, b);
  }
  sub(a: Operand, b: Operand): Value {
    return this.binary("Sub", a, b);
  }
  mul(a: Operand, b: Operand): Value {
    return this.binary("Mul", a, b);
  }
  div(a: Operand, b: Operand): Value {
    return this.binary("Div", a, b);
  }
  pow(a: Operand, b: Operand): Value {
    return this.binary("Pow", a, b);
  }
  equal(a: Operand, b: Operand): Value {
    return this.binary("Equal", a, b, "bool");
  }
  less(a: Operand, b: Operand): Value {
    return this.binary("Less", a, b, "bool");
  }
  greater(a: Operand, b: Operand): Value {
    return this.binary("Greater", a, b, "bool");
  }

  private unary(op: string, x: Value, attrs: Record<string, Attr> = {}): Value {
    return this.add1(op, [x], x.dtype, x.shape, attrs);
  }
  sqrt(x: Value): Value {
    return this.unary("Sqrt", x);
  }
  exp(x: Value): Value {
    return this.unary("Exp", x);
  }
  log(x: Value): Value {
    return this.unary("Log", x);
  }
  tanh(x: Value): Value {
    return this.unary("Tanh", x);
  }
  neg(x: Value): Value {
    return this.unary("Neg", x);
  }
  sigmoid(x: Value): Value {
    return this.unary("Sigmoid", x);
  }
  relu(x: Value): Value {
    return this.unary("Relu", x);
  }
  reciprocal(x: Value): Value {
    return this.unary("Reciprocal", x);
  }
  identity(x: Value): Value {
    return this.unary("Identity", x);
  }

  /** Gelu (opset 20); `approximate: "tanh"` is PyTorch's gelu(approximate="tanh"). */
  gelu(x: Value, approximate: "none" | "tanh" = "none"): Value {
    return this.unary("Gelu", x, { approximate: attr.string(approximate) });
  }

  cast(x: Value, to: DType): Value {
    return this.add1("Cast", [x], to, x.shape, { to: attr.int(ONNX_DTYPE[to]) });
  }

  /** Where(cond, a, b) with three-way broadcasting. */
  where(cond: Value, a: Operand, b: Operand): Value {
    if (cond.dtype !== "bool")
      throw new InvalidArgumentError(`Where: condition must be bool, got "${cond.dtype}"`);
    const [va, vb] = this.operands("Where", a, b);
    return this.add1("Where", [cond, va, vb], va.dtype, broadcast("Where", cond.shape, va.shape, vb.shape));
  }

  // ── linear algebra and normalization ───────────────────────────────────────
  matmul(a: Value, b: Value): Value {
    const [va, vb] = this.operands("MatMul", a, b);
    return this.add1("MatMul", [va, vb], va.dtype, matmulShape(va.shape, vb.shape));
  }

  softmax(x: Value, axis = -1): Value {
    normAxis(axis, x.shape.length, "Softmax");
    return this.unary("Softmax", x, { axis: attr.int(axis) });
  }

  /** LogSoftmax over `axis`: one op, and a cheaper gradient than Exp/ReduceSum/Log built by hand. */
  logSoftmax(x: Value, axis = -1): Value {
    normAxis(axis, x.shape.length, "LogSoftmax");
    return this.unary("LogSoftmax", x, { axis: attr.int(axis) });
  }

  /** LayerNormalization (opset 17) over the trailing axes from `axis`; scale/bias match those axes. */
  layerNorm(
    x: Value,
    scale: Value,
    bias: Value | null,
    opts: { axis?: number; epsilon?: number } = {},
  ): Value {
    const axis = normAxis(opts.axis ?? -1, x.shape.length, "LayerNormalization");
    const normShape = x.shape.slice(axis);
    for (const p of bias ? [scale, bias] : [scale]) {
      if (p.shape.length !== normShape.length || p.shape.some((d, i) => d !== normShape[i])) {
        throw new ShapeError(
          `LayerNormalization: parameter ${formatShape(p.shape)} does not match normalized dims ${formatShape(normShape)} of ${formatShape(x.shape)}`,
        );
      }
    }
    return this.add1("LayerNormalization", [x, scale, bias], x.dtype, x.shape, {
      axis: attr.int(axis),
      epsilon: attr.float(opts.epsilon ?? 1e-5),
    });
  }

  /** Conv with weight [M, C/group, k...]; defaults: stride 1, no padding, dilation 1, group 1. */
  conv(
    x: Value,
    w: Value,
    b: Value | null,
    opts: { strides?: number[]; pads?: number[]; dilations?: number[]; group?: number } = {},
  ): Value {
    const spatial = x.shape.length - 2;
    const strides = opts.strides ?? Array(spatial).fill(1);
    const pads = opts.pads ?? Array(2 * spatial).fill(0);
    const dilations = opts.dilations ?? Array(spatial).fill(1);
    const group = opts.group ?? 1;
    const shape = convShape(x.shape, w.shape, strides, pads, dilations, group, () => this.freshDim("conv"));
    if (b && (b.shape.length !== 1 || b.shape[0] !== w.shape[0])) {
      throw new ShapeError(`Conv: bias ${formatShape(b.shape)} must be [${w.shape[0]}]`);
    }
    const kernel = w.shape.slice(2) as number[];
    return this.add1("Conv", b ? [x, w, b] : [x, w], x.dtype, shape, {
      kernel_shape: attr.ints(kernel),
      strides: attr.ints(strides),
      pads: attr.ints(pads),
      dilations: attr.ints(dilations),
      group: attr.int(group),
    });
  }

  // ── reductions ─────────────────────────────────────────────────────────────
  private reduce(op: string, x: Value, axes: readonly number[], keepdims: boolean): Value {
    const shape = reduceShape(x.shape, axes, keepdims, op);
    return this.add1(op, [x, this.ints(axes)], x.dtype, shape, { keepdims: attr.int(keepdims ? 1 : 0) });
  }
  reduceMean(x: Value, axes: readonly number[], keepdims = true): Value {
    return this.reduce("ReduceMean", x, axes, keepdims);
  }
  reduceSum(x: Value, axes: readonly number[], keepdims = true): Value {
    return this.reduce("ReduceSum", x, axes, keepdims);
  }
  reduceMax(x: Value, axes: readonly number[], keepdims = true): Value {
    return this.reduce("ReduceMax", x, axes, keepdims);
  }
  reduceL2(x: Value, axes: readonly number[], keepdims = true): Value {
    return this.reduce("ReduceL2", x, axes, keepdims);
  }

  // ── shape manipulation ─────────────────────────────────────────────────────
  /** Reshape to a constant target (0 copies a dim, -1 is inferred). */
  reshape(x: Value, target: readonly number[]): Value {
    const shape = reshapeShape(x.shape, target, () => this.freshDim("reshape"));
    return this.add1("Reshape", [x, this.ints(target)], x.dtype, shape);
  }

  /** Reshape to a shape computed at run time; `shape` states what the result will be. */
  reshapeTo(x: Value, target: Value, shape: Shape): Value {
    if (
      target.dtype !== "int64" ||
      target.shape.length !== 1 ||
      (typeof target.shape[0] === "number" && target.shape[0] !== shape.length)
    ) {
      throw new ShapeError(
        `Reshape: target must be int64 [${shape.length}], got "${target.dtype}" ${formatShape(target.shape)}`,
      );
    }
    return this.add1("Reshape", [x, target], x.dtype, shape);
  }

  transpose(x: Value, perm: readonly number[]): Value {
    return this.add1("Transpose", [x], x.dtype, transposeShape(x.shape, perm), { perm: attr.ints(perm) });
  }

  concat(values: readonly Value[], axis: number): Value {
    if (values.length === 0) throw new InvalidArgumentError("Concat: needs at least one value");
    for (const v of values) {
      if (v.dtype !== values[0].dtype)
        throw new InvalidArgumentError(`Concat: dtypes differ ("${values[0].dtype}" vs "${v.dtype}")`);
    }
    const shape = concatShape(
      values.map((v) => v.shape),
      axis,
    );
    return this.add1("Concat", [...values], values[0].dtype, shape, { axis: attr.int(axis) });
  }

  gather(data: Value, indices: Value, axis = 0): Value {
    if (indices.dtype !== "int64" && indices.dtype !== "int32") {
      throw new InvalidArgumentError(`Gather: indices must be int64 or int32, got "${indices.dtype}"`);
    }
    return this.add1("Gather", [data, indices], data.dtype, gatherShape(data.shape, indices.shape, axis), {
      axis: attr.int(axis),
    });
  }

  /**
   * GatherElements: `out[i][j]… = data[…index…]` along `axis`, with `indices` of `data`'s rank; the
   * result has the indices' shape (e.g. target log-probabilities: [T, V] and [T, 1] → [T, 1]).
   */
  gatherElements(data: Value, indices: Value, axis = 0): Value {
    if (indices.dtype !== "int64" && indices.dtype !== "int32") {
      throw new InvalidArgumentError(
        `GatherElements: indices must be int64 or int32, got "${indices.dtype}"`,
      );
    }
    const a = normAxis(axis, data.shape.length, "GatherElements");
    const mismatch =
      indices.shape.length !== data.shape.length ||
      indices.shape.some(
        (d, i) =>
          i !== a &&
          typeof d === "number" &&
          typeof data.shape[i] === "number" &&
          d > (data.shape[i] as number),
      );
    if (mismatch) {
      throw new ShapeError(
        `GatherElements: indices ${formatShape(indices.shape)} must have the rank of data ${formatShape(data.shape)} and no larger dims outside axis ${a}`,
      );
    }
    return this.add1("GatherElements", [data, indices], data.dtype, indices.shape, { axis: attr.int(a) });
  }

  /** Slice with constant bounds; `axes` default to the first axes, `steps` to 1. */
  slice(
    x: Value,
    starts: readonly number[],
    ends: readonly number[],
    axes?: readonly number[],
    steps?: readonly number[],
  ): Value {
    const ax = axes ?? starts.map((_, i) => i);
    const st = steps ?? starts.map(() => 1);
    if (ends.length !== starts.length || ax.length !== starts.length || st.length !== starts.length) {
      throw new InvalidArgumentError(
        `Slice: starts, ends, axes and steps must have equal lengths, got ${starts.length}, ${ends.length}, ${ax.length}, ${st.length}`,
      );
    }
    const shape = sliceShape(x.shape, starts, ends, ax, st, () => this.freshDim("slice"));
    const clampBig = (v: number) => Math.max(Math.min(v, Number.MAX_SAFE_INTEGER), Number.MIN_SAFE_INTEGER);
    return this.add1(
      "Slice",
      [x, this.ints(starts), this.ints(ends.map(clampBig)), this.ints(ax), this.ints(st)],
      x.dtype,
      shape,
    );
  }

  unsqueeze(x: Value, axes: readonly number[]): Value {
    return this.add1("Unsqueeze", [x, this.ints(axes)], x.dtype, unsqueezeShape(x.shape, axes));
  }

  squeeze(x: Value, axes: readonly number[]): Value {
    return this.add1("Squeeze", [x, this.ints(axes)], x.dtype, squeezeShape(x.shape, axes));
  }

  /** Expand to a constant shape, or to a run-time `shape` value whose result shape is `resultShape`. */
  expand(x: Value, shape: readonly number[] | Value, resultShape?: Shape): Value {
    if (Array.isArray(shape)) {
      return this.add1("Expand", [x, this.ints(shape)], x.dtype, broadcast("Expand", x.shape, shape));
    }
    if (!resultShape) throw new InvalidArgumentError("Expand: a run-time shape needs resultShape");
    broadcast("Expand", x.shape, resultShape);
    return this.add1("Expand", [x, shape as Value], x.dtype, resultShape);
  }

  /** Shape(x) as int64 [rank]. */
  shapeOf(x: Value): Value {
    return this.add1("Shape", [x], "int64", [x.shape.length]);
  }

  /** Range(start, limit, delta) of scalars; `length` names or sizes the result; numbers become `dtype`. */
  range(start: Operand, limit: Operand, delta: Operand, length: Dim, dtype: DType = "int64"): Value {
    const typeOf = [start, limit, delta].find((v): v is Value => typeof v !== "number")?.dtype ?? dtype;
    const [s, l, d] = [start, limit, delta].map((v) => (typeof v === "number" ? this.scalar(v, typeOf) : v));
    for (const v of [s, l, d]) {
      if (v.shape.length !== 0 || v.dtype !== typeOf) {
        throw new ShapeError(
          `Range: operands must be "${typeOf}" scalars, got "${v.dtype}" ${formatShape(v.shape)}`,
        );
      }
    }
    return this.add1("Range", [s, l, d], typeOf, [length]);
  }

  /**
   * Resize (opset 18) to run-time `sizes` (int64 [rank] or [axes.length]) or constant sizes.
   * Defaults: mode "linear", coordinate mode "half_pixel" (PyTorch align_corners=False), no antialias.
   */
  resize(
    x: Value,
    sizes: Value | readonly number[],
    opts: {
      mode?: "nearest" | "linear" | "cubic";
      antialias?: boolean;
      /** Zero (and renormalize) filter taps outside the input, as PyTorch and PIL do. Default false. */
      excludeOutside?: boolean;
      axes?: readonly number[];
      coordinateTransformationMode?: string;
      outShape?: Shape;
    } = {},
  ): Value {
    const axes = (opts.axes ?? x.shape.map((_, i) => i)).map((a) => normAxis(a, x.shape.length, "Resize"));
    let shape: Dim[];
    let sizesValue: Value;
    if (Array.isArray(sizes)) {
      if (sizes.length !== axes.length)
        throw new ShapeError(`Resize: ${sizes.length} sizes for ${axes.length} axes`);
      shape = [...x.shape];
      axes.forEach((a, i) => {
        shape[a] = sizes[i];
      });
      sizesValue = this.ints(sizes);
    } else {
      sizesValue = sizes as Value;
      shape = opts.outShape
        ? [...opts.outShape]
        : x.shape.map((d, i) => (axes.includes(i) ? this.freshDim("resize") : d));
    }
    const attrs: Record<string, Attr> = {
      mode: attr.string(opts.mode ?? "linear"),
      coordinate_transformation_mode: attr.string(opts.coordinateTransformationMode ?? "half_pixel"),
      antialias: attr.int(opts.antialias ? 1 : 0),
      exclude_outside: attr.int(opts.excludeOutside ? 1 : 0),
    };
    if (opts.axes) attrs.axes = attr.ints(axes);
    return this.add1("Resize", [x, null, null, sizesValue], x.dtype, shape, attrs);
  }

  /**
   * Loop with a body subgraph. `trip` is an int64 scalar; each scan output of the body gains a
   * leading axis of size `tripDim`. The body receives the iteration number and the carried values
   * and returns the next carried values and the per-iteration scan outputs.
   */
  loop(opts: {
    trip: Value;
    tripDim: Dim;
    carried?: readonly Value[];
    body: (body: Graph, iter: Value, carried: Value[]) => { carried?: Value[]; scans: Value[] };
  }): { carried: Value[]; scans: Value[] } {
    const body = new Graph(this.uniqueName("loop_body"), this);
    const iter = body.input(this.freeName("iter"), "int64", []);
    const condIn = body.input(this.freeName("cond_in"), "bool", []);
    const carriedIn = (opts.carried ?? []).map((c) =>
      body.input(this.freeName(`${c.name}_in`), c.dtype, c.shape),
    );
    const res = opts.body(body, iter, carriedIn);
    const carriedOut = res.carried ?? [];
    if (carriedOut.length !== carriedIn.length) {
      throw new InvalidArgumentError(
        `Loop: body returned ${carriedOut.length} carried values, expected ${carriedIn.length}`,
      );
    }
    body.output(body.identity(condIn));
    for (const c of carriedOut) body.output(c);
    for (const s of res.scans) body.output(s);
    const outs = this.node(
      "Loop",
      [opts.trip, null, ...(opts.carried ?? [])],
      [
        ...carriedOut.map((c) => ({ dtype: c.dtype, shape: c.shape })),
        ...res.scans.map((s) => ({ dtype: s.dtype, shape: [opts.tripDim, ...s.shape] })),
      ],
      { body: attr.graph(body) },
    );
    return { carried: outs.slice(0, carriedOut.length), scans: outs.slice(carriedOut.length) };
  }
}

/** TensorProto.DataType codes. */
export const ONNX_DTYPE: Record<DType, number> = {
  float32: 1,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
};

function toTyped(
  dtype: DType,
  data: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | readonly number[],
): Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array {
  switch (dtype) {
    case "float32":
    case "float16":
      if (data instanceof Float32Array) return data;
      if (Array.isArray(data)) return Float32Array.from(data as number[]);
      break;
    case "float64":
      if (data instanceof Float64Array) return data;
      if (Array.isArray(data)) return Float64Array.from(data as number[]);
      break;
    case "int64":
      if (data instanceof BigInt64Array) return data;
      if (Array.isArray(data)) return BigInt64Array.from((data as number[]).map((v) => BigInt(v)));
      break;
    case "int32":
      if (data instanceof Int32Array) return data;
      if (Array.isArray(data)) return Int32Array.from(data as number[]);
      break;
    case "bool":
      if (data instanceof Uint8Array) return data;
      if (Array.isArray(data)) return Uint8Array.from((data as number[]).map((v) => (v ? 1 : 0)));
      break;
  }
  throw new InvalidArgumentError(`initializer: ${data.constructor.name} cannot hold "${dtype}" data`);
}
