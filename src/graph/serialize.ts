/**
 * Graph → ONNX ModelProto → bytes on disk. Weights may go to a side file (`<file>.onnx_data`) with
 * location/offset/length entries, as large public exports do, and may be stored as float16 with a
 * Cast back to float32 so that the graph computes in float32 either way.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { float32ToFloat16 } from "../util/float16.js";
import { writeFileAtomic } from "../util/fs.js";
import { type Graph, ONNX_DTYPE } from "./graph.js";
import {
  type AttributeProto,
  AttributeProto_AttributeType,
  AttributeProtoSchema,
  type GraphProto,
  GraphProtoSchema,
  type ModelProto,
  ModelProtoSchema,
  NodeProtoSchema,
  StringStringEntryProtoSchema,
  type TensorProto,
  TensorProto_DataLocation,
  TensorProtoSchema,
  type ValueInfoProto,
  ValueInfoProtoSchema,
} from "./proto/onnx_pb.js";
import type { Attr, InitializerData, Value } from "./types.js";

export interface ModelOptions {
  /** Default-domain opset version. Default 20 (Gelu with approximate="tanh" needs ≥ 20). */
  opset?: number;
  /**
   * Versions of other operator domains. Every domain a node uses is imported; default version 1
   * (e.g. `com.microsoft`, onnxruntime's contrib ops such as FusedMatMul).
   */
  domainOpsets?: Record<string, number>;
  /** ONNX IR version. Default 10 (onnxruntime 1.30 reads up to 11). */
  irVersion?: number;
  /** `producer_name`. Default "vlmkit". */
  producerName?: string;
  /** `metadata_props`: key/value strings readable from an onnxruntime session. Default none. */
  metadata?: Record<string, string>;
  /** Store float32 initializers as float16 followed by a Cast to float32. Default false. */
  float16Weights?: boolean;
}

export interface SaveOptions extends ModelOptions {
  /** Write initializers to `<file>_data` (e.g. `model.onnx_data`) instead of inline. Default false. */
  externalData?: boolean;
  /** With `externalData`, tensors smaller than this many bytes stay inline. Default 1024. */
  externalDataThreshold?: number;
}

const entry = (key: string, value: string) => create(StringStringEntryProtoSchema, { key, value });

/** Offsets in the data file are aligned like onnx's external-data writer does for mmap friendliness. */
const ALIGN = 4096;

function attributeProto(name: string, a: Attr, options: ModelOptions): AttributeProto {
  const T = AttributeProto_AttributeType;
  const p = create(AttributeProtoSchema, { name });
  switch (a.type) {
    case "int":
      p.type = T.INT;
      p.i = BigInt(a.value);
      break;
    case "float":
      p.type = T.FLOAT;
      p.f = a.value;
      break;
    case "string":
      p.type = T.STRING;
      p.s = new TextEncoder().encode(a.value);
      break;
    case "ints":
      p.type = T.INTS;
      p.ints = a.value.map((v) => BigInt(v));
      break;
    case "floats":
      p.type = T.FLOATS;
      p.floats = [...a.value];
      break;
    case "graph":
      p.type = T.GRAPH;
      p.g = graphProto(a.value, options);
      break;
  }
  return p;
}

function valueInfo(v: Value): ValueInfoProto {
  return create(ValueInfoProtoSchema, {
    name: v.name,
    type: {
      value: {
        case: "tensorType",
        value: {
          elemType: ONNX_DTYPE[v.dtype],
          shape: {
            dim: v.shape.map((d) =>
              typeof d === "number"
                ? { value: { case: "dimValue" as const, value: BigInt(d) } }
                : { value: { case: "dimParam" as const, value: d } },
            ),
          },
        },
      },
    },
  });
}

