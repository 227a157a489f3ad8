// An mmproj laid out as llama.cpp's HF converter writes one for Gemma 3 (conversion/gemma.py,
// Gemma3VisionModel, with --outtype f32), from a tiny vlmkit encoder's weights and a random HF-style
// Gemma 3 projector — written here with the GGUF writer directly, independently of `exportMmproj`:
//   - tensor names from gguf-py's mapping (v.patch_embd, v.blk.N.attn_q, ffn_up = fc1, v.post_ln, ...),
//     Linear weights [out, in] as PyTorch stores them;
//   - `mm.soft_emb_norm.weight` = HF's Gemma3RMSNorm weight + 1 (the converter adds the 1);
//   - `mm.input_projection.weight` forced to F16, HF's [Dv, Dl] parameter as is;
//   - `clip.vision.projector.scale_factor` left out when it is 4 (the converter writes it only otherwise).
import { initializerMap, readModel } from "../../src/graph/read.js";
import { type GgufTensorSpec, type GgufValue, kv, writeGguf } from "../../src/llm/gguf-write.js";
import { f16BitsToF32, f32ToF16Bits } from "../../src/llm/quant.js";
import { tinyGemma3Vocab } from "../../src/tiny/gemma3.js";
import { SeededRandom } from "../../src/util/random.js";
import { DL, DV, IMAGE_SIZE, PATCH } from "./fixtures.js";

export interface HfGemma3Projector {
  /** HF `mm_input_projection_weight` [Dv, Dl] (x · W). */
  inputProjection: Float32Array;
  /** HF `mm_soft_emb_norm.weight` [Dv]: the RMSNorm multiplies by (1 + w). */
  softEmbNorm: Float32Array;
}

export function randomHfProjector(seed: number): HfGemma3Projector {
  const r = new SeededRandom(seed);
  return { inputProjection: r.normalArray(DV * DL, 1 / Math.sqrt(DV)), softEmbNorm: r.normalArray(DV, 0.2) };
}

/** Values rounded through float16, as an F16 tensor stores them. */
export function roundF16(x: Float32Array): Float32Array {
  return x.map((v) => f16BitsToF32(f32ToF16Bits(v)));
}

export interface ConverterOptions {
  /** Metadata to add or replace (undefined removes a key). */
  metadata?: Record<string, GgufValue | undefined>;
  /** Tensors to replace or add by name (null removes one). */
  tensors?: Record<string, GgufTensorSpec | null>;
  /** Also write a gemma3 LLM's identity (vocabulary, embedding length, token_embd) as a model GGUF would. */
  withLlm?: boolean;
  /** Store fc1 as `ffn_down` and fc2 as `ffn_up`, as old converters did (llama.cpp swaps them back). */
  legacyFfnNames?: boolean;
}

