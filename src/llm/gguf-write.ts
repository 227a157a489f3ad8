/**
 * GGUF v3 writer: header, typed metadata (scalars and arrays), tensor infos, aligned tensor data.
 *
 * Layout (little-endian; ggml/docs/gguf.md): magic "GGUF", u32 version, u64 tensor count, u64 KV
 * count; each KV is (string key, u32 value type, value); each tensor info is (string name, u32 n_dims,
 * u64 dims[n_dims] with dims[0] the contiguous row length, u32 ggml type, u64 offset into the data
 * section); then padding to `general.alignment` and the tensor data, each tensor starting aligned.
 * A string is a u64 byte length followed by UTF-8 bytes.
 *
 * Tensors are encoded chunk by chunk as they are written, so a model never needs to be held in
 * memory whole. The file appears atomically: it is written under a temporary name and renamed.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { InvalidArgumentError, ShapeError, throwIfAborted } from "../errors.js";
import { tempPathFor } from "../util/fs.js";
import { ggmlRowBytes, ggmlTypeByName } from "./quant.js";
import { quantizeRow, type WritableGgmlType } from "./quant-encode.js";

/** GGUF metadata value types with their on-disk ids (gguf_type). */
const VALUE_TYPE_IDS = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
} as const;

export type GgufScalarType = Exclude<keyof typeof VALUE_TYPE_IDS, "array">;
export type GgufScalar = number | bigint | boolean | string;

/** One metadata value with its GGUF type spelled out (GGUF distinguishes u32 from i32 from f32). */
export type GgufValue =
  | { readonly type: GgufScalarType; readonly value: GgufScalar }
  | { readonly type: "array"; readonly itemType: GgufScalarType; readonly items: ArrayLike<GgufScalar> };

/** Builders for typed metadata values: `{ "gemma3.block_count": kv.u32(18) }`. */
export const kv = {
  u8: (value: number): GgufValue => ({ type: "uint8", value }),
  i32: (value: number): GgufValue => ({ type: "int32", value }),
  u32: (value: number): GgufValue => ({ type: "uint32", value }),
  u64: (value: number | bigint): GgufValue => ({ type: "uint64", value }),
  f32: (value: number): GgufValue => ({ type: "float32", value }),
  f64: (value: number): GgufValue => ({ type: "float64", value }),
  bool: (value: boolean): GgufValue => ({ type: "bool", value }),
  str: (value: string): GgufValue => ({ type: "string", value }),
  arr: (itemType: GgufScalarType, items: ArrayLike<GgufScalar>): GgufValue => ({
    type: "array",
    itemType,
    items,
  }),
};

export interface GgufTensorSpec {
  /** Tensor name, e.g. `blk.0.attn_q.weight`. */
  readonly name: string;
  /** ggml order: `dims[0]` is the contiguous row length, e.g. token_embd is `[n_embd, n_vocab]`. */
  readonly dims: readonly number[];
  /** Encoding on disk; `dims[0]` must be a multiple of its block size (32 for Q8_0/Q4_0). */
  readonly type: WritableGgmlType;
  /**
   * The float32 values, row-major with `dims[0]` fastest. Either the whole array, or a function
   * returning consecutive chunks (each a whole number of rows), called once when the tensor's turn
   * comes, so that large tensors can be produced and encoded without holding them whole.
   */
  readonly data: Float32Array | (() => Iterable<Float32Array>);
}

export interface WriteGgufOptions {
  /** Metadata in file order. `general.alignment` is added when missing. */
  metadata: Readonly<Record<string, GgufValue>>;
  /** Tensors in file order. */
  tensors: readonly GgufTensorSpec[];
  /** Data alignment in bytes, a power of two; default 32 (GGUF's default). */
  alignment?: number;
  /** Cancels the write; the temporary file is removed. */
  signal?: AbortSignal;
  /** Called after each tensor with bytes written so far and the final file size. */
  onProgress?: (progress: { bytesWritten: number; totalBytes: number; tensor: string }) => void;
}

export interface WriteGgufResult {
  /** Final file size in bytes. */
  bytes: number;
  /** Absolute file offset of the data section. */
  dataOffset: number;
}

