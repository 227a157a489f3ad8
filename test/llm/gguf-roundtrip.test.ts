import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { readGgufFileInfo } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GgufReader } from "../../src/llm/gguf-read.js";
import { kv, writeGguf } from "../../src/llm/gguf-write.js";
import { GGML_TYPES, ggmlRowBytes } from "../../src/llm/quant.js";
import { dequantizeRow } from "../../src/llm/quant-decode.js";
import { quantizeRow, type WritableGgmlType } from "../../src/llm/quant-encode.js";
import { SeededRandom } from "../../src/util/random.js";

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "vlmkit-gguf-"));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** What encoding then decoding one row gives, computed row by row outside the file code paths. */
function expectedValues(type: WritableGgmlType, x: Float32Array, rowLength: number): Float32Array {
  const info = GGML_TYPES[type];
  const out = new Float32Array(x.length);
  const bytes = new Uint8Array(ggmlRowBytes(info, rowLength));
  for (let r = 0; r < x.length / rowLength; r++) {
    quantizeRow(info, x.subarray(r * rowLength, (r + 1) * rowLength), bytes);
    dequantizeRow(info, bytes, out.subarray(r * rowLength, (r + 1) * rowLength));
  }
  return out;
}

describe("GGUF write → read", () => {
  const rng = new SeededRandom(11);
  const a = rng.normalArray(64 * 10); // [10, 64]
  const b = rng.normalArray(96 * 3 * 2); // [2, 3, 96]
  const norm = rng.normalArray(48); // odd-sized 1-D tensor: forces padding before the next one

  for (const type of ["F32", "F16", "BF16", "Q8_0", "Q4_0"] as const) {
    it(`${type}: metadata, tensor infos, offsets and values survive`, async () => {
      const file = path.join(dir, `rt-${type}.gguf`);
      const chunks = [b.subarray(0, 96 * 4), b.subarray(96 * 4)]; // streamed in whole rows
      const result = await writeGguf(file, {
        metadata: {
          "general.architecture": kv.str("test"),
          "test.count": kv.u32(7),
          "test.neg": kv.i32(-3),
          "test.eps": kv.f32(1e-6),
          "test.big": kv.u64(2n ** 40n),
          "test.flag": kv.bool(true),
          "test.names": kv.arr("string", ["α", "", "<0x0A>", "▁red"]),
          "test.scores": kv.arr("float32", [0.5, -1]),
          "test.ids": kv.arr("int32", [1, -2, 3]),
        },
        tensors: [
          { name: "norm", dims: [48], type: "F32", data: norm },
          { name: "a", dims: [64, 10], type, data: a },
          { name: "b", dims: [96, 3, 2], type, data: () => chunks },
        ],
      });
      const stat = await fs.stat(file);
      expect(stat.size).toBe(result.bytes);
      expect(result.bytes % 32).toBe(0);

      const info = await readGgufFileInfo(file, { logWarnings: false });
      expect(info.version).toBe(3);
      const meta = info.metadata as unknown as Record<string, Record<string, unknown>>;
      expect(meta.general.alignment).toBe(32);
      expect(meta.test).toMatchObject({ count: 7, neg: -3, flag: true, names: ["α", "", "<0x0A>", "▁red"] });
      expect(meta.test.big).toBe(2n ** 40n);
      expect(meta.test.eps as number).toBeCloseTo(1e-6, 12);
      expect(meta.test.ids).toEqual([1, -2, 3]);

      const reader = await GgufReader.open(file);
      try {
        for (const t of reader.tensors.values()) expect(t.fileOffset % 32).toBe(0);
        expect(reader.tensor("a")).toMatchObject({
          ggmlDims: [64, 10],
          dims: [10, 64],
          rowLength: 64,
          rowCount: 10,
        });
        expect(reader.tensor("b").dims).toEqual([2, 3, 96]);

        expect((await reader.readTensor("norm")).data).toEqual(norm);
        const ra = await reader.readTensor("a");
        const rb = await reader.readTensor("b");
        expect(ra.dims).toEqual([10, 64]);
        if (type === "F32") {
          expect(ra.data).toEqual(a);
          expect(rb.data).toEqual(b);
        }
        expect(ra.data).toEqual(expectedValues(type, a, 64));
        expect(rb.data).toEqual(expectedValues(type, b, 96));

        const rows = await reader.readRows("a", [9, 0, 4]);
        expect(rows.dims).toEqual([3, 64]);
        expect(rows.data.subarray(0, 64)).toEqual(ra.data.subarray(9 * 64, 10 * 64));
        expect(rows.data.subarray(128)).toEqual(ra.data.subarray(4 * 64, 5 * 64));
        await expect(reader.readRows("a", [10])).rejects.toThrow(
          /row 10 of tensor "a" is out of range; expected 0..9/,
        );
        await expect(reader.readTensor("nope")).rejects.toThrow(/tensor "nope" not found/);
      } finally {
        await reader.close();
      }
    });
  }

  it("streams a chunked tensor without the caller holding it whole, and leaves no file on failure", async () => {
    const file = path.join(dir, "fail.gguf");
    const tooShort = () => [new Float32Array(64 * 3)];
    await expect(
      writeGguf(file, {
        metadata: {},
        tensors: [{ name: "t", dims: [64, 4], type: "Q8_0", data: tooShort }],
      }),
    ).rejects.toThrow(/need 256 values, the data gave 192/);
    const ragged = () => [new Float32Array(100)];
    await expect(
      writeGguf(file, { metadata: {}, tensors: [{ name: "t", dims: [64, 4], type: "F32", data: ragged }] }),
    ).rejects.toThrow(/chunk of 100 values at element 0 is not a whole number of 64-value rows/);
    await expect(
      writeGguf(file, {
        metadata: {},
        tensors: [{ name: "t", dims: [48, 2], type: "Q4_0", data: new Float32Array(96) }],
      }),
    ).rejects.toThrow(/multiple of 32, got 48/);
    await expect(writeGguf(file, { metadata: { "x.n": kv.u32(-1) }, tensors: [] })).rejects.toThrow(
      /"x.n": "-1" is not a uint32/,
    );
    const controller = new AbortController();
    const abortMidway = function* () {
      yield new Float32Array(64);
      controller.abort();
      yield new Float32Array(64);
    };
    await expect(
      writeGguf(file, {
        metadata: {},
        tensors: [{ name: "t", dims: [64, 2], type: "F32", data: abortMidway }],
        signal: controller.signal,
      }),
    ).rejects.toMatchObject({ code: "ABORTED" });
    expect((await fs.readdir(dir)).filter((f) => f.includes("fail"))).toEqual([]);
    await expect(GgufReader.open(path.join(dir, "missing.gguf"))).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    await fs.writeFile(path.join(dir, "junk.gguf"), "not a gguf file at all");
    await expect(GgufReader.open(path.join(dir, "junk.gguf"))).rejects.toMatchObject({
      code: "MODEL_FORMAT",
    });
  });

  it("honours a larger alignment and replaces an existing file atomically", async () => {
    const file = path.join(dir, "align.gguf");
    await fs.writeFile(file, "old");
    await writeGguf(file, {
      metadata: { "general.architecture": kv.str("test") },
      tensors: [
        { name: "x", dims: [3], type: "F32", data: new Float32Array([1, 2, 3]) },
        { name: "y", dims: [2], type: "F32", data: new Float32Array([4, 5]) },
      ],
      alignment: 64,
    });
    const reader = await GgufReader.open(file);
    try {
      expect(reader.tensor("y").fileOffset % 64).toBe(0);
      expect(Array.from((await reader.readTensor("y")).data)).toEqual([4, 5]);
    } finally {
      await reader.close();
    }
  });
});