/** Writes the converter-style mmproj for the encoder at `encoderDir` and `projector`. */
export async function writeConverterMmproj(
  file: string,
  encoderDir: string,
  projector: HfGemma3Projector,
  options: ConverterOptions = {},
): Promise<void> {
  const init = initializerMap(await readModel(`${encoderDir}/onnx/vision_model.onnx`));
  const get = (name: string) => {
    const t = init.get(`vision_model.${name}`);
    if (!t || !(t.values instanceof Float32Array)) throw new Error(`no ${name}`);
    return { dims: t.dims, values: t.values };
  };
  // vlmkit's ONNX keeps MatMul weights [in, out]; PyTorch (and so the converter) has [out, in].
  const linear = (name: string) => {
    const t = get(name);
    const [inF, outF] = t.dims;
    const out = new Float32Array(inF * outF);
    for (let i = 0; i < inF; i++) for (let o = 0; o < outF; o++) out[o * inF + i] = t.values[i * outF + o];
    return { dims: [inF, outF], data: out }; // ggml order [in, out]
  };
  const f32 = (name: string, dims: number[], data: Float32Array): GgufTensorSpec => ({
    name,
    dims,
    type: "F32",
    data,
  });
  const side = IMAGE_SIZE / PATCH;
  const tensors: GgufTensorSpec[] = [
    f32(
      "v.patch_embd.weight",
      [PATCH, PATCH, 3, DV],
      get("embeddings.patch_embedding.weight").values as Float32Array,
    ),
    f32("v.patch_embd.bias", [DV], get("embeddings.patch_embedding.bias").values as Float32Array),
    f32(
      "v.position_embd.weight",
      [DV, side * side],
      get("embeddings.position_embedding.weight").values as Float32Array,
    ),
  ];
  for (let i = 0; i < 2; i++) {
    const l = `encoder.layers.${i}`;
    for (const [g, h] of [
      ["attn_q", "self_attn.q_proj"],
      ["attn_k", "self_attn.k_proj"],
      ["attn_v", "self_attn.v_proj"],
      ["attn_out", "self_attn.out_proj"],
      [options.legacyFfnNames ? "ffn_down" : "ffn_up", "mlp.fc1"],
      [options.legacyFfnNames ? "ffn_up" : "ffn_down", "mlp.fc2"],
    ]) {
      const w = linear(`${l}.${h}.weight`);
      tensors.push(f32(`v.blk.${i}.${g}.weight`, w.dims, w.data));
      const b = get(`${l}.${h}.bias`);
      tensors.push(f32(`v.blk.${i}.${g}.bias`, b.dims, b.values as Float32Array));
    }
    for (const [g, h] of [
      ["ln1", "layer_norm1"],
      ["ln2", "layer_norm2"],
    ]) {
      for (const p of ["weight", "bias"]) {
        const t = get(`${l}.${h}.${p}`);
        tensors.push(f32(`v.blk.${i}.${g}.${p}`, t.dims, t.values as Float32Array));
      }
    }
  }
  for (const p of ["weight", "bias"]) {
    const t = get(`post_layernorm.${p}`);
    tensors.push(f32(`v.post_ln.${p}`, t.dims, t.values as Float32Array));
  }
  tensors.push(
    f32(
      "mm.soft_emb_norm.weight",
      [DV],
      projector.softEmbNorm.map((w) => w + 1),
    ),
    { name: "mm.input_projection.weight", dims: [DL, DV], type: "F16", data: projector.inputProjection },
  );
  const metadata: Record<string, GgufValue> = {
    "general.architecture": kv.str("clip"),
    "general.type": kv.str("mmproj"),
    "general.file_type": kv.u32(0),
    "clip.has_vision_encoder": kv.bool(true),
    "clip.vision.projection_dim": kv.u32(DL),
    "clip.vision.image_size": kv.u32(IMAGE_SIZE),
    "clip.vision.patch_size": kv.u32(PATCH),
    "clip.vision.embedding_length": kv.u32(DV),
    "clip.vision.feed_forward_length": kv.u32(64),
    "clip.vision.block_count": kv.u32(2),
    "clip.vision.attention.head_count": kv.u32(4),
    "clip.vision.image_mean": kv.arr("float32", [0.5, 0.5, 0.5]),
    "clip.vision.image_std": kv.arr("float32", [0.5, 0.5, 0.5]),
    "clip.projector_type": kv.str("gemma3"),
    "clip.vision.attention.layer_norm_epsilon": kv.f32(1e-6),
    "clip.use_gelu": kv.bool(true),
  };
  if (options.withLlm) {
    const vocab = tinyGemma3Vocab();
    metadata["general.architecture"] = kv.str("gemma3");
    metadata["general.name"] = kv.str("tiny gemma3 with vision");
    metadata["gemma3.embedding_length"] = kv.u32(DL);
    metadata["tokenizer.ggml.tokens"] = kv.arr("string", vocab.tokens);
    tensors.push(
      f32("token_embd.weight", [DL, vocab.tokens.length], new Float32Array(DL * vocab.tokens.length)),
    );
  }
  for (const [k, v] of Object.entries(options.metadata ?? {})) {
    if (v === undefined) delete metadata[k];
    else metadata[k] = v;
  }
  let out = tensors;
  for (const [name, spec] of Object.entries(options.tensors ?? {})) {
    out = out.filter((t) => t.name !== name);
    if (spec) out.push(spec);
  }
  await writeGguf(file, { metadata, tensors: out });
}