/** Writes a GGUF v3 file at `filePath` (atomically: temp file + rename). */
export async function writeGguf(filePath: string, options: WriteGgufOptions): Promise<WriteGgufResult> {
  const alignment = options.alignment ?? 32;
  if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
    throw new InvalidArgumentError(`GGUF alignment must be a power of two, got ${alignment}`);
  }
  const metadata: Record<string, GgufValue> = { ...options.metadata };
  metadata["general.alignment"] ??= kv.u32(alignment);
  const declared = metadata["general.alignment"];
  if (declared.type !== "uint32" || declared.value !== alignment) {
    throw new InvalidArgumentError(
      `metadata general.alignment ${JSON.stringify(declared)} disagrees with alignment ${alignment}`,
    );
  }

  const layout = planTensors(options.tensors, alignment);
  const header = encodeHeader(metadata, layout);
  const dataOffset = alignUp(header.length, alignment);
  const totalBytes = dataOffset + layout.dataBytes;

  await fs.mkdir(path.dirname(filePath), { recursive: true });
  const tmp = tempPathFor(filePath);
  const handle = await fs.open(tmp, "w");
  try {
    const out = new BufferedFileWriter(handle);
    await out.write(header);
    await out.write(new Uint8Array(dataOffset - header.length));
    for (const t of layout.tensors) {
      throwIfAborted(options.signal);
      await out.write(new Uint8Array(dataOffset + t.offset - out.position));
      await writeTensorData(out, t, options.signal);
      options.onProgress?.({ bytesWritten: out.position, totalBytes, tensor: t.spec.name });
    }
    await out.write(new Uint8Array(totalBytes - out.position));
    await out.flush();
    await handle.sync();
    await handle.close();
    throwIfAborted(options.signal);
    await fs.rename(tmp, filePath);
  } catch (error) {
    await handle.close().catch(() => {});
    await fs.rm(tmp, { force: true });
    throw error;
  }
  return { bytes: totalBytes, dataOffset };
}

interface PlannedTensor {
  spec: GgufTensorSpec;
  numel: number;
  rowLength: number;
  rowBytes: number;
  /** Offset relative to the data section. */
  offset: number;
}

function planTensors(tensors: readonly GgufTensorSpec[], alignment: number) {
  const names = new Set<string>();
  const planned: PlannedTensor[] = [];
  let offset = 0;
  for (const spec of tensors) {
    if (names.has(spec.name)) throw new InvalidArgumentError(`duplicate GGUF tensor name "${spec.name}"`);
    names.add(spec.name);
    if (
      spec.dims.length < 1 ||
      spec.dims.length > 4 ||
      !spec.dims.every((d) => Number.isInteger(d) && d > 0)
    ) {
      throw new ShapeError(
        `tensor "${spec.name}": dims must be 1 to 4 positive integers, got [${spec.dims.join(", ")}]`,
      );
    }
    const type = ggmlTypeByName(spec.type);
    const rowLength = spec.dims[0];
    const rowBytes = ggmlRowBytes(type, rowLength);
    const numel = spec.dims.reduce((a, b) => a * b, 1);
    if (spec.data instanceof Float32Array && spec.data.length !== numel) {
      throw new ShapeError(
        `tensor "${spec.name}": dims [${spec.dims.join(", ")}] need ${numel} values, got ${spec.data.length}`,
      );
    }
    offset = alignUp(offset, alignment);
    planned.push({ spec, numel, rowLength, rowBytes, offset });
    offset += (numel / rowLength) * rowBytes;
  }
  return { tensors: planned, dataBytes: alignUp(offset, alignment) };
}

async function writeTensorData(
  out: BufferedFileWriter,
  t: PlannedTensor,
  signal?: AbortSignal,
): Promise<void> {
  const type = ggmlTypeByName(t.spec.type);
  const chunks = t.spec.data instanceof Float32Array ? [t.spec.data] : t.spec.data();
  let written = 0;
  for (const chunk of chunks) {
    throwIfAborted(signal);
    if (chunk.length % t.rowLength !== 0 || written + chunk.length > t.numel) {
      throw new ShapeError(
        `tensor "${t.spec.name}": chunk of ${chunk.length} values at element ${written} is not a whole number of ` +
          `${t.rowLength}-value rows within the ${t.numel} values of dims [${t.spec.dims.join(", ")}]`,
      );
    }
    const rows = chunk.length / t.rowLength;
    const encoded = new Uint8Array(rows * t.rowBytes);
    for (let r = 0; r < rows; r++) {
      quantizeRow(
        type,
        chunk.subarray(r * t.rowLength, (r + 1) * t.rowLength),
        encoded.subarray(r * t.rowBytes, (r + 1) * t.rowBytes),
      );
    }
    await out.write(encoded);
    written += chunk.length;
  }
  if (written !== t.numel) {
    throw new ShapeError(
      `tensor "${t.spec.name}": dims [${t.spec.dims.join(", ")}] need ${t.numel} values, the data gave ${written}`,
    );
  }
}

function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

/** Collects small writes into large ones. */
class BufferedFileWriter {
  position = 0;
  private readonly buffer = Buffer.allocUnsafe(1 << 22);
  private used = 0;

  constructor(private readonly handle: fs.FileHandle) {}

  async write(bytes: Uint8Array): Promise<void> {
    this.position += bytes.length;
    if (this.used + bytes.length > this.buffer.length) await this.flush();
    if (bytes.length >= this.buffer.length) {
      await this.writeAll(bytes);
      return;
    }
    this.buffer.set(bytes, this.used);
    this.used += bytes.length;
  }

  async flush(): Promise<void> {
    if (this.used > 0) await this.writeAll(this.buffer.subarray(0, this.used));
    this.used = 0;
  }

