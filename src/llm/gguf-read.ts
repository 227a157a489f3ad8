/**
 * GGUF reader: metadata and tensor infos come from node-llama-cpp's `readGgufFileInfo` (which gives
 * absolute file offsets); tensor data is read through a file handle, only the bytes asked for, and
 * decoded to float32. Works for files far larger than memory when rows are read selectively.
 */
import fs from "node:fs/promises";
import { type GgufFileInfo, readGgufFileInfo } from "node-llama-cpp";
import { InvalidArgumentError, ModelFormatError, throwIfAborted, VlmkitError } from "../errors.js";
import { type Tensor, tensor } from "../tensor.js";
import { type GgmlTypeInfo, ggmlRowBytes, ggmlTypeById } from "./quant.js";
import { dequantizeRow } from "./quant-decode.js";

export interface GgufTensorEntry {
  readonly name: string;
  /** ggml order: `ggmlDims[0]` is the contiguous row length. */
  readonly ggmlDims: readonly number[];
  /** Row-major dims (ggml order reversed), as `Tensor.dims` reports them: token_embd is [n_vocab, n_embd]. */
  readonly dims: readonly number[];
  /** Raw ggml type id, also for types vlmkit cannot decode. */
  readonly typeId: number;
  /** Decoding info, or undefined for a type vlmkit cannot decode. */
  readonly type: GgmlTypeInfo | undefined;
  /** Absolute byte offset of the tensor data in the file. */
  readonly fileOffset: number;
  /** Elements per row (`ggmlDims[0]`) and number of rows (product of the other dims). */
  readonly rowLength: number;
  readonly rowCount: number;
}

export interface GgufReadOptions {
  /** Cancels a long read between chunks. */
  signal?: AbortSignal;
}

/** Bytes decoded per read when a whole tensor is loaded; bounds the temporary buffer. */
const CHUNK_BYTES = 8 << 20;

/** An open GGUF file. Call `close()` when done. */
export class GgufReader {
  private constructor(
    /** Everything `readGgufFileInfo` returned (metadata is nested: `info.metadata.general.architecture`). */
    readonly info: GgufFileInfo,
    readonly tensors: ReadonlyMap<string, GgufTensorEntry>,
    private readonly handle: fs.FileHandle,
    readonly path: string,
  ) {}

  /**
   * Opens `path`, reading the header and tensor infos (split files are not supported). The header's
   * counts and every tensor's extent are checked against the file size first: a malformed file is a
   * ModelFormatError here, never a huge allocation or a read past its end later.
   */
  static async open(path: string, options: GgufReadOptions = {}): Promise<GgufReader> {
    const fileSize = await checkHeaderCounts(path);
    let info: GgufFileInfo;
    try {
      info = await readGgufFileInfo(path, {
        sourceType: "filesystem",
        spliceSplitFiles: false,
        logWarnings: false,
        signal: options.signal,
      });
    } catch (cause) {
      throw new ModelFormatError(`"${path}" is not a readable GGUF file: ${(cause as Error).message}`, {
        cause,
      });
    }
    const tensors = new Map<string, GgufTensorEntry>();
    for (const t of info.tensorInfo ?? []) {
      const ggmlDims = t.dimensions.map(Number);
      const typeId = Number(t.ggmlType);
      let type: GgmlTypeInfo | undefined;
      try {
        type = ggmlTypeById(typeId);
      } catch {
        type = undefined;
      }
      const rowLength = ggmlDims[0] ?? 1;
      const entry: GgufTensorEntry = {
        name: t.name,
        ggmlDims,
        dims: [...ggmlDims].reverse(),
        typeId,
        type,
        fileOffset: Number(t.fileOffset),
        rowLength,
        rowCount: ggmlDims.slice(1).reduce((a, b) => a * b, 1),
      };
      checkExtent(entry, path, fileSize);
      tensors.set(t.name, entry);
    }
    const handle = await fs.open(path, "r");
    return new GgufReader(info, tensors, handle, path);
  }

