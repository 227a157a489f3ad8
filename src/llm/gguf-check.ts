/**
 * Structural check of a GGUF file against its size, before any other parser (node-llama-cpp's
 * metadata reader, llama.cpp's loader) opens it. A file from a stranger can declare string lengths,
 * array counts, tensor dims or offsets far beyond its own size; llama.cpp's loader asserts on some
 * of them, a JavaScript reader allocates whatever a count says. This reader allocates nothing a
 * count asks for: it walks the header with a bounded buffer, skips what it does not need, and checks
 *
 * - magic, version (2 or 3), tensor and key counts that the remaining bytes could hold;
 * - every key, string and array length within the file; value types known; no nested arrays;
 *   unique keys and tensor names; `general.alignment` a power of two;
 * - every tensor: 1..4 positive dims, a known ggml type whose block size divides the row, a byte
 *   size without overflow, the offset llama.cpp expects (tensors packed in order, each aligned) and
 *   its data inside the file;
 * - the vocabulary arrays llama.cpp indexes together: `tokenizer.ggml.scores` / `token_type` as
 *   long as `tokenizer.ggml.tokens`, of the types llama.cpp reads, and special token ids in range.
 */
import fs from "node:fs";
import { ModelFormatError, quoteValue, VlmkitError } from "../errors.js";

/** `GGUF` read as a little-endian u32. */
const MAGIC = 0x46554747;
const DEFAULT_ALIGNMENT = 32;
/** GGML_MAX_NAME: llama.cpp refuses tensor names of this length or more. */
const MAX_TENSOR_NAME = 64;
/** GGML_MAX_DIMS. */
const MAX_DIMS = 4;
/** Longest key vlmkit accepts; real keys are a few dozen bytes. */
const MAX_KEY_BYTES = 65_536;
/** Strings read into memory (keys, short values); longer string values are skipped, not read. */
const MAX_KEPT_STRING = 4096;
const BUFFER_BYTES = 1 << 20;

/** GGUF value types (gguf.h). */
enum ValueType {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
}
const TYPE_NAMES = [
  "u8",
  "i8",
  "u16",
  "i16",
  "u32",
  "i32",
  "f32",
  "bool",
  "string",
  "array",
  "u64",
  "i64",
  "f64",
];
const FIXED_BYTES: Partial<Record<ValueType, number>> = {
  [ValueType.U8]: 1,
  [ValueType.I8]: 1,
  [ValueType.BOOL]: 1,
  [ValueType.U16]: 2,
  [ValueType.I16]: 2,
  [ValueType.U32]: 4,
  [ValueType.I32]: 4,
  [ValueType.F32]: 4,
  [ValueType.U64]: 8,
  [ValueType.I64]: 8,
  [ValueType.F64]: 8,
};

/**
 * Every ggml type a GGUF may hold, as llama.cpp's ggml knows them: id → [block size, block bytes]
 * (ggml.c type_traits; removed ids 4, 5, 31–33 and 36–38 are absent).
 */
const GGML_BLOCKS: ReadonlyMap<number, readonly [number, number]> = new Map([
  [0, [1, 4]], // F32
  [1, [1, 2]], // F16
  [2, [32, 18]], // Q4_0
  [3, [32, 20]], // Q4_1
  [6, [32, 22]], // Q5_0
  [7, [32, 24]], // Q5_1
  [8, [32, 34]], // Q8_0
  [9, [32, 36]], // Q8_1
  [10, [256, 84]], // Q2_K
  [11, [256, 110]], // Q3_K
  [12, [256, 144]], // Q4_K
  [13, [256, 176]], // Q5_K
  [14, [256, 210]], // Q6_K
  [15, [256, 292]], // Q8_K
  [16, [256, 66]], // IQ2_XXS
  [17, [256, 74]], // IQ2_XS
  [18, [256, 98]], // IQ3_XXS
  [19, [256, 50]], // IQ1_S
  [20, [32, 18]], // IQ4_NL
  [21, [256, 110]], // IQ3_S
  [22, [256, 82]], // IQ2_S
  [23, [256, 136]], // IQ4_XS
  [24, [1, 1]], // I8
  [25, [1, 2]], // I16
  [26, [1, 4]], // I32
  [27, [1, 8]], // I64
  [28, [1, 8]], // F64
  [29, [256, 56]], // IQ1_M
  [30, [1, 2]], // BF16
  [34, [256, 54]], // TQ1_0
  [35, [256, 66]], // TQ2_0
  [39, [32, 17]], // MXFP4
  [40, [64, 36]], // NVFP4
  [41, [128, 18]], // Q1_0
  [42, [64, 18]], // Q2_0
]);

