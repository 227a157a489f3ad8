/**
 * The encoder load path, one file of a model folder mutated at a time: `onnx` (the vision model,
 * also through vlmkit's own protobuf reader), `config` (config.json) and `preprocessor`
 * (preprocessor_config.json, fixed and NaFlex). Each case loads `VisionEncoder` from a copy of the
 * demo folder (onnxruntime session creation) and encodes one small image.
 */
import fs from "node:fs";
import path from "node:path";
import { VisionEncoder } from "../../../src/encoders/vision-encoder.js";
import { readModel } from "../../../src/graph/read.js";
import { type FuzzFormat, fileSeeds, withMember } from "../harness/format.js";
import type { FuzzInput } from "../harness/mutate.js";

const FOLDERS = ["siglip2", "siglip2-naflex"];

async function prepare(dir: string): Promise<void> {
  for (const f of FOLDERS) fs.cpSync(path.join("models/demo", f), path.join(dir, f), { recursive: true });
}

/** A 12×9 gradient, so the image path needs no decoder. */
const IMAGE = {
  width: 12,
  height: 9,
  data: Uint8Array.from({ length: 12 * 9 * 3 }, (_, i) => (i * 37) % 256),
};

async function loadAndEncode(input: FuzzInput, work: string): Promise<void> {
  await withMember(work, input.seed.name, input.bytes, async () => {
    const encoder = await VisionEncoder.load(path.join(work, input.seed.name.split("/")[0]), { threads: 1 });
    try {
      await encoder.encode([IMAGE]);
    } finally {
      await encoder.dispose();
    }
  });
}

export const onnx: FuzzFormat = {
  name: "onnx",
  target: "readModel (protobuf) + VisionEncoder.load (onnxruntime session) + encode",
  suiteCases: 60,
  timeoutMs: 20_000,
  prepare,
  async seeds(dir) {
    return fileSeeds(
      dir,
      ["siglip2/onnx/vision_model.onnx", "siglip2-naflex/onnx/vision_model.onnx"],
      "binary",
    );
  },
  async run(input, work) {
    await withMember(work, input.seed.name, input.bytes, () =>
      readModel(path.join(work, input.seed.name)),
    ).catch((error) => {
      // the protobuf reader's verdict is recorded; the load path must answer on its own
      if (!(error as { code?: string }).code) throw error;
    });
    await loadAndEncode(input, work);
  },
};

export const config: FuzzFormat = {
  name: "config",
  target: "config.json through VisionEncoder.load + encode",
  suiteCases: 80,
  timeoutMs: 20_000,
  prepare,
  async seeds(dir) {
    return fileSeeds(dir, ["siglip2/config.json", "siglip2-naflex/config.json"], "json");
  },
  run: loadAndEncode,
};

export const preprocessor: FuzzFormat = {
  name: "preprocessor",
  target: "preprocessor_config.json through VisionEncoder.load + encode",
  suiteCases: 150,
  timeoutMs: 20_000,
  prepare,
  async seeds(dir) {
    return fileSeeds(
      dir,
      ["siglip2/preprocessor_config.json", "siglip2-naflex/preprocessor_config.json"],
      "json",
    );
  },
  run: loadAndEncode,
};