  /** The entry for `name`; throws ModelFormatError naming the file when it is absent. */
  tensor(name: string): GgufTensorEntry {
    const entry = this.tensors.get(name);
    if (!entry) {
      throw new ModelFormatError(
        `tensor "${name}" not found in "${this.path}" (${this.tensors.size} tensors)`,
      );
    }
    return entry;
  }

  /** Decodes a whole tensor; dims are row-major (`entry.dims`). */
  async readTensor(name: string, options: GgufReadOptions = {}): Promise<Tensor> {
    const entry = this.tensor(name);
    const type = decodable(entry);
    const rowBytes = ggmlRowBytes(type, entry.rowLength);
    const out = new Float32Array(entry.rowLength * entry.rowCount);
    const rowsPerChunk = Math.max(1, Math.floor(CHUNK_BYTES / rowBytes));
    const buf = Buffer.allocUnsafe(Math.min(entry.rowCount, rowsPerChunk) * rowBytes);
    for (let r0 = 0; r0 < entry.rowCount; r0 += rowsPerChunk) {
      throwIfAborted(options.signal);
      const rows = Math.min(rowsPerChunk, entry.rowCount - r0);
      await this.readExactly(buf, rows * rowBytes, entry.fileOffset + r0 * rowBytes);
      for (let r = 0; r < rows; r++) {
        dequantizeRow(
          type,
          buf.subarray(r * rowBytes, (r + 1) * rowBytes),
          out.subarray((r0 + r) * entry.rowLength, (r0 + r + 1) * entry.rowLength),
        );
      }
    }
    return tensor(out, entry.dims);
  }

  /**
   * Decodes selected rows (indices into the flattened rows, e.g. token ids of token_embd).
   * [rows.length, rowLength]
   */
  async readRows(name: string, rows: readonly number[], options: GgufReadOptions = {}): Promise<Tensor> {
    const entry = this.tensor(name);
    const type = decodable(entry);
    const rowBytes = ggmlRowBytes(type, entry.rowLength);
    const out = new Float32Array(rows.length * entry.rowLength);
    const buf = Buffer.allocUnsafe(rowBytes);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      if (!Number.isInteger(r) || r < 0 || r >= entry.rowCount) {
        throw new InvalidArgumentError(
          `row ${r} of tensor "${name}" is out of range; expected 0..${entry.rowCount - 1}`,
        );
      }
      throwIfAborted(options.signal);
      await this.readExactly(buf, rowBytes, entry.fileOffset + r * rowBytes);
      dequantizeRow(type, buf, out.subarray(i * entry.rowLength, (i + 1) * entry.rowLength));
    }
    return tensor(out, [rows.length, entry.rowLength]);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }

  private async readExactly(buf: Buffer, length: number, position: number): Promise<void> {
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(buf, done, length - done, position + done);
      if (bytesRead === 0) {
        throw new ModelFormatError(
          `"${this.path}" ends at byte ${position + done}, but tensor data needs ${length} bytes from ${position}`,
        );
      }
      done += bytesRead;
    }
  }
}

/** GGML_MAX_DIMS: a ggml tensor has at most 4 dimensions. */
const MAX_DIMS = 4;
/** Fewest bytes a tensor info can take: name length (u64), n_dims (u32), type (u32), offset (u64). */
const MIN_TENSOR_INFO_BYTES = 24;
/** Fewest bytes a metadata entry can take: key length (u64), value type (u32), a one-byte value. */
const MIN_KV_BYTES = 13;
/** magic, version (u32 each), tensor count and metadata count (u64 each). */
const HEADER_BYTES = 24;

/**
 * Reads the fixed header and checks its counts against what the file can hold, before any parser
 * loops over them (an inflated count would otherwise keep a parser busy for minutes). Returns the
 * file size. Files too short or without the GGUF magic are left to the parser's own error.
 */