/** A metadata value as the check keeps it: scalars and short strings, or an array's type and length. */
export type GgufCheckedValue =
  | {
      readonly type: "scalar";
      readonly valueType: string;
      readonly value: number | bigint | boolean | string;
    }
  | { readonly type: "string"; readonly bytes: number }
  | { readonly type: "array"; readonly itemType: string; readonly count: number };

export interface GgufCheckedTensor {
  readonly name: string;
  /** ggml order: `ggmlDims[0]` is the row length. */
  readonly ggmlDims: readonly number[];
  readonly typeId: number;
  /** Absolute byte offset of the data in the file. */
  readonly fileOffset: number;
  readonly bytes: number;
}

/** What the check found; every offset and extent in it lies inside the file. */
export interface GgufLayout {
  readonly version: number;
  readonly fileSize: number;
  readonly alignment: number;
  /** Absolute offset where tensor data starts. */
  readonly dataOffset: number;
  readonly metadata: ReadonlyMap<string, GgufCheckedValue>;
  readonly tensors: readonly GgufCheckedTensor[];
}

/**
 * Checks `path` as described in the module comment. Throws NOT_FOUND for a missing file and
 * ModelFormatError naming the file, the field and the offending value for anything else.
 */
export function checkGgufFile(path: string): GgufLayout {
  let fd: number;
  try {
    fd = fs.openSync(path, "r");
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") {
      throw new VlmkitError("NOT_FOUND", `GGUF file "${path}" does not exist`, { cause, details: { path } });
    }
    throw new ModelFormatError(`GGUF file "${path}" cannot be opened: ${(cause as Error).message}`, {
      cause,
    });
  }
  try {
    const size = fs.fstatSync(fd).size;
    return checkLayout(new Cursor(fd, size, path));
  } finally {
    fs.closeSync(fd);
  }
}

/** Thrown by a Cursor over a prefix when a read passes the bytes it holds. */
class PrefixEnded extends Error {}

/**
 * The metadata of a GGUF file from a prefix of it (`prefixPath` holds its first bytes; `fileSize` is the
 * whole file's size), with the same checks as `checkGgufFile` applies to the header; undefined when the
 * prefix ends before the metadata does (fetch a longer one). Nothing after the metadata is read.
 */
export function readGgufMetadataPrefix(
  prefixPath: string,
  fileSize: number,
  name: string,
): ReadonlyMap<string, GgufCheckedValue> | undefined {
  const fd = fs.openSync(prefixPath, "r");
  try {
    const available = Math.min(fs.fstatSync(fd).size, fileSize);
    return readHeader(new Cursor(fd, fileSize, name, available)).metadata;
  } catch (error) {
    if (error instanceof PrefixEnded) return undefined;
    throw error;
  } finally {
    fs.closeSync(fd);
  }
}

