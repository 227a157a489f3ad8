/**
 * The names of llama.cpp's multimodal projector files (mmproj GGUF), as its converters write them and
 * its `mtmd` loader reads them (tools/mtmd/clip-impl.h, clip.cpp, models/siglip.cpp, models/llava.cpp
 * in the llama.cpp source bundled with node-llama-cpp), and how each tensor maps to the public ONNX
 * layout vlmkit's encoders and adapters use.
 *
 * Layouts. GGUF dims are ggml order (ne[0] contiguous); `GgufReader` reports them reversed (row-major),
 * which is what "row-major" means below.
 *   - Linear weights `v.blk.N.{attn_q,attn_k,attn_v,attn_out,ffn_up,ffn_down}.weight` are PyTorch's
 *     [out, in] row-major; vlmkit's ONNX stores MatMul weights [in, out] (transposed).
 *   - `v.patch_embd.weight` [D, 3, p, p] and `v.position_embd.weight` [N, D] are the same in both.
 *   - gemma3 `mm.input_projection.weight` is HF's parameter [Dv, Dl] row-major (x · W); vlmkit's
 *     `proj.weight` is [Dl, Dv]. `mm.soft_emb_norm.weight` is the RMSNorm multiplier itself (the
 *     converter stores HF's Gemma3RMSNorm weight + 1), as vlmkit's `norm.weight`.
 *   - idefics3 `mm.model.fc.weight` and mlp `mm.0.*`/`mm.2.*` are [out, in] row-major, as vlmkit's.
 * fc1/fc2: `ffn_up` is fc1 (D → F) and `ffn_down` is fc2 (F → D). Old files swapped the names;
 * llama.cpp swaps them back whenever `ffn_down`'s ne[0] equals the width D (`is_ffn_swapped`), also when
 * F = D — so a file for a tower with F = D must store them swapped to compute correctly.
 */
import type { AdapterKindName } from "../adapter/index.js";

export const KEY = {
  architecture: "general.architecture",
  type: "general.type",
  name: "general.name",
  fileType: "general.file_type",
  projectorType: "clip.projector_type",
  visionProjectorType: "clip.vision.projector_type",
  hasVision: "clip.has_vision_encoder",
  useGelu: "clip.use_gelu",
  useSilu: "clip.use_silu",
  imageSize: "clip.vision.image_size",
  patchSize: "clip.vision.patch_size",
  width: "clip.vision.embedding_length",
  ffn: "clip.vision.feed_forward_length",
  blocks: "clip.vision.block_count",
  heads: "clip.vision.attention.head_count",
  headsKv: "clip.vision.attention.head_count_kv",
  headDim: "clip.vision.attention.head_dim",
  eps: "clip.vision.attention.layer_norm_epsilon",
  projectionDim: "clip.vision.projection_dim",
  imageMean: "clip.vision.image_mean",
  imageStd: "clip.vision.image_std",
  scaleFactor: "clip.vision.projector.scale_factor",
  featureLayer: "clip.vision.feature_layer",
  gridPinpoints: "clip.vision.image_grid_pinpoints",
  preprocImageSize: "clip.vision.preproc_image_size",
} as const;

/** The projector types vlmkit reads and writes, with the adapter kind each one is. */
export const PROJECTOR_KIND = {
  gemma3: "avgpool",
  idefics3: "pixel-shuffle",
  mlp: "mlp",
} as const satisfies Record<string, AdapterKindName>;

export type ProjectorType = keyof typeof PROJECTOR_KIND;
export const PROJECTOR_TYPES = Object.keys(PROJECTOR_KIND) as ProjectorType[];

/** The projector type of an adapter kind, or undefined for `linear` (llama.cpp has no such projector). */
export function projectorForKind(kind: AdapterKindName): ProjectorType | undefined {
  return PROJECTOR_TYPES.find((p) => PROJECTOR_KIND[p] === kind);
}

/** "avgpool (gemma3), pixel-shuffle (idefics3), mlp (mlp)": the kinds that export, for messages. */
export const EXPORTABLE_KINDS = PROJECTOR_TYPES.map((p) => `${PROJECTOR_KIND[p]} (${p})`).join(", ");

/** gemma3's pool size when `clip.vision.projector.scale_factor` is absent (clip.cpp). */
export const GEMMA3_DEFAULT_MERGE = 4;

/** The layer-norm epsilon vlmkit's avgpool RMSNorm uses; llama.cpp's gemma3 uses the tower's. */
export const GEMMA3_RMS_EPS = 1e-6;

