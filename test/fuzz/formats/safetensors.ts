/**
 * safetensors: `parseSafetensors` and `LinearAdapter.fromTensors` (which builds the projection
 * session in onnxruntime) plus one `apply`, on the demo adapter's weights. Seeds: the file as bytes
 * (its u64 header length known to the mutator) and its JSON header alone, mutated as JSON and put
 * back in front of the original data.
 */
import fs from "node:fs";
import path from "node:path";
import { LinearAdapter } from "../../../src/adapter/linear-adapter.js";
import { tensor } from "../../../src/tensor.js";
import { parseSafetensors } from "../../../src/util/safetensors.js";
import type { FuzzFormat } from "../harness/format.js";
import type { Seed } from "../harness/mutate.js";

const FILE = "adapter.safetensors";

export const safetensors: FuzzFormat = {
  name: "safetensors",
  target: "parseSafetensors + LinearAdapter.fromTensors (onnxruntime session) + apply",
  suiteCases: 200,
  timeoutMs: 10_000,
  async prepare(dir) {
    fs.copyFileSync(path.join("models/demo/adapter", FILE), path.join(dir, FILE));
  },
  async seeds(dir) {
    return safetensorsSeeds(fs.readFileSync(path.join(dir, FILE)), FILE);
  },
  async run(input) {
    const { tensors } = parseSafetensors(input.bytes, FILE);
    const adapter = LinearAdapter.fromTensors(tensors, FILE);
    try {
      const inputSize = adapter.weight.dims[1];
      await adapter.apply(tensor(new Float32Array(2 * inputSize), [2, inputSize])); // [2, Dv] → [2, Dl]
    } finally {
      await adapter.dispose();
    }
  },
};

/** A safetensors file as two seeds: its bytes, and its JSON header in front of the unchanged data. */
export function safetensorsSeeds(bytes: Buffer, name: string): Seed[] {
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const data = bytes.subarray(8 + headerLength);
  const wrap = (header: Buffer) => {
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(header.length));
    return Buffer.concat([length, header, data]);
  };
  return [
    { name, bytes, kind: "binary", fields: [{ offset: 0, width: 8, kind: "length" }] },
    { name, bytes: bytes.subarray(8, 8 + headerLength), kind: "json", wrap },
  ];
}
