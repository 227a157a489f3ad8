/** Every fuzzed format, by name. */
import { InvalidArgumentError } from "../../../src/errors.js";
import type { FuzzFormat } from "../harness/format.js";
import { adapterCard } from "./adapter-card.js";
import { checkpoint } from "./checkpoint.js";
import { imagefolder, jsonl, llava } from "./datasets.js";
import { config, onnx, preprocessor } from "./encoder-files.js";
import { featureCache } from "./feature-cache.js";
import { gguf } from "./gguf.js";
import { image } from "./images.js";
import { mmproj } from "./mmproj.js";
import { safetensors } from "./safetensors.js";
import { tokenizer } from "./tokenizer.js";

export const FORMATS: readonly FuzzFormat[] = [
  gguf,
  safetensors,
  adapterCard,
  onnx,
  config,
  preprocessor,
  tokenizer,
  jsonl,
  llava,
  imagefolder,
  checkpoint,
  featureCache,
  image,
  mmproj,
];

export function formatByName(name: string): FuzzFormat {
  const format = FORMATS.find((f) => f.name === name);
  if (!format) {
    throw new InvalidArgumentError(
      `unknown fuzz format "${name}"; expected one of ${FORMATS.map((f) => f.name).join(", ")}`,
    );
  }
  return format;
}
