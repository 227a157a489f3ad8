/**
 * A GGUF's header as JSON tree seeds, so that the JSON mutator reaches metadata values and tensor
 * infos by meaning: the metadata `{ key: value }` and the tensor infos `[{ name, dims, type }]` (dims
 * in ggml order, `type` the ggml type id). A seed's `wrap` writes a GGUF again from the mutated tree:
 *   - a value that still fits its key's original GGUF type keeps it (u32 stays u32, f32 stays f32);
 *     another one gets the type its JSON value suggests (a fraction → f64, a negative integer → i32 or
 *     i64, a large one → u64, an object → its JSON text as a string, mixed arrays → string arrays);
 *   - tensors are packed in order at the header's alignment; each takes the original bytes of the
 *     tensor of the same name (or at the same position), cut or zero-filled to its new size, so that
 *     inflated dims give a file of that size up to `MAX_DATA_BYTES` (past it the data stops and the
 *     file is short).
 * Only well-formed seeds written by the project are parsed here; the wrap never throws (a tree it
 * cannot read becomes the mutated text itself, which is not a GGUF).
 */
import { GGML_TYPES } from "../../../src/llm/quant.js";
import type { Seed } from "../harness/mutate.js";

/** GGUF metadata value type ids (gguf_type). */
const T = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  str: 8,
  arr: 9,
  u64: 10,
  i64: 11,
  f64: 12,
} as const;
type ScalarId = Exclude<(typeof T)[keyof typeof T], 9>;
type Typed = { type: ScalarId } | { type: 9; itemType: ScalarId };

/** Data bytes a mutated tree may ask for before the file is cut short. */
const MAX_DATA_BYTES = 32 << 20;

interface Header {
  metadata: Record<string, unknown>;
  types: Map<string, Typed>;
  tensors: { name: string; dims: number[]; type: number; offset: number }[];
  dataOffset: number;
}

function parseHeader(b: Buffer): Header {
  let pos = 24;
  const str = () => {
    const n = Number(b.readBigUInt64LE(pos));
    const s = b.toString("utf8", pos + 8, pos + 8 + n);
    pos += 8 + n;
    return s;
  };
  const scalar = (type: number): unknown => {
    const at = pos;
    const fixed: Record<number, [number, () => unknown]> = {
      [T.u8]: [1, () => b.readUInt8(at)],
      [T.i8]: [1, () => b.readInt8(at)],
      [T.u16]: [2, () => b.readUInt16LE(at)],
      [T.i16]: [2, () => b.readInt16LE(at)],
      [T.u32]: [4, () => b.readUInt32LE(at)],
      [T.i32]: [4, () => b.readInt32LE(at)],
      [T.f32]: [4, () => b.readFloatLE(at)],
      [T.bool]: [1, () => b.readUInt8(at) !== 0],
      [T.u64]: [8, () => Number(b.readBigUInt64LE(at))],
      [T.i64]: [8, () => Number(b.readBigInt64LE(at))],
      [T.f64]: [8, () => b.readDoubleLE(at)],
    };
    if (type === T.str) return str();
    const [width, read] = fixed[type];
    pos += width;
    return read();
  };
  const nTensors = Number(b.readBigUInt64LE(8));
  const nKv = Number(b.readBigUInt64LE(16));
  const metadata: Record<string, unknown> = {};
  const types = new Map<string, Typed>();
  for (let i = 0; i < nKv; i++) {
    const key = str();
    const type = b.readUInt32LE(pos);
    pos += 4;
    if (type === T.arr) {
      const itemType = b.readUInt32LE(pos) as ScalarId;
      const count = Number(b.readBigUInt64LE(pos + 4));
      pos += 12;
      metadata[key] = Array.from({ length: count }, () => scalar(itemType));
      types.set(key, { type: T.arr, itemType });
    } else {
      metadata[key] = scalar(type);
      types.set(key, { type: type as ScalarId });
    }
  }
  const tensors: Header["tensors"] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = str();
    const nDims = b.readUInt32LE(pos);
    pos += 4;
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++, pos += 8) dims.push(Number(b.readBigUInt64LE(pos)));
    const type = b.readUInt32LE(pos);
    const offset = Number(b.readBigUInt64LE(pos + 4));
    pos += 12;
    tensors.push({ name, dims, type, offset });
  }
  const alignment = (metadata["general.alignment"] as number | undefined) ?? 32;
  return { metadata, types, tensors, dataOffset: Math.ceil(pos / alignment) * alignment };
}

