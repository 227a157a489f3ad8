/**
 * The data model of a graph under construction: values that carry dtype and shape, nodes that know
 * their op, inputs, outputs and attributes, in topological order. Reverse-mode rules can walk
 * `Graph.nodes` backwards and read each value's `producer`.
 */
import type { Graph } from "./graph.js";

/** Element types the builder can declare; names follow onnxruntime-node's tensor types. */
export type DType = "float32" | "float16" | "float64" | "int64" | "int32" | "bool";

/** A dimension: a size, or a symbolic name (`"batch"`) fixed only when the model runs. */
export type Dim = number | string;

export type Shape = readonly Dim[];

/** A tensor flowing through the graph. Created by `Graph` methods only. */
export interface Value {
  /** The graph that owns this value (a subgraph value may be used only inside that subgraph). */
  readonly graph: Graph;
  /** Unique name across the whole model, including subgraphs. */
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Shape;
  /** The node that computes this value; `null` for graph inputs and initializers. */
  readonly producer: Node | null;
}

/** Attribute values, tagged because ONNX distinguishes int from float attributes. */
export type Attr =
  | { type: "int"; value: number }
  | { type: "float"; value: number }
  | { type: "string"; value: string }
  | { type: "ints"; value: readonly number[] }
  | { type: "floats"; value: readonly number[] }
  | { type: "graph"; value: Graph };

export interface Node {
  readonly op: string;
  /** Operator set domain; `""` is the default ONNX domain. */
  readonly domain: string;
  readonly name: string;
  /** `null` marks an omitted optional input (serialized as the empty name). */
  readonly inputs: readonly (Value | null)[];
  readonly outputs: readonly Value[];
  readonly attrs: Readonly<Record<string, Attr>>;
}

/** Constant tensor data held by the graph (weights and small constants). */
export interface InitializerData {
  readonly value: Value;
  readonly dims: readonly number[];
  /**
   * float32 and float16 initializers hold Float32Array (float16 is converted when written);
   * float64 holds Float64Array; int64 holds BigInt64Array; int32 holds Int32Array; bool holds Uint8Array.
   */
  readonly data: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;
}

export const attr = {
  int: (value: number): Attr => ({ type: "int", value }),
  float: (value: number): Attr => ({ type: "float", value }),
  string: (value: string): Attr => ({ type: "string", value }),
  ints: (value: readonly number[]): Attr => ({ type: "ints", value }),
  floats: (value: readonly number[]): Attr => ({ type: "floats", value }),
  graph: (value: Graph): Attr => ({ type: "graph", value }),
};

export function formatShape(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}
