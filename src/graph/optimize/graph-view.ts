/**
 * A mutable view of an ONNX ModelProto's main graph for pattern rewrites: who produces and who
 * consumes each value, constant values (initializers and `Constant` nodes), and node removal and
 * insertion. `commit()` writes the nodes back in topological order.
 */
import { create } from "@bufbuild/protobuf";
import { float16ToFloat32 } from "../../util/float16.js";
import {
  type AttributeProto,
  AttributeProto_AttributeType,
  AttributeProtoSchema,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  NodeProtoSchema,
  type TensorProto,
  TensorProtoSchema,
} from "../proto/onnx_pb.js";

export const MS_DOMAIN = "com.microsoft";

/** Attribute values for new nodes; plain numbers are floats, use `{ int }` for integers. */
export type NodeAttr = number | { int: number } | { ints: readonly number[] } | string;

export class GraphView {
  readonly graph: GraphProto;
  private nodes: NodeProto[];
  private readonly removed = new Set<NodeProto>();
  private readonly producers = new Map<string, NodeProto>();
  private readonly consumerMap = new Map<string, NodeProto[]>();
  private readonly initializers = new Map<string, TensorProto>();
  private readonly graphOutputs: Set<string>;
  private readonly names = new Set<string>();
  private counter = 0;

  constructor(readonly model: ModelProto) {
    if (!model.graph) throw new Error("model has no graph");
    this.graph = model.graph;
    this.nodes = [...this.graph.node];
    for (const t of this.graph.initializer) {
      this.initializers.set(t.name, t);
      this.names.add(t.name);
    }
    for (const v of this.graph.input) this.names.add(v.name);
    this.graphOutputs = new Set(this.graph.output.map((v) => v.name));
    for (const n of this.nodes) this.index(n);
  }

  private index(n: NodeProto): void {
    this.names.add(n.name);
    for (const o of n.output) {
      this.producers.set(o, n);
      this.names.add(o);
    }
    for (const i of n.input) {
      if (!i) continue;
      const list = this.consumerMap.get(i);
      if (list) list.push(n);
      else this.consumerMap.set(i, [n]);
    }
  }

  /** Live nodes (not removed), in the current order. */
  allNodes(): NodeProto[] {
    return this.nodes.filter((n) => !this.removed.has(n));
  }

  /** Live nodes of one op type (default domain unless `domain` is given). */
  nodesOf(op: string, domain = ""): NodeProto[] {
    return this.allNodes().filter((n) => n.opType === op && n.domain === domain);
  }

  producer(value: string): NodeProto | undefined {
    const n = this.producers.get(value);
    return n && !this.removed.has(n) ? n : undefined;
  }

  /** The producer of `value` if it is `op` (default domain). */
  producerOf(value: string, op: string): NodeProto | undefined {
    const n = this.producer(value);
    return n && n.opType === op && n.domain === "" ? n : undefined;
  }

  consumers(value: string): NodeProto[] {
    return (this.consumerMap.get(value) ?? []).filter((n) => !this.removed.has(n));
  }

  isGraphOutput(value: string): boolean {
    return this.graphOutputs.has(value);
  }

  /** The single consumer of `value`, when it has exactly one and is not a graph output. */
  onlyConsumer(value: string): NodeProto | undefined {
    const c = this.consumers(value);
    return c.length === 1 && !this.isGraphOutput(value) ? c[0] : undefined;
  }

  /** True when every consumer of `value` is among `nodes` (so removing them leaves it unused). */
  usedOnlyBy(value: string, nodes: readonly NodeProto[]): boolean {
    return !this.isGraphOutput(value) && this.consumers(value).every((c) => nodes.includes(c));
  }

  initializer(name: string): TensorProto | undefined {
    return this.initializers.get(name);
  }

  /** Values of a constant: an initializer or the output of a `Constant` node (float or int). */
  constant(name: string): { dims: number[]; values: Float32Array | BigInt64Array | Int32Array } | undefined {
    const init = this.initializers.get(name);
    if (init) return decodeTensor(init);
    const n = this.producer(name);
    if (n?.opType === "Constant" && n.domain === "") {
      const value = n.attribute.find((a) => a.name === "value")?.t;
      if (value) return decodeTensor(value);
      const f = n.attribute.find((a) => a.name === "value_float");
      if (f) return { dims: [], values: Float32Array.of(f.f) };
      const i = n.attribute.find((a) => a.name === "value_int");
      if (i) return { dims: [], values: BigInt64Array.of(i.i) };
      const ints = n.attribute.find((a) => a.name === "value_ints");
      if (ints) return { dims: [ints.ints.length], values: BigInt64Array.from(ints.ints) };
    }
    return undefined;
  }