/**
 * Two seeds of `name` (a well-formed GGUF): its metadata as a JSON object, and its tensor infos as a
 * JSON array, each put back together with the other part and the tensor bytes as they were — two
 * trees rather than one, so that the few metadata values are mutated as often as the many tensor infos.
 */
export function ggufTreeSeeds(name: string, bytes: Buffer): Seed[] {
  const h = parseHeader(bytes);
  const sizes = h.tensors.map((t, i) => (h.tensors[i + 1]?.offset ?? bytes.length - h.dataOffset) - t.offset);
  const original = new Map(
    h.tensors.map((t, i) => [
      t.name,
      bytes.subarray(h.dataOffset + t.offset, h.dataOffset + t.offset + sizes[i]),
    ]),
  );
  const byIndex = [...original.values()];
  const tensors = h.tensors.map(({ name, dims, type }) => ({ name, dims, type }));
  const seed = (part: unknown, join: (mutated: unknown) => Tree): Seed => ({
    name,
    bytes: Buffer.from(JSON.stringify(part)),
    kind: "json",
    wrap: (mutated) => {
      try {
        return encode(
          join(JSON.parse(mutated.toString("utf8"))),
          h.types,
          (t, i) => original.get(t) ?? byIndex[i],
        );
      } catch {
        return mutated;
      }
    },
  });
  return [
    seed(h.metadata, (metadata) => ({ metadata, tensors })),
    seed(tensors, (mutated) => ({ metadata: h.metadata, tensors: mutated })),
  ];
}

interface Tree {
  metadata: unknown;
  tensors: unknown;
}

class Bytes {
  private parts: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    this.parts.push(b);
    this.length += b.length;
  }
  int(width: 1 | 2 | 4 | 8, v: number | bigint, signed = false): void {
    const b = Buffer.alloc(width);
    if (width === 8) {
      if (signed) b.writeBigInt64LE(BigInt(v));
      else b.writeBigUInt64LE(BigInt(v));
    } else if (signed) b.writeIntLE(Number(v), 0, width);
    else b.writeUIntLE(Number(v), 0, width);
    this.push(b);
  }
  str(s: string): void {
    const b = Buffer.from(s, "utf8");
    this.int(8, b.length);
    this.push(b);
  }
  concat(): Buffer {
    return Buffer.concat(this.parts);
  }
}

const isInt = (v: unknown, lo: number, hi: number) =>
  typeof v === "number" && Number.isInteger(v) && v >= lo && v <= hi;

/** Whether `v` can be written as a scalar of type `t` without changing it. */
function fits(t: ScalarId, v: unknown): boolean {
  switch (t) {
    case T.u8:
      return isInt(v, 0, 0xff);
    case T.i8:
      return isInt(v, -0x80, 0x7f);
    case T.u16:
      return isInt(v, 0, 0xffff);
    case T.i16:
      return isInt(v, -0x8000, 0x7fff);
    case T.u32:
      return isInt(v, 0, 0xffffffff);
    case T.i32:
      return isInt(v, -0x80000000, 0x7fffffff);
    case T.u64:
      return isInt(v, 0, 2 ** 64 - 1);
    case T.i64:
      return isInt(v, -(2 ** 63), 2 ** 63 - 1);
    case T.f32:
      return typeof v === "number" && Math.abs(v) <= 3.4e38;
    case T.f64:
      return typeof v === "number";
    case T.bool:
      return typeof v === "boolean";
    case T.str:
      return typeof v === "string";
  }
}

/** The scalar type a JSON value suggests. */
function scalarType(v: unknown): ScalarId {
  if (typeof v === "boolean") return T.bool;
  if (typeof v !== "number") return T.str;
  if (!Number.isInteger(v)) return T.f64;
  if (fits(T.u32, v)) return T.u32;
  if (fits(T.i32, v)) return T.i32;
  return v < 0 ? (fits(T.i64, v) ? T.i64 : T.f64) : fits(T.u64, v) ? T.u64 : T.f64;
}

function typed(v: unknown, original: Typed | undefined): Typed {
  if (Array.isArray(v)) {
    if (original?.type === T.arr && v.every((x) => fits(original.itemType, x))) return original;
    const types = [...new Set(v.map(scalarType))];
    if (types.length === 0) return original?.type === T.arr ? original : { type: T.arr, itemType: T.u32 };
    if (types.length === 1) return { type: T.arr, itemType: types[0] };
    if (types.every((t) => t !== T.str && t !== T.bool)) return { type: T.arr, itemType: T.f64 };
    return { type: T.arr, itemType: T.str };
  }
  if (original && original.type !== T.arr && fits(original.type, v)) return original;
  return { type: scalarType(v) };
}

