/** The adapter card fields that describe an encoder + LLM pairing, filled from the loaded parts. */

import {
  type AdapterCardInput,
  type AdapterKindName,
  type PartSource,
  tokensPerImage,
} from "../adapter/index.js";
import type { EncoderConfig } from "../encoders/index.js";
import { InvalidArgumentError } from "../errors.js";
import type { PreprocessorConfig } from "../image/index.js";
import type { LlmIdentity } from "../llm/identity.js";
import type { AttentionMode, PromptStyle } from "../prompt/index.js";
import { encoderId } from "./encoder-id.js";

export interface PairingInput {
  /** What `VisionEncoder` exposes (or `readEncoderConfig` + `readPreprocessorConfig` give without a session). */
  encoder: { dir: string; config: EncoderConfig; preprocess: PreprocessorConfig };
  llm: Required<Omit<LlmIdentity, "name">> & { name: string };
  style: PromptStyle;
  attention: AttentionMode;
  /** The adapter's kind and merge factor. Default linear (factor 1). */
  adapter?: { kind: AdapterKindName; factor: number };
  training?: AdapterCardInput["training"];
  /** Where the encoder and LLM can be found again (`recordPartSource`). */
  sources?: { encoder?: PartSource; llm?: PartSource };
}

export function cardForPairing(p: PairingInput): AdapterCardInput {
  const pre = p.encoder.preprocess;
  if (pre.kind === "fixed" && pre.height !== pre.width) {
    throw new InvalidArgumentError(
      `fixed-resolution preprocessing must be square, got ${pre.height}×${pre.width}`,
    );
  }
  const adapter = p.adapter ?? { kind: "linear", factor: 1 };
  return {
    adapter,
    encoder: {
      id: encoderId(p.encoder.dir),
      family: p.encoder.config.family,
      hidden: p.encoder.config.visionHidden,
      preprocessing:
        pre.kind === "fixed"
          ? { kind: "fixed", size: pre.height, patch_size: p.encoder.config.patchSize }
          : { kind: "naflex", patch_size: pre.patchSize, max_num_patches: pre.maxNumPatches },
      ...(p.sources?.encoder ? { source: p.sources.encoder } : {}),
    },
    llm: {
      architecture: p.llm.architecture,
      n_embd: p.llm.nEmbd,
      n_vocab: p.llm.nVocab,
      vocab_fingerprint: p.llm.vocabFingerprint,
      name: p.llm.name,
      ...(p.sources?.llm ? { source: p.sources.llm } : {}),
    },
    prompt: {
      style: p.style,
      image_tokens:
        pre.kind === "fixed"
          ? tokensPerImage(Math.floor(pre.height / p.encoder.config.patchSize), adapter.factor)
          : "dynamic",
    },
    attention: p.attention,
    ...(p.training ? { training: p.training } : {}),
  };
}
