/**
 * safetensors read and write (huggingface/safetensors, `safetensors/src/tensor.rs`):
 *
 *   [u64 LE: N] [N bytes: JSON header, space-padded to a multiple of 8] [data section]
 *
 * The header maps tensor names to `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to the
 * data section) plus an optional `__metadata__` string map. Data is packed little-endian, row-major.
 * Reading accepts F32, F16 and BF16 (converted to float32); writing produces F32, laid out as the
 * reference writer does (tensors sorted by name, offsets contiguous from 0, `__metadata__` first).
 */
import fs from "node:fs";
import { ModelFormatError, quoteValue } from "../errors.js";
import { numel, type Tensor } from "../tensor.js";
import { float16ToFloat32 } from "./float16.js";
import { writeFileAtomic } from "./fs.js";

/** The reference implementation refuses headers above 100 MB (`MAX_HEADER_SIZE`). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Bytes per element of every dtype the format defines; needed to validate files we cannot convert. */
const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

/** The dtypes vlmkit converts to float32 on read. */
export type SafetensorsFloatDtype = "F32" | "F16" | "BF16";
const READABLE = new Set<string>(["F32", "F16", "BF16"]);

export interface SafetensorsContents {
  /** Tensors in data-offset order, converted to float32. */
  tensors: Map<string, Tensor>;
  /** The dtype each tensor had in the file. */
  dtypes: Map<string, SafetensorsFloatDtype>;
  /** `__metadata__`, or `{}` when the file has none. */
  metadata: Record<string, string>;
}

interface HeaderEntry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

function fail(file: string, what: string): never {
  throw new ModelFormatError(`safetensors file ${file}: ${what}`);
}

function isIndex(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function parseHeaderJson(
  file: string,
  text: string,
): { entries: HeaderEntry[]; metadata: Record<string, string> } {
  if (!text.startsWith("{"))
    fail(file, `header must start with "{", got ${JSON.stringify(text.slice(0, 16))}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ModelFormatError(
      `safetensors file ${file}: header is not valid JSON (${(cause as Error).message})`,
      {
        cause,
      },
    );
  }
  if (json === null || typeof json !== "object" || Array.isArray(json))
    fail(file, "header must be a JSON object");
  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        fail(file, "__metadata__ must be an object mapping strings to strings");
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== "string") fail(file, `__metadata__["${k}"] must be a string, got ${quoteValue(v)}`);
        metadata[k] = v;
      }
      continue;
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      fail(file, `tensor "${name}" must be an object with dtype, shape and data_offsets`);
    }
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (typeof dtype !== "string" || !(dtype in DTYPE_BYTES)) {
      fail(
        file,
        `tensor "${name}" has unknown dtype ${quoteValue(dtype)}; expected one of ${Object.keys(DTYPE_BYTES).join(", ")}`,
      );
    }
    if (!Array.isArray(shape) || !shape.every(isIndex)) {
      fail(
        file,
        `tensor "${name}" has shape ${quoteValue(shape)}; expected an array of non-negative integers`,
      );
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex)) {
      fail(
        file,
        `tensor "${name}" has data_offsets ${quoteValue(offsets)}; expected [begin, end] (non-negative integers)`,
      );
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) fail(file, `tensor "${name}" has data_offsets [${begin}, ${end}] with end before begin`);
    entries.push({ name, dtype, shape, begin, end });
  }
  return { entries, metadata };
}

/** Offsets must tile the data section exactly: sorted, no gap, no overlap, last end = data length. */
function validateLayout(file: string, entries: HeaderEntry[], dataBytes: number): void {
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const e of entries) {
    if (e.begin < expected) {
      fail(
        file,
        `tensor "${e.name}" data_offsets [${e.begin}, ${e.end}] overlap the previous tensor, which ends at ${expected}`,
      );
    }
    if (e.begin > expected) {
      fail(
        file,
        `tensor "${e.name}" starts at ${e.begin} but the previous tensor ends at ${expected}; the data section has a gap`,
      );
    }
    const bytes = numel(e.shape) * DTYPE_BYTES[e.dtype];
    if (!Number.isSafeInteger(bytes))
      fail(file, `tensor "${e.name}" shape [${e.shape.join(", ")}] is too large`);
    if (e.end - e.begin !== bytes) {
      fail(
        file,
        `tensor "${e.name}" is ${e.dtype} [${e.shape.join(", ")}] = ${bytes} bytes but data_offsets [${e.begin}, ${e.end}] span ${e.end - e.begin}`,
      );
    }
    if (e.end > dataBytes) {
      fail(
        file,
        `tensor "${e.name}" data_offsets [${e.begin}, ${e.end}] run past the data section (${dataBytes} bytes)`,
      );
    }
    expected = e.end;
  }
  if (expected !== dataBytes) {
    fail(
      file,
      `tensors cover ${expected} bytes but the data section holds ${dataBytes}; the file has trailing bytes`,
    );
  }
}

function decode(view: DataView, offset: number, count: number, dtype: SafetensorsFloatDtype): Float32Array {
  if (dtype === "F16") {
    const bits = new Uint16Array(count);
    for (let i = 0; i < count; i++) bits[i] = view.getUint16(offset + 2 * i, true);
    return float16ToFloat32(bits);
  }
  const out = new Float32Array(count);
  if (dtype === "F32") {
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, true);
  } else {
    // bfloat16 is the top half of a float32.
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) bits[i] = view.getUint16(offset + 2 * i, true) << 16;
  }
  return out;
}

/** A tensor's place in a file, from the header alone: absolute byte range `[begin, end)`. */
export interface SafetensorsTensorRange {
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * The header length stored in the first 8 bytes of a safetensors file, checked against the limit and,
 * when known, the file size: for reading a header without the data (e.g. by HTTP Range requests).
 */
export function safetensorsHeaderLength(first8: Uint8Array, file: string, fileSize?: number): number {
  if (first8.length < 8) fail(file, `is ${first8.length} bytes long; a header length needs 8`);
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES))
    fail(file, `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const length = Number(n);
  // The smallest header is "{}".
  if (length < 2) fail(file, `header length ${length} is too short for a JSON header`);
  if (fileSize !== undefined && 8 + length > fileSize) {
    fail(file, `header length ${length} runs past the end of the file (${fileSize} bytes)`);
  }
  return length;
}

/**
 * Parses a header on its own (the `N` bytes after the length) for a file of `fileSize` bytes, with the
 * same checks as a whole-file read: every tensor's absolute byte range, by name.
 */
export function parseSafetensorsHeader(
  header: Uint8Array,
  fileSize: number,
  file: string,
): Map<string, SafetensorsTensorRange> {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(header);
  } catch (cause) {
    throw new ModelFormatError(`safetensors file ${file}: header is not valid UTF-8`, { cause });
  }
  const { entries } = parseHeaderJson(file, text);
  const dataStart = 8 + header.length;
  validateLayout(file, entries, fileSize - dataStart);
  return new Map(
    entries.map((e) => [
      e.name,
      { dtype: e.dtype, shape: e.shape, begin: dataStart + e.begin, end: dataStart + e.end },
    ]),
  );
}

/** The values of one tensor's bytes (F32, F16 or BF16, little-endian) as float32. */
export function decodeSafetensorsFloats(
  bytes: Uint8Array,
  dtype: string,
  file: string,
  name: string,
): Float32Array {
  if (!READABLE.has(dtype)) fail(file, `tensor "${name}" has dtype ${dtype}; vlmkit reads F32, F16 and BF16`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return decode(view, 0, bytes.length / DTYPE_BYTES[dtype], dtype as SafetensorsFloatDtype);
}

/**
 * Parses a whole safetensors file held in memory. `file` names the source in error messages.
 * Throws `ModelFormatError` for any structural problem, and for tensors whose dtype is not F32/F16/BF16.
 */
export function parseSafetensors(bytes: Uint8Array, file = "<buffer>"): SafetensorsContents {
  const headerBytes = safetensorsHeaderLength(bytes.subarray(0, 8), file, bytes.length);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerBytes));
  } catch (cause) {
    throw new ModelFormatError(`safetensors file ${file}: header is not valid UTF-8`, { cause });
  }
  const { entries, metadata } = parseHeaderJson(file, text);
  const dataStart = 8 + headerBytes;
  validateLayout(file, entries, bytes.length - dataStart);

  const tensors = new Map<string, Tensor>();
  const dtypes = new Map<string, SafetensorsFloatDtype>();
  for (const e of entries) {
    if (!READABLE.has(e.dtype)) {
      fail(file, `tensor "${e.name}" has dtype ${e.dtype}; vlmkit reads F32, F16 and BF16`);
    }
    const dtype = e.dtype as SafetensorsFloatDtype;
    tensors.set(e.name, { data: decode(view, dataStart + e.begin, numel(e.shape), dtype), dims: e.shape });
    dtypes.set(e.name, dtype);
  }
  return { tensors, dtypes, metadata };
}