function text(v: unknown): string {
  if (typeof v === "string") return v;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return "[too deep]";
  }
}

function writeScalar(out: Bytes, t: ScalarId, v: unknown): void {
  const n = v as number;
  const widths: Partial<Record<ScalarId, 1 | 2 | 4>> = { [T.u8]: 1, [T.u16]: 2, [T.u32]: 4 };
  const signed: Partial<Record<ScalarId, 1 | 2 | 4>> = { [T.i8]: 1, [T.i16]: 2, [T.i32]: 4 };
  if (widths[t]) out.int(widths[t], n);
  else if (signed[t]) out.int(signed[t], n, true);
  else if (t === T.u64) out.int(8, BigInt.asUintN(64, BigInt(n)));
  else if (t === T.i64) out.int(8, BigInt.asIntN(64, BigInt(n)), true);
  else if (t === T.f32 || t === T.f64) {
    const b = Buffer.alloc(t === T.f32 ? 4 : 8);
    if (t === T.f32) b.writeFloatLE(n);
    else b.writeDoubleLE(n);
    out.push(b);
  } else if (t === T.bool) out.int(1, v ? 1 : 0);
  else out.str(text(v));
}

/** A ggml type's bytes for `dims`, or 0 when the type is unknown or the row is not whole blocks. */
function tensorBytes(type: number, dims: number[]): number {
  const info = Object.values(GGML_TYPES).find((t) => t.id === type);
  if (!info || dims.length === 0 || dims[0] % info.blockSize !== 0) return 0;
  const n = dims.reduce((a, d) => a * d, 1);
  return Number.isSafeInteger(n) ? (n / info.blockSize) * info.blockBytes : Number.MAX_SAFE_INTEGER;
}

const dimValue = (d: unknown): number =>
  typeof d === "number" && Number.isInteger(d) && d >= 0 ? Math.min(d, 2 ** 64 - 1) : 0;

function encode(
  tree: Tree,
  types: ReadonlyMap<string, Typed>,
  data: (name: string, index: number) => Buffer | undefined,
): Buffer {
  const metadata = tree.metadata && typeof tree.metadata === "object" ? (tree.metadata as object) : {};
  const tensors = (Array.isArray(tree.tensors) ? tree.tensors : []).map((t: unknown, i: number) => {
    const o = (t && typeof t === "object" ? t : {}) as Record<string, unknown>;
    const dims = Array.isArray(o.dims) ? o.dims.map(dimValue) : [];
    const type = isInt(o.type, 0, 0xffffffff) ? (o.type as number) : 0;
    return { name: text(o.name ?? `tensor${i}`), dims, type, bytes: tensorBytes(type, dims), i };
  });
  const alignment = (metadata as Record<string, unknown>)["general.alignment"];
  const align =
    isInt(alignment, 1, 1 << 20) && ((alignment as number) & ((alignment as number) - 1)) === 0
      ? (alignment as number)
      : 32;

  const out = new Bytes();
  out.int(4, 0x46554747);
  out.int(4, 3);
  out.int(8, tensors.length);
  const entries = Object.entries(metadata).filter(([, v]) => v !== undefined);
  out.int(8, entries.length);
  for (const [key, v] of entries) {
    out.str(key);
    const t = typed(v, types.get(key));
    out.int(4, t.type);
    if (t.type === T.arr) {
      const items = v as unknown[];
      out.int(4, t.itemType);
      out.int(8, items.length);
      for (const x of items) writeScalar(out, t.itemType, t.itemType === T.str ? text(x) : x);
    } else writeScalar(out, t.type, v);
  }
  let offset = 0;
  const placed: { at: number; bytes: number; source: Buffer | undefined }[] = [];
  for (const t of tensors) {
    offset = Math.ceil(offset / align) * align;
    out.str(t.name);
    out.int(4, t.dims.length);
    for (const d of t.dims) out.int(8, BigInt.asUintN(64, BigInt(d)));
    out.int(4, t.type);
    out.int(8, BigInt.asUintN(64, BigInt(offset)));
    placed.push({ at: offset, bytes: t.bytes, source: data(t.name, t.i) });
    offset += t.bytes;
  }
  const header = out.concat();
  const dataOffset = Math.ceil(header.length / align) * align;
  const total = Math.min(Math.ceil(offset / align) * align, MAX_DATA_BYTES);
  const body = Buffer.alloc(total);
  for (const p of placed) {
    if (p.at >= total || !p.source) continue;
    p.source.copy(body, p.at, 0, Math.min(p.source.length, p.bytes, total - p.at));
  }
  return Buffer.concat([header, Buffer.alloc(dataOffset - header.length), body]);
}