/** Little-endian bytes of an initializer as it will be stored. */
function tensorBytes(init: InitializerData, asFloat16: boolean): { dataType: number; bytes: Uint8Array } {
  const { data } = init;
  if (data instanceof Float32Array && (asFloat16 || init.value.dtype === "float16")) {
    const h = float32ToFloat16(data);
    return { dataType: ONNX_DTYPE.float16, bytes: new Uint8Array(h.buffer, h.byteOffset, h.byteLength) };
  }
  return {
    dataType: ONNX_DTYPE[init.value.dtype],
    bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}

function graphProto(g: Graph, options: ModelOptions): GraphProto {
  const gp = create(GraphProtoSchema, { name: g.name });
  const castNodes = [];
  for (const init of g.initializers) {
    const toHalf = !!options.float16Weights && init.value.dtype === "float32";
    const { dataType, bytes } = tensorBytes(init, toHalf);
    const name = toHalf ? `${init.value.name}_fp16` : init.value.name;
    const t: TensorProto = create(TensorProtoSchema, {
      name,
      dataType,
      dims: init.dims.map((d) => BigInt(d)),
    });
    t.rawData = bytes;
    gp.initializer.push(t);
    if (toHalf) {
      castNodes.push(
        create(NodeProtoSchema, {
          opType: "Cast",
          name: `${init.value.name}_cast`,
          input: [name],
          output: [init.value.name],
          attribute: [attributeProto("to", { type: "int", value: ONNX_DTYPE.float32 }, options)],
        }),
      );
    }
  }
  gp.node.push(...castNodes);
  for (const n of g.nodes) {
    gp.node.push(
      create(NodeProtoSchema, {
        opType: n.op,
        domain: n.domain,
        name: n.name,
        input: n.inputs.map((v) => v?.name ?? ""),
        output: n.outputs.map((v) => v.name),
        attribute: Object.entries(n.attrs).map(([k, a]) => attributeProto(k, a, options)),
      }),
    );
  }
  gp.input.push(...g.inputs.map(valueInfo));
  gp.output.push(...g.outputs.map(valueInfo));
  return gp;
}

/** Builds the ModelProto with all tensor data inline. */
export function toModelProto(graph: Graph, options: ModelOptions = {}): ModelProto {
  return create(ModelProtoSchema, {
    irVersion: BigInt(options.irVersion ?? 10),
    producerName: options.producerName ?? "vlmkit",
    opsetImport: [
      { domain: "", version: BigInt(options.opset ?? 20) },
      ...[...usedDomains(graph)].map((domain) => ({
        domain,
        version: BigInt(options.domainOpsets?.[domain] ?? 1),
      })),
    ],
    graph: graphProto(graph, options),
    metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => entry(key, value)),
  });
}

/** Non-default operator domains used by the graph's nodes, subgraphs included. */
function usedDomains(g: Graph, out = new Set<string>()): Set<string> {
  for (const n of g.nodes) {
    if (n.domain) out.add(n.domain);
    for (const a of Object.values(n.attrs)) if (a.type === "graph") usedDomains(a.value, out);
  }
  return out;
}

export function serializeModel(graph: Graph, options: ModelOptions = {}): Uint8Array {
  return toBinary(ModelProtoSchema, toModelProto(graph, options));
}

/** Writes the model to `file` (and `<file>_data` when `externalData` is set); returns the paths written. */
export async function saveModel(graph: Graph, file: string, options: SaveOptions = {}): Promise<string[]> {
  const model = toModelProto(graph, options);
  if (!options.externalData) {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await writeFileAtomic(file, toBinary(ModelProtoSchema, model));
    return [file];
  }
  return saveModelProto(model, file, { externalDataThreshold: options.externalDataThreshold });
}

/**
 * Writes a ModelProto whose tensors are inline (`rawData`; e.g. one read by `readModel`, which pulls
 * external data in): tensors of at least `externalDataThreshold` bytes (default 1024) go to
 * `<file>_data` at 4096-aligned offsets, the rest stay inline. Both files are written atomically.
 * Returns the paths written. The model's initializers are updated to point at the side file.
 */
export async function saveModelProto(
  model: ModelProto,
  file: string,
  options: { externalDataThreshold?: number } = {},
): Promise<string[]> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const threshold = options.externalDataThreshold ?? 1024;
  const sideFile = `${path.basename(file)}_data`;
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const t of model.graph?.initializer ?? []) {
    if (t.rawData.byteLength < threshold) {
      t.dataLocation = TensorProto_DataLocation.DEFAULT;
      t.externalData = [];
      continue;
    }
    const start = Math.ceil(offset / ALIGN) * ALIGN;
    if (start > offset) parts.push(new Uint8Array(start - offset));
    parts.push(t.rawData);
    t.dataLocation = TensorProto_DataLocation.EXTERNAL;
    t.externalData = [
      entry("location", sideFile),
      entry("offset", String(start)),
      entry("length", String(t.rawData.byteLength)),
    ];
    t.rawData = new Uint8Array(0);
    offset = start + parts[parts.length - 1].byteLength;
  }
  if (parts.length === 0) {
    await writeFileAtomic(file, toBinary(ModelProtoSchema, model));
    return [file];
  }
  const dataPath = path.join(path.dirname(file), sideFile);
  await writeFileAtomic(dataPath, Buffer.concat(parts));
  await writeFileAtomic(file, toBinary(ModelProtoSchema, model));
  return [file, dataPath];
}