  isConstant(name: string): boolean {
    const n = this.producer(name);
    return this.initializers.has(name) || (n?.opType === "Constant" && n.domain === "");
  }

  /**
   * True when `name` depends on constants only (initializers, Constant nodes and ops over them), so
   * it is the same for every run: e.g. a position table gathered at fixed ids.
   */
  isConstantDerived(name: string, seen = new Map<string, boolean>()): boolean {
    const known = seen.get(name);
    if (known !== undefined) return known;
    if (this.initializers.has(name)) return true;
    const n = this.producer(name);
    let result = false;
    if (n && n.opType !== "Loop" && n.opType !== "If" && n.opType !== "Scan") {
      seen.set(name, false); // guards against cycles in a malformed graph
      result = n.input.every((i) => i === "" || this.isConstantDerived(i, seen));
    }
    seen.set(name, result);
    return result;
  }

  /** A constant holding exactly one number (any rank), else undefined. */
  scalar(name: string): number | undefined {
    const c = this.constant(name);
    if (c?.values.length !== 1) return undefined;
    return Number(c.values[0]);
  }

  /** Integer values of a constant (shapes, axes), else undefined. */
  ints(name: string): number[] | undefined {
    const c = this.constant(name);
    if (!c || c.values instanceof Float32Array) return undefined;
    return Array.from(c.values, Number);
  }

  /** A fresh name that no value, node or initializer of the graph uses. */
  fresh(prefix: string): string {
    let name: string;
    do name = `${prefix}_vlmkit${this.counter++}`;
    while (this.names.has(name));
    this.names.add(name);
    return name;
  }

