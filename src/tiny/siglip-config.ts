/** Sizes, presets and the HF-style JSON files (`config.json`, `preprocessor_config.json`) of tiny SigLIP models. */

export type TinySiglipVariant = "siglip" | "siglip2" | "siglip2-naflex";

export interface TinySiglipSizes {
  /** Width of both towers. Tiny default 32. */
  hidden: number;
  /** Encoder layers per tower. Tiny default 2. */
  layers: number;
  /** Attention heads (must divide `hidden`). Tiny default 4. */
  heads: number;
  /** MLP width. Tiny default 64. */
  mlp: number;
  /** Fixed-resolution image side in pixels (a multiple of `patch`). Tiny default 32. */
  imageSize: number;
  /** Patch side in pixels. Tiny default 8. */
  patch: number;
  /** NaFlex: `max_num_patches` in preprocessor_config.json. Tiny default 24. */
  maxPatches: number;
  /** NaFlex: learned positions (`vision_config.num_patches`, a square). Tiny default 16 (4×4). */
  numPositions: number;
  /** Text embedding rows; at least the tokenizer's size (the default). */
  vocab?: number;
  /** Text sequence length (`max_position_embeddings`). Default 64. */
  textLength: number;
}

export const PRESETS: Record<"tiny" | "base", TinySiglipSizes> = {
  tiny: {
    hidden: 32,
    layers: 2,
    heads: 4,
    mlp: 64,
    imageSize: 32,
    patch: 8,
    maxPatches: 24,
    numPositions: 16,
    textLength: 64,
  },
  // SigLIP 2 base patch16-224: 12 layers, 768 wide, 12 heads, mlp 3072, 196 patches (NaFlex: 16×16 grid, 256 patches).
  base: {
    hidden: 768,
    layers: 12,
    heads: 12,
    mlp: 3072,
    imageSize: 224,
    patch: 16,
    maxPatches: 256,
    numPositions: 256,
    textLength: 64,
  },
};

/** SigLIP configs use LayerNorm epsilon 1e-6. */
export const LAYER_NORM_EPS = 1e-6;

export function configJson(
  variant: TinySiglipVariant,
  s: TinySiglipSizes,
  vocab: number,
  padId: number,
  eosId: number,
) {
  const common = {
    hidden_size: s.hidden,
    intermediate_size: s.mlp,
    num_attention_heads: s.heads,
    num_hidden_layers: s.layers,
    layer_norm_eps: LAYER_NORM_EPS,
    hidden_act: "gelu_pytorch_tanh",
    attention_dropout: 0,
  };
  const text = {
    ...common,
    vocab_size: vocab,
    max_position_embeddings: s.textLength,
    pad_token_id: padId,
    eos_token_id: eosId,
    ...(variant === "siglip" ? {} : { projection_size: s.hidden }),
  };
  if (variant === "siglip2-naflex") {
    return {
      architectures: ["Siglip2Model"],
      model_type: "siglip2",
      initializer_factor: 1,
      torch_dtype: "float32",
      text_config: { ...text, model_type: "siglip2_text_model" },
      vision_config: {
        ...common,
        model_type: "siglip2_vision_model",
        num_channels: 3,
        patch_size: s.patch,
        num_patches: s.numPositions,
      },
    };
  }
  // Fixed-resolution SigLIP 2 checkpoints reuse the SigLIP architecture (model_type "siglip").
  return {
    architectures: ["SiglipModel"],
    model_type: "siglip",
    initializer_factor: 1,
    torch_dtype: "float32",
    text_config: { ...text, model_type: "siglip_text_model" },
    vision_config: {
      ...common,
      model_type: "siglip_vision_model",
      num_channels: 3,
      image_size: s.imageSize,
      patch_size: s.patch,
    },
  };
}

export function preprocessorJson(variant: TinySiglipVariant, s: TinySiglipSizes) {
  const common = {
    do_convert_rgb: null,
    do_normalize: true,
    do_rescale: true,
    do_resize: true,
    image_mean: [0.5, 0.5, 0.5],
    image_std: [0.5, 0.5, 0.5],
    rescale_factor: 1 / 255,
  };
  if (variant === "siglip2-naflex") {
    return {
      ...common,
      image_processor_type: "Siglip2ImageProcessor",
      processor_class: "Siglip2Processor",
      resample: 2,
      patch_size: s.patch,
      max_num_patches: s.maxPatches,
    };
  }
  return {
    ...common,
    image_processor_type: "SiglipImageProcessor",
    processor_class: "SiglipProcessor",
    // SigLIP 1 configs resize bicubic (3); fixed-res SigLIP 2 configs bilinear (2).
    resample: variant === "siglip" ? 3 : 2,
    size: { height: s.imageSize, width: s.imageSize },
  };
}