async function checkHeaderCounts(path: string): Promise<number> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, "r");
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") {
      throw new VlmkitError("NOT_FOUND", `GGUF file "${path}" does not exist`, { cause, details: { path } });
    }
    throw new ModelFormatError(`"${path}" is not a readable GGUF file: ${(cause as Error).message}`, {
      cause,
    });
  }
  try {
    const { size } = await handle.stat();
    const header = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await handle.read(header, 0, HEADER_BYTES, 0);
    if (bytesRead < HEADER_BYTES || header.toString("latin1", 0, 4) !== "GGUF") return size;
    const tensorCount = header.readBigUInt64LE(8);
    const kvCount = header.readBigUInt64LE(16);
    const room = BigInt(Math.max(0, size - HEADER_BYTES));
    for (const [count, each, what] of [
      [tensorCount, MIN_TENSOR_INFO_BYTES, "tensors"],
      [kvCount, MIN_KV_BYTES, "metadata entries"],
    ] as const) {
      if (count * BigInt(each) > room) {
        throw new ModelFormatError(
          `"${path}" declares ${count} ${what}, more than its ${size} bytes can describe; the file is corrupt or not a GGUF`,
          { details: { path, [what === "tensors" ? "tensorCount" : "kvCount"]: String(count), size } },
        );
      }
    }
    if (tensorCount * BigInt(MIN_TENSOR_INFO_BYTES) + kvCount * BigInt(MIN_KV_BYTES) > room) {
      throw new ModelFormatError(
        `"${path}" declares ${tensorCount} tensors and ${kvCount} metadata entries, more than its ${size} bytes can describe`,
        { details: { path, size } },
      );
    }
    return size;
  } finally {
    await handle.close();
  }
}

/** Throws ModelFormatError unless the tensor's dims are sane and its data lies inside the file. */
function checkExtent(entry: GgufTensorEntry, path: string, fileSize: number): void {
  const where = `tensor "${entry.name}" in "${path}"`;
  const dims = entry.ggmlDims;
  const elements = dims.reduce((a, b) => a * b, 1);
  if (
    dims.length === 0 ||
    dims.length > MAX_DIMS ||
    !dims.every((d) => Number.isSafeInteger(d) && d >= 1) ||
    !Number.isSafeInteger(elements)
  ) {
    throw new ModelFormatError(
      `${where} has dims [${dims.join(",")}]; expected 1 to ${MAX_DIMS} dimensions, each at least 1`,
      { details: { path, tensor: entry.name, dims } },
    );
  }
  if (!Number.isSafeInteger(entry.fileOffset) || entry.fileOffset < 0) {
    throw new ModelFormatError(`${where} has data offset ${entry.fileOffset}, which no file can hold`, {
      details: { path, tensor: entry.name },
    });
  }
  // An undecodable type has no known size; its data must still start inside the file.
  let bytes = 0;
  if (entry.type) {
    if (entry.rowLength % entry.type.blockSize !== 0) {
      throw new ModelFormatError(
        `${where} is ${entry.type.name} with rows of ${entry.rowLength} values, not a multiple of its block size ${entry.type.blockSize}`,
        { details: { path, tensor: entry.name } },
      );
    }
    bytes = ggmlRowBytes(entry.type, entry.rowLength) * entry.rowCount;
  }
  if (entry.fileOffset + bytes > fileSize || entry.fileOffset >= fileSize) {
    throw new ModelFormatError(
      `${where} needs ${bytes} bytes from byte ${entry.fileOffset}, but the file is ${fileSize} bytes; the file is truncated or corrupt`,
      { details: { path, tensor: entry.name, offset: entry.fileOffset, bytes, fileSize } },
    );
  }
}

/** The entry's type, or the ModelFormatError naming an undecodable type id. */
function decodable(entry: GgufTensorEntry): GgmlTypeInfo {
  return entry.type ?? ggmlTypeById(entry.typeId);
}

/** Opens a GGUF file, runs `fn`, and closes the file again. */
export async function withGguf<T>(path: string, fn: (reader: GgufReader) => Promise<T>): Promise<T> {
  const reader = await GgufReader.open(path);
  try {
    return await fn(reader);
  } finally {
    await reader.close();
  }
}