/** Magic, version, the tensor count and every metadata key and value. */
function readHeader(c: Cursor): {
  version: number;
  nTensors: number;
  metadata: Map<string, GgufCheckedValue>;
} {
  if (c.size < 24) c.fail(`is ${c.size} bytes, too short for a GGUF header (24 bytes)`);
  const magic = c.u32();
  if (magic !== MAGIC)
    c.fail(`does not start with the GGUF magic (got 0x${magic.toString(16).padStart(8, "0")})`);
  const version = c.u32();
  if (version !== 2 && version !== 3) c.fail(`has GGUF version ${version}; supported: 2, 3`);
  const nTensors = c.count("tensor count", 4 + 8 + 4 + 4 + 8 + 4 + 8);
  const nKv = c.count("metadata key count", 8 + 1 + 4 + 1);

  const metadata = new Map<string, GgufCheckedValue>();
  for (let i = 0; i < nKv; i++) {
    const key = c.keptString(`metadata key ${i}`, MAX_KEY_BYTES);
    if (key === undefined || key.length === 0)
      c.fail(`metadata key ${i} is empty or longer than ${MAX_KEY_BYTES} bytes`);
    if (metadata.has(key)) c.fail(`has the metadata key ${quoteValue(key)} twice`);
    metadata.set(key, readValue(c, key));
  }
  return { version, nTensors, metadata };
}

function checkLayout(c: Cursor): GgufLayout {
  const { version, nTensors, metadata } = readHeader(c);
  let alignment = DEFAULT_ALIGNMENT;
  const declared = metadata.get("general.alignment");
  if (declared) {
    if (declared.type !== "scalar" || declared.valueType !== "u32") c.fail(`general.alignment must be a u32`);
    alignment = declared.value as number;
    if (alignment === 0 || (alignment & (alignment - 1)) !== 0) {
      c.fail(`general.alignment ${alignment} is not a power of two`);
    }
  }

  const names = new Set<string>();
  const infos: { name: string; ggmlDims: number[]; typeId: number; offset: bigint; bytes: bigint }[] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = c.keptString(`tensor ${i} name`, MAX_TENSOR_NAME - 1);
    if (name === undefined) c.fail(`tensor ${i} has a name of ${MAX_TENSOR_NAME} bytes or more`);
    if (names.has(name)) c.fail(`has the tensor "${name}" twice`);
    names.add(name);
    const nDims = c.u32();
    if (nDims < 1 || nDims > MAX_DIMS)
      c.fail(`tensor "${name}" has ${nDims} dims; expected 1 to ${MAX_DIMS}`);
    const dims: bigint[] = [];
    for (let d = 0; d < nDims; d++) {
      const n = c.i64();
      if (n < 1n) c.fail(`tensor "${name}" has dim ${d} = ${n}; dims must be positive`);
      dims.push(n);
    }
    const typeId = c.u32();
    const block = GGML_BLOCKS.get(typeId);
    if (!block) c.fail(`tensor "${name}" has the unknown ggml type id ${typeId}`);
    const [blockSize, blockBytes] = block;
    if (dims[0] % BigInt(blockSize) !== 0n) {
      c.fail(`tensor "${name}" has rows of ${dims[0]}, not a multiple of its type's block of ${blockSize}`);
    }
    const elements = dims.reduce((a, b) => a * b, 1n);
    const bytes = (elements / BigInt(blockSize)) * BigInt(blockBytes);
    if (bytes > BigInt(c.size))
      c.fail(`tensor "${name}" needs ${bytes} bytes, more than the file's ${c.size}`);
    const offset = c.u64();
    infos.push({ name, ggmlDims: dims.map(Number), typeId, offset, bytes });
  }

  const dataOffset = nTensors > 0 ? alignUp(c.pos, alignment) : c.pos;
  if (dataOffset > c.size) c.fail(`ends at byte ${c.size}, before its tensor data starts (${dataOffset})`);
  const tensors: GgufCheckedTensor[] = [];
  let expected = 0n;
  for (const t of infos) {
    if (t.offset !== expected) {
      c.fail(
        `tensor "${t.name}" has data offset ${t.offset}; tensors must follow each other, expected ${expected}`,
      );
    }
    const end = BigInt(dataOffset) + t.offset + t.bytes;
    if (end > BigInt(c.size)) {
      c.fail(`tensor "${t.name}" needs bytes up to ${end}, but the file has ${c.size}`);
    }
    tensors.push({
      name: t.name,
      ggmlDims: t.ggmlDims,
      typeId: t.typeId,
      fileOffset: dataOffset + Number(t.offset),
      bytes: Number(t.bytes),
    });
    expected += BigInt(alignUp(Number(t.bytes), alignment));
  }
  checkVocabulary(c, metadata);
  return { version, fileSize: c.size, alignment, dataOffset, metadata, tensors };
}

