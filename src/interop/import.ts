/**
 * `importMmproj`: an mmproj GGUF (or a model GGUF carrying `v.*`/`mm.*`) → an encoder directory in the
 * public ONNX layout (`<out>/encoder`) and an adapter of the matching kind (`<out>/adapter`), so that
 *
 *   vlmkit ask img.png "…" --encoder <out>/encoder --adapter <out>/adapter --llm model.gguf
 *
 * computes what llama.cpp computes with that mmproj: gemma3 → avgpool, idefics3 → pixel-shuffle,
 * mlp → mlp. Both directories are built in a temporary directory inside `out` and renamed into place
 * only when complete.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { type AdapterCard, adapterFromTensors, saveAdapter, tokensPerImage } from "../adapter/index.js";
import { InvalidArgumentError } from "../errors.js";
import { PROJECTOR_KIND, type ProjectorType } from "./mmproj-format.js";
import {
  type CarriedLlm,
  checkProjectorFits,
  type Mmproj,
  readLlmIdentity,
  readMmproj,
} from "./mmproj-read.js";
import { writeTowerDir } from "./tower-onnx.js";

export interface ImportMmprojOptions {
  /** Directory to write `encoder/` and `adapter/` into (created; neither may exist yet). */
  out: string;
  /**
   * The LLM GGUF the projector was made for: the adapter card records its architecture, n_embd and
   * vocabulary. Required for a bare mmproj; a model GGUF that carries its LLM is used when absent.
   */
  llm?: string;
}

export interface ImportMmprojResult {
  encoderDir: string;
  adapterDir: string;
  projector: ProjectorType;
  card: AdapterCard;
  /** Layers of the tower vlmkit runs (llama.cpp's choice: all, or the mlp feature layer). */
  layers: number;
}

/**
 * PIL resample id for the imported preprocessor: llama.cpp resizes gemma3 bilinear, mlp bicubic,
 * idefics3 Lanczos (which vlmkit's preprocessor does not offer: bicubic is the nearest; docs/interop.md).
 */
const RESAMPLE: Record<ProjectorType, 2 | 3> = { gemma3: 2, mlp: 3, idefics3: 3 };

/**
 * Reads, checks and converts `file`. Throws `ModelFormatError` for an unsupported or malformed file,
 * `InvalidArgumentError` when `out` already holds an import or no LLM is known,
 * `IncompatibleModelError` when the projector's width is not the LLM's.
 */
export async function importMmproj(file: string, options: ImportMmprojOptions): Promise<ImportMmprojResult> {
  const out = path.resolve(options.out);
  const encoderDir = path.join(out, "encoder");
  const adapterDir = path.join(out, "adapter");
  for (const dir of [encoderDir, adapterDir]) {
    if (fs.existsSync(dir)) throw new InvalidArgumentError(`${dir} already exists; choose an empty --out`);
  }
  const m = await readMmproj(file);
  const llm = await llmFor(m, options.llm);
  checkProjectorFits(m, llm);

  await fs.promises.mkdir(out, { recursive: true });
  const staging = path.join(out, `.import-${crypto.randomBytes(4).toString("hex")}`);
  try {
    await writeTowerDir(path.join(staging, "encoder"), { ...m, resample: RESAMPLE[m.projector] }, m.tower);
    const kind = PROJECTOR_KIND[m.projector];
    const adapter = adapterFromTensors(kind, m.factor, m.adapter, file);
    let card: AdapterCard;
    try {
      card = await saveAdapter(path.join(staging, "adapter"), adapter, {
        adapter: { kind, factor: m.factor },
        encoder: {
          id: "encoder",
          family: "siglip",
          hidden: m.hidden,
          preprocessing: { kind: "fixed", size: m.imageSize, patch_size: m.patch },
        },
        llm: {
          architecture: llm.architecture,
          n_embd: llm.nEmbd,
          n_vocab: llm.nVocab,
          vocab_fingerprint: llm.vocabFingerprint,
          name: llm.name,
        },
        prompt: { style: "gemma-chat", image_tokens: tokensPerImage(m.imageSize / m.patch, m.factor) },
        // mtmd decodes gemma3 image embeddings in one non-causal batch, the others causally.
        attention: m.projector === "gemma3" ? "bidirectional-image" : "causal",
        training: { dataset: `imported from ${path.basename(file)} (llama.cpp mmproj, ${m.projector})` },
      });
    } finally {
      await adapter.dispose();
    }
    await fs.promises.rename(path.join(staging, "encoder"), encoderDir);
    await fs.promises.rename(path.join(staging, "adapter"), adapterDir);
    return { encoderDir, adapterDir, projector: m.projector, card, layers: m.layers };
  } finally {
    await fs.promises.rm(staging, { recursive: true, force: true });
  }
}

async function llmFor(m: Mmproj, llmFile: string | undefined): Promise<CarriedLlm> {
  if (llmFile !== undefined) return readLlmIdentity(llmFile);
  if (m.llm) return m.llm;
  throw new InvalidArgumentError(
    `${m.file} is a bare mmproj and names no LLM vocabulary; pass the LLM GGUF it was made for (--llm <gguf>), so the adapter card can record it`,
  );
}
