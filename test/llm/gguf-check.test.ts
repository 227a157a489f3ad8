// The GGUF size check runs before node-llama-cpp's parser and llama.cpp's loader: each malformed file
// here must be refused with MODEL_FORMAT naming the problem, and NativeModel.load must refuse it
// without handing it to llama.cpp.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkGgufFile } from "../../src/llm/gguf-check.js";
import { GgufReader } from "../../src/llm/gguf-read.js";
import { kv, writeGguf } from "../../src/llm/gguf-write.js";
import { NativeModel } from "../../src/llm/native.js";
import { writeTinyGemma3Gguf } from "../../src/tiny/gemma3.js";
import { ggufFields } from "../fuzz/formats/gguf.js";

let dir: string;
let good: Buffer;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-gguf-check-"));
  await writeTinyGemma3Gguf(path.join(dir, "good.gguf"), {
    seed: 1,
    dims: { embedding: 32, ff: 64, layers: 1 },
  });
  good = fs.readFileSync(path.join(dir, "good.gguf"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, bytes: Buffer): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  return file;
}

/** The good file with the field of `kind` number `nth` (in file order) set to `value`. */
function patched(kind: string, nth: number, value: bigint): Buffer {
  const field = ggufFields(good).filter((f) => f.kind === kind)[nth];
  const b = Buffer.from(good);
  if (field.width === 4) b.writeUInt32LE(Number(value), field.offset);
  else b.writeBigUInt64LE(value, field.offset);
  return b;
}

function refused(bytes: Buffer, message: RegExp): void {
  const file = write("case.gguf", bytes);
  expect(() => checkGgufFile(file)).toThrow(message);
  try {
    checkGgufFile(file);
  } catch (error) {
    expect((error as { code: string }).code).toBe("MODEL_FORMAT");
  }
}

describe("checkGgufFile", () => {
  it("accepts the project's own files and reports their layout", () => {
    const layout = checkGgufFile(path.join(dir, "good.gguf"));
    expect(layout.version).toBe(3);
    expect(layout.tensors.length).toBeGreaterThan(5);
    const last = layout.tensors[layout.tensors.length - 1];
    expect(last.fileOffset + last.bytes).toBeLessThanOrEqual(layout.fileSize);
    for (const f of fs.readdirSync("test/fixtures/gguf").filter((n) => n.endsWith(".gguf"))) {
      expect(() => checkGgufFile(path.join("test/fixtures/gguf", f))).not.toThrow();
    }
  });

  it("refuses a wrong magic, version and a truncated header", () => {
    const b = Buffer.from(good);
    b.write("GGUX", 0);
    refused(b, /does not start with the GGUF magic/);
    const v = Buffer.from(good);
    v.writeUInt32LE(7, 4);
    refused(v, /GGUF version 7/);
    refused(good.subarray(0, 20), /too short for a GGUF header/);
  });

  it("refuses counts and lengths the file cannot hold, without allocating them", () => {
    refused(patched("count", 0, 0xffffffffffffffffn), /tensor count of 18446744073709551615/);
    refused(patched("count", 1, 1n << 40n), /metadata key count/);
    refused(
      patched("length", 0, 0x7fffffffffffffffn),
      /declares metadata key 0 of 9223372036854775807 bytes/,
    );
    // the third count field is the first array's length (tokenizer.ggml.tokens)
    refused(patched("count", 2, 1n << 33n), /length of "tokenizer\.ggml\.tokens"/);
  });

  it("refuses unknown value types and arrays of arrays", () => {
    refused(patched("type", 0, 13n), /unknown type 13/);
    const arrays = ggufFields(good).filter((f) => f.kind === "type");
    // the item type of the first array follows its value type (9)
    const itemIndex = arrays.findIndex(
      (f, i) =>
        i > 0 && good.readUInt32LE(arrays[i - 1].offset) === 9 && f.offset === arrays[i - 1].offset + 4,
    );
    refused(patched("type", itemIndex, 9n), /array of arrays/);
  });

  it("quotes a long metadata key briefly (found by the mmproj fuzzer)", async () => {
    const key = "k".repeat(20_000);
    const file = path.join(dir, "long-key.gguf");
    await writeGguf(file, { metadata: { [key]: kv.u32(1) }, tensors: [] });
    const b = fs.readFileSync(file);
    b.writeUInt32LE(13, 24 + 8 + key.length); // the value type after the first key
    refused(b, /unknown type 13 for the value of "kkk.*\(20002 characters\)/);
    const message = (() => {
      try {
        checkGgufFile(write("case.gguf", b));
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(message?.length).toBeLessThan(300);
  });

  it("refuses tensor dims, types and offsets outside the file", () => {
    refused(patched("dim", 0, 0n), /dims must be positive/);
    refused(patched("dim", 0, 1n << 40n), /needs \d+ bytes, more than the file's/);
    refused(
      patched("type", ggufFields(good).filter((f) => f.kind === "type").length - 1, 77n),
      /unknown ggml type id 77/,
    );
    refused(patched("offset", 1, 64n), /has data offset 64; tensors must follow each other/);
    refused(good.subarray(0, good.length - 100), /needs bytes up to \d+, but the file has/);
    const nDims = ggufFields(good).find((f) => f.kind === "count" && f.width === 4)!;
    const b = Buffer.from(good);
    b.writeUInt32LE(5, nDims.offset);
    refused(b, /has 5 dims; expected 1 to 4/);
  });

  it("refuses vocabulary arrays of other lengths and special ids outside the vocabulary", async () => {
    const tokens = ["<pad>", "<eos>", "<bos>", "a", "b"];
    const base = {
      "general.architecture": kv.str("gemma3"),
      "tokenizer.ggml.tokens": kv.arr("string", tokens),
    };
    const file = path.join(dir, "vocab.gguf");
    await writeGguf(file, {
      metadata: { ...base, "tokenizer.ggml.scores": kv.arr("float32", [0, 0, 0]) },
      tensors: [],
    });
    expect(() => checkGgufFile(file)).toThrow(/tokenizer\.ggml\.scores has 3 entries for 5 tokens/);
    await writeGguf(file, {
      metadata: { ...base, "tokenizer.ggml.token_type": kv.arr("float32", [1, 1, 1, 1, 1]) },
      tensors: [],
    });
    expect(() => checkGgufFile(file)).toThrow(/token_type must be an array of i32/);
    await writeGguf(file, { metadata: { ...base, "tokenizer.ggml.eos_token_id": kv.u32(5) }, tensors: [] });
    expect(() => checkGgufFile(file)).toThrow(/eos_token_id = 5 is not a token id of the 5-token vocabulary/);
  });

  it("guards GgufReader.open and NativeModel.load: a malformed file never reaches a parser", async () => {
    const file = write("inflated.gguf", patched("count", 2, 1n << 33n));
    await expect(GgufReader.open(file)).rejects.toMatchObject({ code: "MODEL_FORMAT" });
    // MODEL_FORMAT with the check's message: llama.cpp's loader was not called
    await expect(NativeModel.load(file)).rejects.toThrow(
      /GGUF file .* declares a length of "tokenizer\.ggml\.tokens"/,
    );
    await expect(NativeModel.load(path.join(dir, "missing.gguf"))).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
  });
});