/** The arrays llama.cpp's vocabulary loader indexes by token id, and the special ids. */
function checkVocabulary(c: Cursor, metadata: ReadonlyMap<string, GgufCheckedValue>): void {
  const tokens = metadata.get("tokenizer.ggml.tokens");
  if (!tokens) return;
  if (tokens.type !== "array" || tokens.itemType !== "string")
    c.fail(`tokenizer.ggml.tokens must be an array of strings`);
  const n = tokens.count;
  if (n === 0) c.fail(`tokenizer.ggml.tokens is empty`);
  const parallel: [key: string, types: string[]][] = [
    ["tokenizer.ggml.scores", ["f32", "i32"]],
    ["tokenizer.ggml.token_type", ["i32"]],
  ];
  for (const [key, types] of parallel) {
    const v = metadata.get(key);
    if (!v) continue;
    if (v.type !== "array" || !types.includes(v.itemType))
      c.fail(`${key} must be an array of ${types.join(" or ")}`);
    if (v.count !== n) c.fail(`${key} has ${v.count} entries for ${n} tokens`);
  }
  for (const [key, v] of metadata) {
    if (!/^tokenizer\.ggml\.\w+_token_id$/.test(key)) continue;
    if (v.type !== "scalar" || typeof v.value !== "number" || !Number.isInteger(v.value)) {
      c.fail(`${key} must be an integer token id`);
    }
    if ((v.value as number) < 0 || (v.value as number) >= n) {
      c.fail(`${key} = ${v.value} is not a token id of the ${n}-token vocabulary`);
    }
  }
}

function readValue(c: Cursor, key: string): GgufCheckedValue {
  const name = quoteValue(key); // a key may be 64 KiB long
  const type = c.valueType(`value of ${name}`);
  if (type === ValueType.ARRAY) {
    const itemType = c.valueType(`items of ${name}`);
    if (itemType === ValueType.ARRAY) c.fail(`${name} is an array of arrays, which GGUF does not allow`);
    const itemBytes = itemType === ValueType.STRING ? 8 : FIXED_BYTES[itemType]!;
    const count = c.count(`length of ${name}`, itemBytes);
    if (itemType === ValueType.STRING) {
      for (let i = 0; i < count; i++) c.skip(c.length(`${name}[${i}]`), `${name}[${i}]`);
    } else {
      c.skip(count * itemBytes, name);
    }
    return { type: "array", itemType: TYPE_NAMES[itemType], count };
  }
  if (type === ValueType.STRING) {
    const bytes = c.length(name);
    if (bytes > MAX_KEPT_STRING) {
      c.skip(bytes, name);
      return { type: "string", bytes };
    }
    return { type: "scalar", valueType: "string", value: c.take(bytes, name).toString("utf8") };
  }
  const valueType = TYPE_NAMES[type];
  switch (type) {
    case ValueType.U8:
      return { type: "scalar", valueType, value: c.take(1, key).readUInt8(0) };
    case ValueType.I8:
      return { type: "scalar", valueType, value: c.take(1, key).readInt8(0) };
    case ValueType.BOOL:
      return { type: "scalar", valueType, value: c.take(1, key).readUInt8(0) !== 0 };
    case ValueType.U16:
      return { type: "scalar", valueType, value: c.take(2, key).readUInt16LE(0) };
    case ValueType.I16:
      return { type: "scalar", valueType, value: c.take(2, key).readInt16LE(0) };
    case ValueType.U32:
      return { type: "scalar", valueType, value: c.take(4, key).readUInt32LE(0) };
    case ValueType.I32:
      return { type: "scalar", valueType, value: c.take(4, key).readInt32LE(0) };
    case ValueType.F32:
      return { type: "scalar", valueType, value: c.take(4, key).readFloatLE(0) };
    case ValueType.U64:
      return { type: "scalar", valueType, value: c.take(8, key).readBigUInt64LE(0) };
    case ValueType.I64:
      return { type: "scalar", valueType, value: c.take(8, key).readBigInt64LE(0) };
    default:
      return { type: "scalar", valueType, value: c.take(8, key).readDoubleLE(0) };
  }
}