  /** A new initializer: float32, int64, uint8 or int8 by the array's type. */
  addInitializer(
    prefix: string,
    dims: readonly number[],
    values: Float32Array | BigInt64Array | Uint8Array | Int8Array,
  ): string {
    const name = this.fresh(prefix);
    const dataType =
      values instanceof Float32Array
        ? 1
        : values instanceof BigInt64Array
          ? 7
          : values instanceof Uint8Array
            ? 2
            : 3;
    const bytes = new Uint8Array(
      values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength),
    );
    const t = create(TensorProtoSchema, { name, dataType, dims: dims.map((d) => BigInt(d)), rawData: bytes });
    this.graph.initializer.push(t);
    this.initializers.set(name, t);
    return name;
  }

  /** Appends a node; `outputs` names are used as given (reuse a removed node's output to rewire). */
  addNode(
    op: string,
    inputs: readonly string[],
    outputs: readonly string[],
    attrs: Record<string, NodeAttr> = {},
    domain = "",
  ): NodeProto {
    const node = create(NodeProtoSchema, {
      opType: op,
      domain,
      name: this.fresh(op),
      input: [...inputs],
      output: [...outputs],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    this.nodes.push(node);
    this.index(node);
    return node;
  }

  remove(nodes: Iterable<NodeProto>): void {
    for (const n of nodes) this.removed.add(n);
  }

  /** Removes nodes none of whose outputs is read (by a live node, a subgraph or the graph outputs). */
  pruneDead(): number {
    let removed = 0;
    for (;;) {
      const read = new Set<string>(this.graph.output.map((v) => v.name));
      for (const n of this.allNodes()) for (const i of dependencies(n)) read.add(i);
      const dead = this.allNodes().filter((n) => !n.output.some((o) => o !== "" && read.has(o)));
      if (dead.length === 0) return removed;
      this.remove(dead);
      removed += dead.length;
    }
  }

  /**
   * Writes live nodes back in topological order (stable: original order where it already holds),
   * drops initializers nobody reads, and imports the `com.microsoft` domain if a node uses it.
   */
  commit(): void {
    const live = this.allNodes();
    const liveOutputs = new Set(live.flatMap((n) => n.output));
    const available = new Set<string>([
      ...this.graph.input.map((v) => v.name),
      ...this.graph.initializer.map((t) => t.name),
      "",
    ]);
    for (const n of live) {
      const dangling = n.input.find((i) => !available.has(i) && !liveOutputs.has(i));
      if (dangling !== undefined)
        throw new Error(`rewrite left "${dangling}" (read by ${n.name}) without a producer`);
    }
    const ordered: NodeProto[] = [];
    const pending = new Set(live);
    // Passes over the remaining nodes keep the original order among ready nodes.
    while (pending.size > 0) {
      let progressed = false;
      for (const n of pending) {
        if (!dependencies(n).every((i) => available.has(i) || !liveOutputs.has(i))) continue;
        ordered.push(n);
        pending.delete(n);
        for (const o of n.output) available.add(o);
        progressed = true;
      }
      if (!progressed) throw new Error("graph rewrite left a cycle");
    }
    this.graph.node = ordered;
    this.nodes = ordered;
    this.removed.clear();
    const used = new Set<string>();
    const collect = (g: GraphProto) => {
      for (const n of g.node) {
        for (const i of n.input) used.add(i);
        for (const a of n.attribute) {
          if (a.g) collect(a.g);
          for (const sub of a.graphs) collect(sub);
        }
      }
      for (const o of g.output) used.add(o.name);
    };
    collect(this.graph);
    this.graph.initializer = this.graph.initializer.filter((t) => used.has(t.name));
    for (const t of [...this.initializers.keys()]) if (!used.has(t)) this.initializers.delete(t);
    if (
      ordered.some((n) => n.domain === MS_DOMAIN) &&
      !this.model.opsetImport.some((o) => o.domain === MS_DOMAIN)
    ) {
      this.model.opsetImport.push({ $typeName: "onnx.OperatorSetIdProto", domain: MS_DOMAIN, version: 1n });
    }
  }

  /** The default-domain opset the model imports. */
  opset(): number {
    return Number(this.model.opsetImport.find((o) => o.domain === "")?.version ?? 0);
  }
}

/** Values a node reads: its inputs and, for Loop/If/Scan, what its subgraphs read from outside. */
function dependencies(n: NodeProto): string[] {
  const out = [...n.input];
  const visit = (g: GraphProto) => {
    const inner = new Set<string>([...g.input.map((v) => v.name), ...g.initializer.map((t) => t.name)]);
    for (const m of g.node) for (const o of m.output) inner.add(o);
    for (const m of g.node) {
      for (const i of m.input) if (!inner.has(i)) out.push(i);
      for (const a of m.attribute) {
        if (a.g) visit(a.g);
        for (const sub of a.graphs) visit(sub);
      }
    }
  };
  for (const a of n.attribute) {
    if (a.g) visit(a.g);
    for (const sub of a.graphs) visit(sub);
  }
  return out;
}

function attribute(name: string, v: NodeAttr): AttributeProto {
  const T = AttributeProto_AttributeType;
  const a = create(AttributeProtoSchema, { name });
  if (typeof v === "number") {
    a.type = T.FLOAT;
    a.f = v;
  } else if (typeof v === "string") {
    a.type = T.STRING;
    a.s = new TextEncoder().encode(v);
  } else if ("int" in v) {
    a.type = T.INT;
    a.i = BigInt(v.int);
  } else {
    a.type = T.INTS;
    a.ints = v.ints.map((x) => BigInt(x));
  }
  return a;
}

/** Attribute lookups on a node. */
export function attrInt(n: NodeProto, name: string): number | undefined {
  const a = n.attribute.find((x) => x.name === name);
  return a ? Number(a.i) : undefined;
}

export function attrInts(n: NodeProto, name: string): number[] | undefined {
  const a = n.attribute.find((x) => x.name === name);
  return a ? a.ints.map(Number) : undefined;
}

export function attrFloat(n: NodeProto, name: string): number | undefined {
  const a = n.attribute.find((x) => x.name === name);
  return a ? a.f : undefined;
}

export function attrString(n: NodeProto, name: string): string | undefined {
  const a = n.attribute.find((x) => x.name === name);
  return a ? new TextDecoder().decode(a.s) : undefined;
}

function decodeTensor(t: TensorProto): { dims: number[]; values: Float32Array | BigInt64Array | Int32Array } {
  const dims = t.dims.map(Number);
  const raw = t.rawData;
  const buf = () => raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
  switch (t.dataType) {
    case 1:
      return { dims, values: raw.byteLength ? new Float32Array(buf()) : Float32Array.from(t.floatData) };
    case 10:
      return {
        dims,
        values: raw.byteLength
          ? float16ToFloat32(new Uint16Array(buf()))
          : float16ToFloat32(Uint16Array.from(t.int32Data)),
      };
    case 7:
      return { dims, values: raw.byteLength ? new BigInt64Array(buf()) : BigInt64Array.from(t.int64Data) };
    case 6:
      return { dims, values: raw.byteLength ? new Int32Array(buf()) : Int32Array.from(t.int32Data) };
    case 11: {
      const f64 = raw.byteLength ? new Float64Array(buf()) : Float64Array.from(t.doubleData);
      return { dims, values: Float32Array.from(f64) };
    }
    default:
      return { dims, values: new Float32Array(0) };
  }
}