  private async writeAll(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.handle.write(bytes, done, bytes.length - done);
      done += bytesWritten;
    }
  }
}

/** Grows as values are appended; used for the header, which is small next to the data. */
class ByteBuilder {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number) {
    this.reserve(1);
    this.view.setUint8(this.length, v);
    this.length += 1;
  }
  i8(v: number) {
    this.reserve(1);
    this.view.setInt8(this.length, v);
    this.length += 1;
  }
  u16(v: number) {
    this.reserve(2);
    this.view.setUint16(this.length, v, true);
    this.length += 2;
  }
  i16(v: number) {
    this.reserve(2);
    this.view.setInt16(this.length, v, true);
    this.length += 2;
  }
  u32(v: number) {
    this.reserve(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }
  i32(v: number) {
    this.reserve(4);
    this.view.setInt32(this.length, v, true);
    this.length += 4;
  }
  f32(v: number) {
    this.reserve(4);
    this.view.setFloat32(this.length, v, true);
    this.length += 4;
  }
  f64(v: number) {
    this.reserve(8);
    this.view.setFloat64(this.length, v, true);
    this.length += 8;
  }
  u64(v: number | bigint) {
    this.reserve(8);
    this.view.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }
  i64(v: number | bigint) {
    this.reserve(8);
    this.view.setBigInt64(this.length, BigInt(v), true);
    this.length += 8;
  }
  str(s: string) {
    const bytes = Buffer.from(s, "utf8");
    this.u64(bytes.length);
    this.reserve(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

const INT_RANGES: Partial<Record<GgufScalarType, [number, number]>> = {
  uint8: [0, 0xff],
  int8: [-0x80, 0x7f],
  uint16: [0, 0xffff],
  int16: [-0x8000, 0x7fff],
  uint32: [0, 0xffffffff],
  int32: [-0x80000000, 0x7fffffff],
};

function writeScalar(b: ByteBuilder, key: string, type: GgufScalarType, v: GgufScalar): void {
  const bad = (expected: string) =>
    new InvalidArgumentError(`GGUF metadata "${key}": ${JSON.stringify(String(v))} is not ${expected}`);
  const range = INT_RANGES[type];
  if (range) {
    if (typeof v !== "number" || !Number.isInteger(v) || v < range[0] || v > range[1]) {
      throw bad(`a ${type} (integer in [${range[0]}, ${range[1]}])`);
    }
  }
  switch (type) {
    case "uint8":
      b.u8(v as number);
      return;
    case "int8":
      b.i8(v as number);
      return;
    case "uint16":
      b.u16(v as number);
      return;
    case "int16":
      b.i16(v as number);
      return;
    case "uint32":
      b.u32(v as number);
      return;
    case "int32":
      b.i32(v as number);
      return;
    case "float32":
    case "float64":
      if (typeof v !== "number") throw bad(`a ${type}`);
      if (type === "float32") b.f32(v);
      else b.f64(v);
      return;
    case "bool":
      if (typeof v !== "boolean") throw bad("a bool");
      b.u8(v ? 1 : 0);
      return;
    case "string":
      if (typeof v !== "string") throw bad("a string");
      b.str(v);
      return;
    case "uint64":
    case "int64":
      if (typeof v !== "bigint" && (typeof v !== "number" || !Number.isSafeInteger(v)))
        throw bad(`a ${type}`);
      if (type === "uint64" && v < 0) throw bad("a uint64");
      if (type === "uint64") b.u64(v);
      else b.i64(v);
      return;
  }
}

function encodeHeader(
  metadata: Readonly<Record<string, GgufValue>>,
  layout: { tensors: readonly PlannedTensor[] },
): Uint8Array {
  const b = new ByteBuilder();
  b.u32(0x46554747); // "GGUF" read as a little-endian u32
  b.u32(3);
  b.u64(layout.tensors.length);
  const entries = Object.entries(metadata);
  b.u64(entries.length);
  for (const [key, value] of entries) {
    b.str(key);
    if (value.type === "array") {
      b.u32(VALUE_TYPE_IDS.array);
      b.u32(VALUE_TYPE_IDS[value.itemType]);
      b.u64(value.items.length);
      for (let i = 0; i < value.items.length; i++) writeScalar(b, key, value.itemType, value.items[i]);
    } else {
      if (!(value.type in VALUE_TYPE_IDS)) {
        throw new InvalidArgumentError(`GGUF metadata "${key}": unknown value type "${value.type}"`);
      }
      b.u32(VALUE_TYPE_IDS[value.type]);
      writeScalar(b, key, value.type, value.value);
    }
  }
  for (const t of layout.tensors) {
    b.str(t.spec.name);
    b.u32(t.spec.dims.length);
    for (const d of t.spec.dims) b.u64(d);
    b.u32(ggmlTypeByName(t.spec.type).id);
    b.u64(t.offset);
  }
  return b.bytes();
}
