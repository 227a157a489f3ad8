/**
 * mmproj GGUF files through `importMmproj`: reading, every check, the ONNX tower built by src/graph
 * and the adapter, written into a fresh output folder. An import that succeeds must also be usable:
 * its encoder loads and encodes an image and its adapter projects the patches to the card's
 * [image_tokens, n_embd] — anything else after a success is a failure of the case. A refusal must be
 * a named error of at most `MAX_MESSAGE` characters (quoting a file's value whole is a failure).
 *
 * Seeds, each as bytes (every GGUF length, count, type, dim and offset field known to the mutator) and
 * as JSON trees of its metadata and of its tensor infos (`gguf-tree.ts`: mutated by meaning):
 * exports of the interop tests' tiny encoder with an adapter of each kind — gemma3 (avgpool, F16),
 * idefics3 (pixel-shuffle, F32), mlp (F16) — and a file laid out as llama.cpp's converter writes a
 * Gemma 3 model GGUF carrying its LLM, with old fc1/fc2 names and a Q8_0 attention weight.
 */
import fs from "node:fs";
import path from "node:path";
import { loadAdapter } from "../../../src/adapter/index.js";
import { VisionEncoder } from "../../../src/encoders/vision-encoder.js";
import { isVlmkitError } from "../../../src/errors.js";
import { exportMmproj, type ImportMmprojResult, importMmproj } from "../../../src/interop/index.js";
import { SeededRandom } from "../../../src/util/random.js";
import { randomHfProjector, writeConverterMmproj } from "../../interop/converter-fixture.js";
import { DV, writeAdapter, writeParts } from "../../interop/fixtures.js";
import { type FuzzFormat, fileSeeds, withMember } from "../harness/format.js";
import { ggufFields } from "./gguf.js";
import { ggufTreeSeeds } from "./gguf-tree.js";

const EXPORTS = [
  ["gemma3.mmproj.gguf", "avgpool", 4, "f16"],
  ["idefics3.mmproj.gguf", "pixel-shuffle", 2, "f32"],
  ["mlp.mmproj.gguf", "mlp", 1, "f16"],
] as const;
/** A model GGUF that carries its LLM: imported without `--llm`. */
const CARRIES_LLM = "converter-gemma3.gguf";
const FILES = [...EXPORTS.map(([file]) => file), CARRIES_LLM];
const LLM = "parts/gemma3.gguf";
/** An error naming the file, the field and what is wrong fits in this; a longer one quotes the file's values whole. */
const MAX_MESSAGE = 1000;

/** A 12×9 gradient, so the image path needs no decoder. */
const IMAGE = {
  width: 12,
  height: 9,
  data: Uint8Array.from({ length: 12 * 9 * 3 }, (_, i) => (i * 37) % 256),
};

export const mmproj: FuzzFormat = {
  name: "mmproj",
  target: "importMmproj (read, checks, ONNX tower, adapter) + loading and running what it wrote",
  suiteCases: 100,
  timeoutMs: 20_000,
  async prepare(dir) {
    const parts = await writeParts(path.join(dir, "parts"));
    for (const [file, kind, factor, type] of EXPORTS) {
      const adapter = await writeAdapter(path.join(dir, "parts", `adapter-${kind}`), kind, factor);
      await exportMmproj({ encoder: parts.encoder, adapter, out: path.join(dir, file), type });
    }
    const r = new SeededRandom(5);
    await writeConverterMmproj(path.join(dir, CARRIES_LLM), parts.encoder, randomHfProjector(3), {
      withLlm: true,
      legacyFfnNames: true,
      tensors: {
        "v.blk.0.attn_q.weight": {
          name: "v.blk.0.attn_q.weight",
          dims: [DV, DV],
          type: "Q8_0",
          data: r.normalArray(DV * DV, 1 / Math.sqrt(DV)),
        },
      },
    });
  },
  async seeds(dir) {
    return fileSeeds(dir, FILES, "binary").flatMap((s) => [
      { ...s, fields: ggufFields(s.bytes) },
      ...ggufTreeSeeds(s.name, s.bytes),
    ]);
  },
  async run(input, work) {
    await withMember(work, input.seed.name, input.bytes, async () => {
      const out = fs.mkdtempSync(path.join(work, "out-"));
      try {
        const imported = await importMmproj(path.join(work, input.seed.name), {
          out,
          llm: input.seed.name === CARRIES_LLM ? undefined : path.join(work, LLM),
        }).catch((error) => {
          if (isVlmkitError(error) && error.message.length > MAX_MESSAGE) {
            throw new Error(
              `a ${error.code} error of ${error.message.length} characters: ${error.message.slice(0, 200)}…`,
            );
          }
          throw error;
        });
        await useImport(imported).catch((error) => {
          throw new Error(`the import succeeded but what it wrote does not work: ${String(error)}`);
        });
      } finally {
        fs.rmSync(out, { recursive: true, force: true });
      }
    });
  },
};

/** Loads the imported encoder and adapter and checks one image's embeddings are [image_tokens, n_embd]. */
async function useImport(imported: ImportMmprojResult): Promise<void> {
  const encoder = await VisionEncoder.load(imported.encoderDir, { threads: 1 });
  const { projection, card } = await loadAdapter(imported.adapterDir);
  try {
    const [f] = await encoder.encode([IMAGE]);
    const embeddings = await projection.apply(f.patches, f.grid); // [N, Dv] → [M, Dl]
    const expected = [card.prompt.image_tokens, card.llm.n_embd];
    if (embeddings.dims.join() !== expected.join())
      throw new Error(`embeddings are [${embeddings.dims}], the card promises [${expected}]`);
  } finally {
    await projection.dispose();
    await encoder.dispose();
  }
}