function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

/** Sequential reads through one bounded buffer; every read and skip is checked against the file size. */
class Cursor {
  pos = 0;
  private buf = Buffer.allocUnsafe(BUFFER_BYTES);
  private bufStart = 0;
  private bufEnd = 0;

  /**
   * `size` is the file's size, against which every declared length is checked; `available` is how many
   * of its bytes `fd` holds (a prefix of the file, fetched for its header): reading past them throws
   * PrefixEnded.
   */
  constructor(
    private readonly fd: number,
    readonly size: number,
    private readonly path: string,
    private readonly available = size,
  ) {}

  fail(problem: string): never {
    throw new ModelFormatError(`GGUF file "${this.path}" ${problem}`, { details: { path: this.path } });
  }

  /** `n` bytes at the cursor (n ≤ MAX_KEY_BYTES), advancing past them. */
  take(n: number, what: string): Buffer {
    this.require(n, what);
    if (this.pos + n > this.available) throw new PrefixEnded();
    if (this.pos < this.bufStart || this.pos + n > this.bufEnd) {
      const length = Math.min(this.buf.length, this.available - this.pos);
      let done = 0;
      while (done < length) {
        const read = fs.readSync(this.fd, this.buf, done, length - done, this.pos + done);
        if (read === 0) this.fail(`shrank while being read (at byte ${this.pos + done})`);
        done += read;
      }
      this.bufStart = this.pos;
      this.bufEnd = this.pos + length;
    }
    const at = this.pos - this.bufStart;
    this.pos += n;
    return this.buf.subarray(at, at + n);
  }

  skip(n: number, what: string): void {
    this.require(n, what);
    this.pos += n;
  }

  u32(): number {
    return this.take(4, "a u32 field").readUInt32LE(0);
  }

  u64(): bigint {
    return this.take(8, "a u64 field").readBigUInt64LE(0);
  }

  i64(): bigint {
    return this.take(8, "an i64 field").readBigInt64LE(0);
  }

  /** A u64 length that must fit in the rest of the file. */
  length(what: string): number {
    const n = this.u64();
    if (n > BigInt(this.size - this.pos)) {
      this.fail(
        `declares ${what} of ${n} bytes at byte ${this.pos - 8}, beyond the file's ${this.size} bytes`,
      );
    }
    return Number(n);
  }

  /** A u64 count of items taking at least `minBytes` each, which the rest of the file must be able to hold. */
  count(what: string, minBytes: number): number {
    const n = this.u64();
    if (n * BigInt(minBytes) > BigInt(this.size - this.pos)) {
      this.fail(`declares a ${what} of ${n}, more than its remaining ${this.size - this.pos} bytes can hold`);
    }
    return Number(n);
  }

  valueType(what: string): ValueType {
    const t = this.u32();
    if (t > ValueType.F64) this.fail(`has the unknown type ${t} for the ${what}`);
    return t as ValueType;
  }

  /** A string of at most `max` bytes, or undefined (cursor past it) when longer. */
  keptString(what: string, max: number): string | undefined {
    const n = this.length(what);
    if (n > max) {
      this.skip(n, what);
      return undefined;
    }
    return this.take(n, what).toString("utf8");
  }

  private require(n: number, what: string): void {
    if (n > this.size - this.pos) {
      this.fail(`ends at byte ${this.size}, inside ${what} (needs ${n} bytes from ${this.pos})`);
    }
  }
}
