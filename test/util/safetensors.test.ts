import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { setFloat16 } from "@petamoriken/float16";
import { afterAll, describe, expect, it } from "vitest";
import { ModelFormatError } from "../../src/errors.js";
import { tensor } from "../../src/tensor.js";
import {
  parseSafetensors,
  readSafetensors,
  serializeSafetensors,
  writeSafetensors,
} from "../../src/util/safetensors.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-st-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A file assembled byte by byte from the format description: u64 LE length, header, packed data. */
function handMade(
  header: string,
  data: number[] | Uint8Array,
  headerLength = Buffer.byteLength(header),
): Uint8Array {
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerLength));
  return new Uint8Array(Buffer.concat([len, Buffer.from(header, "utf8"), Buffer.from(data)]));
}

function f32Bytes(values: number[]): Uint8Array {
  const b = Buffer.alloc(4 * values.length);
  for (const [i, v] of values.entries()) b.writeFloatLE(v, 4 * i);
  return b;
}

function expectFormatError(bytes: Uint8Array, ...fragments: string[]): void {
  let error: unknown;
  try {
    parseSafetensors(bytes, "bad.safetensors");
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ModelFormatError);
  const message = (error as Error).message;
  expect(message).toContain("bad.safetensors");
  for (const f of fragments) expect(message).toContain(f);
}

describe("safetensors writer", () => {
  it("writes the bytes the format prescribes (header padded with spaces to 8, offsets from 0)", () => {
    // The same tensor as the reference test `test_serialization_forced_alignement`:
    // F32 [1, 1, 2, 3] holding 0..5 named "attn0"; the 65-byte header is padded by 7 spaces to 72.
    const header = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}';
    expect(header.length).toBe(65);
    const expected = handMade(`${header}       `, f32Bytes([0, 1, 2, 3, 4, 5]));
    expect(expected[0]).toBe(72);
    const written = serializeSafetensors({
      attn0: tensor(new Float32Array([0, 1, 2, 3, 4, 5]), [1, 1, 2, 3]),
    });
    expect(Buffer.from(written).equals(Buffer.from(expected))).toBe(true);
  });

  it("writes an empty file and __metadata__ first, as the reference does", () => {
    expect([...serializeSafetensors({})]).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    const withMeta = serializeSafetensors({}, { framework: "pt" });
    expect(
      Buffer.from(withMeta).equals(Buffer.from(handMade('{"__metadata__":{"framework":"pt"}}     ', []))),
    ).toBe(true);
  });

  it("sorts tensors by name and lays them out contiguously", () => {
    const bytes = serializeSafetensors(
      new Map([
        ["b", tensor(new Float32Array([3]), [1])],
        ["a", tensor(new Float32Array([1, 2]), [2])],
      ]),
      { k: "v" },
    );
    const n = Number(Buffer.from(bytes).readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const header = Buffer.from(bytes.subarray(8, 8 + n)).toString("utf8");
    expect(header.trimEnd()).toBe(
      '{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}',
    );
    expect([...new Float32Array(bytes.slice(8 + n).buffer)]).toEqual([1, 2, 3]);
  });
});

