/**
 * GGUF: vlmkit's reader (`GgufReader`: the size check, node-llama-cpp's metadata parser, tensor
 * reads) and the model load path (`Llm.load`: the same check, then llama.cpp's loader and a context).
 * Seeds: tiny gemma3 files (F32 and Q8_0) from the project's writer; every length, count, type, dim
 * and offset field of the seeds is known to the mutator.
 */
import path from "node:path";
import { GgufReader } from "../../../src/llm/gguf-read.js";
import { Llm } from "../../../src/llm/llm.js";
import { writeTinyGemma3Gguf } from "../../../src/tiny/gemma3.js";
import { type FuzzFormat, fileSeeds, withMember } from "../harness/format.js";
import type { Field, Seed } from "../harness/mutate.js";

const DIMS = { embedding: 32, heads: 2, kvHeads: 1, headDim: 16, ff: 64, layers: 1 };
const FILES = ["f32.gguf", "q8_0.gguf"];

export const gguf: FuzzFormat = {
  name: "gguf",
  target: "GgufReader.open + readTensor/readRows, then Llm.load (llama.cpp) + tokenize",
  suiteCases: 60,
  timeoutMs: 20_000,
  async prepare(dir) {
    await writeTinyGemma3Gguf(path.join(dir, "f32.gguf"), { seed: 1, dims: DIMS });
    await writeTinyGemma3Gguf(path.join(dir, "q8_0.gguf"), { seed: 2, dims: DIMS, type: "q8_0" });
  },
  async seeds(dir): Promise<Seed[]> {
    return fileSeeds(dir, FILES, "binary").map((s) => ({ ...s, fields: ggufFields(s.bytes) }));
  },
  async run(input, work) {
    await withMember(work, input.seed.name, input.bytes, async () => {
      const file = path.join(work, input.seed.name);
      const reader = await GgufReader.open(file);
      try {
        for (const name of reader.tensors.keys()) {
          const entry = reader.tensor(name);
          if (entry.type) await reader.readRows(name, [0, entry.rowCount - 1]);
        }
        await reader.readTensor("output_norm.weight");
      } finally {
        await reader.close();
      }
      const llm = await Llm.load(file, { contextSize: 256, sequences: 1, batchSize: 64, threads: 1 });
      try {
        llm.model.tokenize("hello world");
      } finally {
        await llm.dispose();
      }
    });
  },
};

/** Offsets of the header's length, count, type, dim and offset fields in a well-formed GGUF. */
export function ggufFields(b: Buffer): Field[] {
  const fields: Field[] = [
    { offset: 8, width: 8, kind: "count" },
    { offset: 16, width: 8, kind: "count" },
  ];
  let pos = 24;
  const str = () => {
    fields.push({ offset: pos, width: 8, kind: "length" });
    pos += 8 + Number(b.readBigUInt64LE(pos));
  };
  const fixed = [1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8];
  const nTensors = Number(b.readBigUInt64LE(8));
  const nKv = Number(b.readBigUInt64LE(16));
  for (let i = 0; i < nKv; i++) {
    str();
    fields.push({ offset: pos, width: 4, kind: "type" });
    const type = b.readUInt32LE(pos);
    pos += 4;
    if (type === 8) str();
    else if (type === 9) {
      fields.push({ offset: pos, width: 4, kind: "type" });
      const itemType = b.readUInt32LE(pos);
      fields.push({ offset: pos + 4, width: 8, kind: "count" });
      const count = Number(b.readBigUInt64LE(pos + 4));
      pos += 12;
      if (itemType === 8) for (let j = 0; j < count; j++) str();
      else pos += count * fixed[itemType];
    } else pos += fixed[type];
  }
  for (let i = 0; i < nTensors; i++) {
    str();
    fields.push({ offset: pos, width: 4, kind: "count" });
    const nDims = b.readUInt32LE(pos);
    pos += 4;
    for (let d = 0; d < nDims; d++, pos += 8) fields.push({ offset: pos, width: 8, kind: "dim" });
    fields.push({ offset: pos, width: 4, kind: "type" });
    fields.push({ offset: pos + 4, width: 8, kind: "offset" });
    pos += 12;
  }
  return fields;
}