/** One tensor of the vision tower or projector under both names. */
export interface TensorMapping {
  /** GGUF name, e.g. `v.blk.0.attn_q.weight`. */
  gguf: string;
  /** vlmkit name: the ONNX initializer (tower) or the safetensors tensor (adapter). */
  vlmkit: string;
  /** Row-major dims in the GGUF (ggml order reversed). */
  ggufDims: number[];
  /** Whether the vlmkit tensor is the 2-D transpose of the GGUF one. */
  transpose: boolean;
  /** Part of the tower (ONNX) or of the projector (adapter). */
  part: "tower" | "projector";
}

export interface TowerSizes {
  /** D */
  width: number;
  /** F */
  ffn: number;
  /** Layers stored in the file (`block_count`). */
  blocks: number;
  patch: number;
  /** Patches per image (the position table's rows). */
  positions: number;
}

const V = "vision_model";

/**
 * The tower tensors llama.cpp's SigLIP graph reads, in file order; `post_ln` last. `swapped`: fc1 is
 * stored as `ffn_down` and fc2 as `ffn_up` (old files; and what llama.cpp assumes whenever F = D, so an
 * exported file with F = D must be written so). Default: F = D.
 */
export function towerTensors(s: TowerSizes, swapped = s.ffn === s.width): TensorMapping[] {
  const out: TensorMapping[] = [];
  const add = (gguf: string, vlmkit: string, ggufDims: number[], transpose = false) =>
    out.push({ gguf, vlmkit, ggufDims, transpose, part: "tower" });
  const { width: D, ffn: F } = s;
  add("v.patch_embd.weight", `${V}.embeddings.patch_embedding.weight`, [D, 3, s.patch, s.patch]);
  add("v.patch_embd.bias", `${V}.embeddings.patch_embedding.bias`, [D]);
  add("v.position_embd.weight", `${V}.embeddings.position_embedding.weight`, [s.positions, D]);
  for (let i = 0; i < s.blocks; i++) {
    const b = `v.blk.${i}`;
    const l = `${V}.encoder.layers.${i}`;
    for (const [g, h] of [
      ["attn_q", "self_attn.q_proj"],
      ["attn_k", "self_attn.k_proj"],
      ["attn_v", "self_attn.v_proj"],
      ["attn_out", "self_attn.out_proj"],
    ] as const) {
      add(`${b}.${g}.weight`, `${l}.${h}.weight`, [D, D], true);
      add(`${b}.${g}.bias`, `${l}.${h}.bias`, [D]);
    }
    add(`${b}.ln1.weight`, `${l}.layer_norm1.weight`, [D]);
    add(`${b}.ln1.bias`, `${l}.layer_norm1.bias`, [D]);
    add(`${b}.ln2.weight`, `${l}.layer_norm2.weight`, [D]);
    add(`${b}.ln2.bias`, `${l}.layer_norm2.bias`, [D]);
    add(`${b}.${swapped ? "ffn_down" : "ffn_up"}.weight`, `${l}.mlp.fc1.weight`, [F, D], true);
    add(`${b}.${swapped ? "ffn_down" : "ffn_up"}.bias`, `${l}.mlp.fc1.bias`, [F]);
    add(`${b}.${swapped ? "ffn_up" : "ffn_down"}.weight`, `${l}.mlp.fc2.weight`, [D, F], true);
    add(`${b}.${swapped ? "ffn_up" : "ffn_down"}.bias`, `${l}.mlp.fc2.bias`, [D]);
  }
  add("v.post_ln.weight", `${V}.post_layernorm.weight`, [D]);
  add("v.post_ln.bias", `${V}.post_layernorm.bias`, [D]);
  return out;
}

/** The projector tensors of `type` for Dv → Dl (`factor`: the merge r or k). */
export function projectorTensors(
  type: ProjectorType,
  dv: number,
  dl: number,
  factor: number,
): TensorMapping[] {
  const p = (gguf: string, vlmkit: string, ggufDims: number[], transpose = false): TensorMapping => ({
    gguf,
    vlmkit,
    ggufDims,
    transpose,
    part: "projector",
  });
  switch (type) {
    case "gemma3":
      return [
        p("mm.soft_emb_norm.weight", "norm.weight", [dv]),
        p("mm.input_projection.weight", "proj.weight", [dv, dl], true),
      ];
    case "idefics3":
      return [p("mm.model.fc.weight", "proj.weight", [dl, factor * factor * dv])];
    case "mlp":
      return [
        p("mm.0.weight", "mlp.0.weight", [dl, dv]),
        p("mm.0.bias", "mlp.0.bias", [dl]),
        p("mm.2.weight", "mlp.2.weight", [dl, dl]),
        p("mm.2.bias", "mlp.2.bias", [dl]),
      ];
  }
}

/** [rows, cols] row-major → [cols, rows]. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}
