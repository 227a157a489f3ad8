/** Reading ONNX files back: external data resolved, initializers as typed arrays. */
import fs from "node:fs/promises";
import path from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { ModelFormatError } from "../errors.js";
import { float16ToFloat32 } from "../util/float16.js";
import {
  type ModelProto,
  ModelProtoSchema,
  type TensorProto,
  TensorProto_DataLocation,
} from "./proto/onnx_pb.js";

/**
 * Parses `file`; tensors stored in external data files are read into `rawData`. Bytes that are not
 * an ONNX protobuf (truncated, bad tags) throw ModelFormatError naming the file.
 */
export async function readModel(file: string): Promise<ModelProto> {
  let model: ModelProto;
  try {
    model = fromBinary(ModelProtoSchema, await fs.readFile(file));
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== undefined) throw cause;
    throw new ModelFormatError(`${file} is not an ONNX model: ${(cause as Error).message}`, { cause });
  }
  const cache = new Map<string, Buffer>();
  for (const t of model.graph?.initializer ?? []) {
    if (t.dataLocation !== TensorProto_DataLocation.EXTERNAL) continue;
    const entry = Object.fromEntries(t.externalData.map((e) => [e.key, e.value]));
    const location = entry.location;
    if (!location || location.includes("..") || path.isAbsolute(location)) {
      throw new ModelFormatError(
        `tensor "${t.name}" has external location "${location}"; expected a file beside ${file}`,
      );
    }
    let data = cache.get(location);
    if (!data) {
      data = await fs.readFile(path.join(path.dirname(file), location));
      cache.set(location, data);
    }
    const offset = Number(entry.offset ?? 0);
    const length = entry.length === undefined ? data.byteLength - offset : Number(entry.length);
    if (offset + length > data.byteLength) {
      throw new ModelFormatError(
        `tensor "${t.name}" reaches byte ${offset + length} of "${location}", which has ${data.byteLength}`,
      );
    }
    t.rawData = new Uint8Array(data.buffer, data.byteOffset + offset, length);
  }
  return model;
}

/** The tensor's values: float32/float16 as Float32Array, int64 as BigInt64Array. */
export function tensorValues(t: TensorProto): Float32Array | BigInt64Array {
  const raw = t.rawData;
  const copy = (bytes: number) => {
    const buf = new ArrayBuffer(raw.byteLength);
    new Uint8Array(buf).set(raw);
    if (raw.byteLength % bytes !== 0)
      throw new ModelFormatError(`tensor "${t.name}" has ${raw.byteLength} bytes`);
    return buf;
  };
  switch (t.dataType) {
    case 1:
      return raw.byteLength ? new Float32Array(copy(4)) : Float32Array.from(t.floatData);
    case 10:
      return float16ToFloat32(new Uint16Array(copy(2)));
    case 7:
      return raw.byteLength ? new BigInt64Array(copy(8)) : BigInt64Array.from(t.int64Data);
    default:
      throw new ModelFormatError(
        `tensor "${t.name}" has data type ${t.dataType}; expected float32 (1), float16 (10) or int64 (7)`,
      );
  }
}

/** Initializer values by name (float16 stores are returned under their `_fp16` name). */
export function initializerMap(
  model: ModelProto,
): Map<string, { dims: number[]; values: Float32Array | BigInt64Array }> {
  const out = new Map<string, { dims: number[]; values: Float32Array | BigInt64Array }>();
  for (const t of model.graph?.initializer ?? []) {
    out.set(t.name, { dims: t.dims.map(Number), values: tensorValues(t) });
  }
  return out;
}
