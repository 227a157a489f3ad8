// A GGUF from a stranger: every tensor's extent, and the header's counts, are checked against the file
// size when the file is opened, before anything is allocated for the tensor data.
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelFormatError } from "../../src/errors.js";
import { GgufReader } from "../../src/llm/gguf-read.js";
import { kv, writeGguf } from "../../src/llm/gguf-write.js";

let dir: string;
let good: Buffer;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "vlmkit-gguf-bounds-"));
  const file = path.join(dir, "good.gguf");
  await writeGguf(file, {
    metadata: { "general.architecture": kv.str("test") },
    tensors: [
      { name: "first.weight", dims: [32, 4], type: "F32", data: new Float32Array(128) },
      { name: "target.weight", dims: [32, 4], type: "F32", data: new Float32Array(128) },
    ],
  });
  good = await fs.readFile(file);
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** Byte position just after the tensor info's name (n_dims u32, dims u64 × n, type u32, offset u64). */
function infoAfterName(bytes: Buffer, name: string): number {
  const at = bytes.indexOf(Buffer.from(name));
  expect(at).toBeGreaterThan(0);
  return at + name.length;
}

async function patched(name: string, patch: (bytes: Buffer) => void): Promise<string> {
  const bytes = Buffer.from(good);
  patch(bytes);
  const file = path.join(dir, name);
  await fs.writeFile(file, bytes);
  return file;
}

async function openError(file: string): Promise<ModelFormatError> {
  const error = await GgufReader.open(file).then(
    async (reader) => {
      await reader.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ModelFormatError);
  return error as ModelFormatError;
}

describe("GGUF extents against the file size", () => {
  it("opens the untouched file and reads it", async () => {
    const reader = await GgufReader.open(path.join(dir, "good.gguf"));
    expect((await reader.readTensor("target.weight")).dims).toEqual([4, 32]);
    await reader.close();
  });

  it("refuses a tensor whose dims reach past the end of the file, before allocating its data", async () => {
    const file = await patched("huge-dims.gguf", (b) => {
      const p = infoAfterName(b, "target.weight");
      b.writeBigUInt64LE(1n << 30n, p + 4 + 8); // ggmlDims[1]: 4 → 2^30 rows (128 GiB of f32)
    });
    const error = await openError(file);
    expect(error.message).toMatch(/tensor "target\.weight" needs \d+ bytes, more than the file's \d+/);
    expect(error.message).toContain(file);
  });

  it("refuses a tensor whose offset lies past the end of the file", async () => {
    const file = await patched("far-offset.gguf", (b) => {
      const p = infoAfterName(b, "target.weight");
      b.writeBigUInt64LE(1n << 40n, p + 4 + 8 + 8 + 4); // relative data offset
    });
    expect((await openError(file)).message).toMatch(/tensor "target\.weight" has data offset 1099511627776/);
  });

  it("refuses header counts the file is too small to hold", async () => {
    const tensors = await patched("many-tensors.gguf", (b) => b.writeBigUInt64LE(1n << 40n, 8));
    expect((await openError(tensors)).message).toMatch(
      /declares a tensor count of 1099511627776, more than its remaining \d+ bytes can hold/,
    );
    const kvs = await patched("many-kvs.gguf", (b) => b.writeBigUInt64LE(1n << 40n, 16));
    expect((await openError(kvs)).message).toMatch(
      /declares a metadata key count of 1099511627776, more than its remaining \d+ bytes can hold/,
    );
  });

  it("refuses a tensor with a zero, negative or absurd dimension", async () => {
    const file = await patched("zero-dim.gguf", (b) => {
      const p = infoAfterName(b, "target.weight");
      b.writeBigUInt64LE(0n, p + 4);
    });
    expect((await openError(file)).message).toMatch(
      /tensor "target\.weight" has dim 0 = 0; dims must be positive/,
    );
  });
});
