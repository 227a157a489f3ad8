/**
 * GGUF reader: metadata and tensor infos come from node-llama-cpp's `readGgufFileInfo` (which gives
 * absolute file offsets); tensor data is read through a file handle, only the bytes asked for, and
 * decoded to float32. Works for files far larger than memory when rows are read selectively.
 */
import fs from "node:fs/promises";
import { type GgufFileInfo, readGgufFileInfo } from "node-llama-cpp";
import { InvalidArgumentError, ModelFormatError, throwIfAborted } from "../errors.js";
import { type Tensor, tensor } from "../tensor.js";
import { checkGgufFile } from "./gguf-check.js";
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
   * Opens `path`, reading the header and tensor infos (split files are not supported). The file is
   * checked against its size first (`checkGgufFile`), so no declared length reaches the parser unchecked.
   */
  static async open(path: string, options: GgufReadOptions = {}): Promise<GgufReader> {
    checkGgufFile(path);
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