describe("safetensors reader", () => {
  it("round-trips tensors, scalars, empty tensors and metadata through a file", async () => {
    const file = path.join(tmp, "rt.safetensors");
    const w = tensor(
      Float32Array.from({ length: 12 }, (_, i) => i * 0.5 - 3),
      [3, 4],
    );
    await writeSafetensors(
      file,
      { w, s: tensor(new Float32Array([Math.PI]), []), e: tensor(new Float32Array(0), [0, 5]) },
      {
        note: "hi",
      },
    );
    const back = await readSafetensors(file);
    expect([...back.tensors.keys()].sort()).toEqual(["e", "s", "w"]);
    expect(back.tensors.get("w")).toEqual(w);
    expect(back.tensors.get("s")!.dims).toEqual([]);
    expect(back.tensors.get("s")!.data[0]).toBeCloseTo(Math.PI, 6);
    expect(back.tensors.get("e")!.dims).toEqual([0, 5]);
    expect(back.metadata).toEqual({ note: "hi" });
    expect(back.dtypes.get("w")).toBe("F32");
    expect(fs.readdirSync(tmp).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("reads F16 and BF16 tensors in any header order", () => {
    const f16 = Buffer.alloc(6);
    const view = new DataView(f16.buffer);
    for (const [i, v] of [1.5, -2, 0.0999755859375].entries()) setFloat16(view, 2 * i, v, true);
    // bfloat16 of 1.0 is 0x3f80, of -3.0 is 0xc040
    const bf16 = Buffer.from([0x80, 0x3f, 0x40, 0xc0]);
    const header =
      '{"b":{"dtype":"BF16","shape":[2],"data_offsets":[6,10]},"h":{"dtype":"F16","shape":[3],"data_offsets":[0,6]}}';
    const parsed = parseSafetensors(handMade(header, Buffer.concat([f16, bf16])));
    expect([...parsed.tensors.get("h")!.data]).toEqual([1.5, -2, 0.0999755859375]);
    expect([...parsed.tensors.get("b")!.data]).toEqual([1, -3]);
    expect(parsed.dtypes.get("b")).toBe("BF16");
    expect([...parsed.tensors.keys()]).toEqual(["h", "b"]);
  });

  it("rejects every kind of corruption with a message that says what is wrong", () => {
    const ok = '{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
    const data = f32Bytes([1, 2]);
    expect(parseSafetensors(handMade(ok, data)).tensors.get("t")!.data).toEqual(new Float32Array([1, 2]));

    expectFormatError(new Uint8Array(5), "5 bytes", "needs 8");
    expectFormatError(handMade(ok, data, 100_000_001), "exceeds the 100000000-byte limit");
    expectFormatError(handMade(ok, data, 500), "header length 500 runs past the end");
    expectFormatError(
      handMade(`${ok}`, Buffer.concat([Buffer.from([0xff]), data]), ok.length + 1),
      "not valid UTF-8",
    );
    expectFormatError(handMade(` ${ok}`, data), 'must start with "{"');
    expectFormatError(handMade('{"t":', data), "not valid JSON");
    expectFormatError(
      handMade('{"t":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}', data),
      'unknown dtype "F33"',
    );
    expectFormatError(
      handMade('{"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}', data),
      "shape [-2]",
    );
    expectFormatError(
      handMade('{"t":{"dtype":"F32","shape":[2],"data_offsets":[0]}}', data),
      "data_offsets [0]",
    );
    expectFormatError(
      handMade('{"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}', data),
      "end before begin",
    );
    expectFormatError(
      handMade('{"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', data),
      "F32 [3] = 12 bytes",
      "span 8",
    );
    expectFormatError(
      handMade('{"t":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', data),
      "starts at 4",
      "gap",
    );
    expectFormatError(
      handMade(
        '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
        data,
      ),
      'tensor "b"',
      "overlap",
    );
    expectFormatError(
      handMade('{"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', data),
      "run past the data section",
    );
    expectFormatError(
      handMade(ok, Buffer.concat([data, Buffer.alloc(4)])),
      "cover 8 bytes",
      "holds 12",
      "trailing",
    );
    expectFormatError(
      handMade(`{"__metadata__":{"k":1},${ok.slice(1)}`, data),
      '__metadata__["k"] must be a string',
    );
    expectFormatError(
      handMade('{"t":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}', data),
      "dtype I32",
      "reads F32",
    );
  });

  it("quotes deeply nested and huge header values without overflowing (found by fuzzing)", () => {
    const data = f32Bytes([1, 2]);
    const deep = `${"[".repeat(5000)}1${"]".repeat(5000)}`;
    expectFormatError(
      handMade(`{"__metadata__":{"k":${deep}},"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, data),
      "a deeply nested array",
    );
    expectFormatError(
      handMade(`{"t":{"dtype":"F32","shape":${deep},"data_offsets":[0,8]}}`, data),
      "has shape [a deeply nested array]",
    );
    const long = JSON.stringify("x".repeat(100_000));
    expect(() =>
      parseSafetensors(handMade(`{"t":{"dtype":${long},"shape":[2],"data_offsets":[0,8]}}`, data)),
    ).toThrow(/dtype "x{79}… \(100002 characters\)/);
  });

  it("names the file when it cannot be read", async () => {
    await expect(readSafetensors(path.join(tmp, "missing.safetensors"))).rejects.toThrow(
      /missing\.safetensors cannot be read/,
    );
  });
});