/** Reads and validates a safetensors file; see `parseSafetensors`. */
export async function readSafetensors(file: string): Promise<SafetensorsContents> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.promises.readFile(file);
  } catch (cause) {
    throw new ModelFormatError(`safetensors file ${file} cannot be read: ${(cause as Error).message}`, {
      cause,
    });
  }
  return parseSafetensors(bytes, file);
}

/**
 * Serializes float32 tensors the way the reference writer does: names sorted, offsets contiguous from 0,
 * `__metadata__` first in the header, header padded with spaces to a multiple of 8 so the data section
 * starts 8-byte aligned.
 */
export function serializeSafetensors(
  tensors: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const list = (tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors)) as [
    string,
    Tensor,
  ][];
  // Byte-wise UTF-8 order, as Rust compares strings.
  list.sort(([a], [b]) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8")));
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header.__metadata__ = { ...metadata };
  let offset = 0;
  for (const [name, t] of list) {
    if (name === "__metadata__")
      throw new ModelFormatError(`"__metadata__" is reserved and cannot name a tensor`);
    if (t.data.length !== numel(t.dims)) {
      throw new ModelFormatError(
        `tensor "${name}" has ${t.data.length} elements but dims [${t.dims.join(", ")}] need ${numel(t.dims)}`,
      );
    }
    const bytes = 4 * t.data.length;
    header[name] = { dtype: "F32", shape: [...t.dims], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let at = 8 + padded;
  for (const [, t] of list) {
    for (let i = 0; i < t.data.length; i++, at += 4) view.setFloat32(at, t.data[i], true);
  }
  return out;
}

/** Writes float32 tensors to `file` atomically (temp file + rename); see `serializeSafetensors`. */
export async function writeSafetensors(
  file: string,
  tensors: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>,
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  await writeFileAtomic(file, serializeSafetensors(tensors, metadata));
}
