/**
 * Tiny gemma3 GGUF models with seeded random weights, in the real file format llama.cpp loads: for
 * tests (the `tiny` preset, seconds to write and load) and for benchmarks (the `gemma-3-270m`
 * preset, Gemma 3 270M's shapes).
 *
 * Metadata and tensor names follow llama.cpp's gemma3 loader (src/models/gemma3.cpp) and its HF
 * converter (conversion/gemma.py, Gemma3Model): RMSNorm weights are stored as (1 + w) because the
 * converter adds the HF Gemma3RMSNorm offset, so llama.cpp multiplies by the stored value as is;
 * `output.weight` is absent (tied to token_embd); 1-D norm tensors stay F32.
 */

import { InvalidArgumentError } from "../errors.js";
import { type GgufTensorSpec, type GgufValue, kv, writeGguf } from "../llm/gguf-write.js";
import type { WritableGgmlType } from "../llm/quant-encode.js";
import { SeededRandom } from "../util/random.js";

export interface Gemma3Dims {
  /** Hidden size (`gemma3.embedding_length`, HF `hidden_size`). */
  embedding: number;
  /** Decoder layers (`gemma3.block_count`). */
  layers: number;
  /** Query heads (`gemma3.attention.head_count`). */
  heads: number;
  /** Key/value heads (`gemma3.attention.head_count_kv`). */
  kvHeads: number;
  /** Per-head size (`gemma3.attention.key_length` = `value_length`). */
  headDim: number;
  /** MLP hidden size (`gemma3.feed_forward_length`). */
  ff: number;
  /** Training context (`gemma3.context_length`). */
  contextLength: number;
  /** Vocabulary size; the tiny vocabulary is padded with `<unusedN>` tokens up to it (0 = no padding). */
  vocab: number;
  /** Local-attention window (`gemma3.attention.sliding_window`). */
  slidingWindow: number;
  /** Every `pattern`-th layer is global, the others local (`gemma3.attention.sliding_window_pattern`). */
  slidingWindowPattern: number;
  /** RoPE base of global layers (`gemma3.rope.freq_base`). */
  ropeBase: number;
  /** RoPE base of local layers (`gemma3.rope.freq_base_swa`). */
  ropeBaseLocal: number;
  /** `gemma3.attention.layer_norm_rms_epsilon`. */
  rmsEps: number;
  /** `gemma3.final_logit_softcapping`; 0 leaves the key out (Gemma 3 has none). */
  finalLogitSoftcap: number;
}

/** Small enough that writing and loading take milliseconds; layer 0 is local, layer 1 global. */
export const TINY_GEMMA3_DIMS: Readonly<Gemma3Dims> = {
  embedding: 64,
  layers: 2,
  heads: 4,
  kvHeads: 2,
  headDim: 16,
  ff: 128,
  contextLength: 512,
  vocab: 0,
  slidingWindow: 16,
  slidingWindowPattern: 2,
  ropeBase: 1_000_000,
  ropeBaseLocal: 10_000,
  rmsEps: 1e-6,
  finalLogitSoftcap: 0,
};

/**
 * google/gemma-3-270m's shapes (its GGUF: embedding 640, 18 blocks, 4 heads, 1 KV head, key/value
 * length 256, feed-forward 2048, context 32768, sliding window 512, rope 1e6; the HF config adds
 * local rope 1e4 and 5 local layers per global one), with the full 262144-token vocabulary.
 */
export const GEMMA3_270M_DIMS: Readonly<Gemma3Dims> = {
  embedding: 640,
  layers: 18,
  heads: 4,
  kvHeads: 1,
  headDim: 256,
  ff: 2048,
  contextLength: 32768,
  vocab: 262144,
  slidingWindow: 512,
  slidingWindowPattern: 6,
  ropeBase: 1_000_000,
  ropeBaseLocal: 10_000,
  rmsEps: 1e-6,
  finalLogitSoftcap: 0,
};

export type TinyGemma3Preset = "tiny" | "gemma-3-270m";

export interface TinyGemma3Options {
  /** PRNG seed; the same seed gives the same weights. Default 0. */
  seed?: number;
  /** Encoding of the 2-D weights; norms stay F32. Default "f32". */
  type?: "f32" | "f16" | "q8_0" | "q4_0";
  /** Shape preset; default "tiny". */
  preset?: TinyGemma3Preset;
  /** Overrides of single dims on top of the preset. */
  dims?: Partial<Gemma3Dims>;
  /**
   * Write `attn_output` and `ffn_down` as zeros, so every layer adds nothing to the residual stream
   * and the logits have a closed form, `token_embd · (rmsnorm(√n_embd · token_embd[t]) ⊙ output_norm)`,
   * that tests compute from dequantized weights and compare with llama.cpp. Default false.
   */
  zeroResiduals?: boolean;
  /** Model name in `general.name`; default "vlmkit-tiny-gemma3". */
  name?: string;
  /**
   * `tokenizer.chat_template` (llama.cpp's chat tools need one: `GEMMA3_CHAT_TEMPLATE`). Default none,
   * which keeps the file byte-identical to earlier tiny models.
   */
  chatTemplate?: string;
  /** Cancels the write. */
  signal?: AbortSignal;
  /** Progress per tensor written. */
  onProgress?: (progress: { bytesWritten: number; totalBytes: number; tensor: string }) => void;
}

export interface TinyGemma3Result {
  path: string;
  dims: Gemma3Dims;
  /** Token strings by id. */
  tokens: readonly string[];
  /** Ids of the named special tokens. */
  special: Readonly<Record<TinyGemma3Special, number>>;
  bytes: number;
}

/**
 * Gemma 3's turn format as a chat template: `<start_of_turn>{user|model}\n{trimmed content}<end_of_turn>\n`,
 * image parts as `<start_of_image>`, and `<start_of_turn>model\n` as the generation prompt. llama.cpp
 * recognises it as its built-in "gemma" template (llama-mtmd-cli) and renders it with Jinja (llama-server).
 */
export const GEMMA3_CHAT_TEMPLATE =
  "{{ bos_token }}{% for message in messages %}" +
  "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}" +
  "{{ '<start_of_turn>' + role + '\n' }}" +
  "{% if message['content'] is string %}{{ message['content'] | trim }}{% else %}" +
  "{% for item in message['content'] %}{% if item['type'] == 'image' %}{{ '<start_of_image>' }}" +
  "{% elif item['type'] == 'text' %}{{ item['text'] | trim }}{% endif %}{% endfor %}{% endif %}" +
  "{{ '<end_of_turn>\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}";

/** llama.cpp token types (llama_token_type / gguf TokenType). */
const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

const SPECIALS = [
  ["<pad>", TOKEN_TYPE.control],
  ["<eos>", TOKEN_TYPE.control],
  ["<bos>", TOKEN_TYPE.control],
  ["<unk>", TOKEN_TYPE.unknown],
  ["<start_of_turn>", TOKEN_TYPE.control],
  ["<end_of_turn>", TOKEN_TYPE.control],
  ["<start_of_image>", TOKEN_TYPE.userDefined],
  ["<end_of_image>", TOKEN_TYPE.userDefined],
  ["<image_soft_token>", TOKEN_TYPE.userDefined],
  ["\n", TOKEN_TYPE.userDefined],
] as const;

export type TinyGemma3Special =
  | "pad"
  | "eos"
  | "bos"
  | "unk"
  | "startOfTurn"
  | "endOfTurn"
  | "startOfImage"
  | "endOfImage"
  | "imageSoftToken"
  | "newline";

const WORDS = (
  "what is this a an the color colour shape image picture of in on and it describe there yes no how many " +
  "which object background small large big left right top bottom center one two three user model " +
  "red green blue yellow orange purple black white gray pink brown circle square triangle star cross rectangle"
).split(" ");

/**
 * The tiny SentencePiece-style vocabulary: specials (pad 0, eos 1, bos 2, unk 3, turn and image
 * markers, "\n"), 256 byte tokens, "▁", letters, digits, punctuation, and words (with and without
 * the ▁ space marker) with all their prefixes: llama.cpp's SPM tokenizer builds a word only through
 * pieces that are in the vocabulary. Strings are unique: llama.cpp aborts on duplicates.
 */
export function tinyGemma3Vocab(vocabSize = 0) {
  const tokens: string[] = [];
  const scores: number[] = [];
  const types: number[] = [];
  const seen = new Set<string>();
  const add = (text: string, type: number, score: number) => {
    if (seen.has(text)) return;
    seen.add(text);
    tokens.push(text);
    types.push(type);
    scores.push(score);
  };
  for (const [text, type] of SPECIALS) add(text, type, -1000);
  for (let b = 0; b < 256; b++)
    add(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`, TOKEN_TYPE.byte, 0);
  const pieces = ["▁", ..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789?.,:;!'-"];
  for (const p of pieces) add(p, TOKEN_TYPE.normal, -10);
  // Each word with and without the ▁ (space) prefix: text at the start of a prompt has no space.
  for (const piece of WORDS.flatMap((w) => [`▁${w}`, w])) {
    // Longer pieces score higher so that merges prefer completing a word.
    for (let n = 2; n <= piece.length; n++) add(piece.slice(0, n), TOKEN_TYPE.normal, -10 + n);
  }
  if (vocabSize > 0 && vocabSize < tokens.length) {
    throw new InvalidArgumentError(
      `vocab ${vocabSize} is smaller than the ${tokens.length} tokens of the tiny vocabulary`,
    );
  }
  for (let i = 0; tokens.length < vocabSize; i++) add(`<unused${i}>`, TOKEN_TYPE.unused, -1000);
  const special = Object.fromEntries(
    (
      [
        "pad",
        "eos",
        "bos",
        "unk",
        "startOfTurn",
        "endOfTurn",
        "startOfImage",
        "endOfImage",
        "imageSoftToken",
        "newline",
      ] as const
    ).map((k, i) => [k, i]),
  ) as Record<TinyGemma3Special, number>;
  return { tokens, scores, types, special };
}

/** llama_ftype of a file whose 2-D weights all have one type. */
const FILE_TYPE: Record<NonNullable<TinyGemma3Options["type"]>, number> = {
  f32: 0,
  f16: 1,
  q4_0: 2,
  q8_0: 7,
};

/** Writes a gemma3 GGUF with seeded random weights at `path`. */
export async function writeTinyGemma3Gguf(
  path: string,
  options: TinyGemma3Options = {},
): Promise<TinyGemma3Result> {
  const seed = options.seed ?? 0;
  const type = options.type ?? "f32";
  if (!(type in FILE_TYPE)) {
    throw new InvalidArgumentError(
      `tiny gemma3 type "${type}" is not one of ${Object.keys(FILE_TYPE).join(", ")}`,
    );
  }
  const base = (options.preset ?? "tiny") === "tiny" ? TINY_GEMMA3_DIMS : GEMMA3_270M_DIMS;
  const dims: Gemma3Dims = { ...base, ...options.dims };
  const vocab = tinyGemma3Vocab(dims.vocab);
  const nVocab = vocab.tokens.length;
  const tensorType = type.toUpperCase() as WritableGgmlType;

  const metadata: Record<string, GgufValue> = {
    "general.architecture": kv.str("gemma3"),
    "general.name": kv.str(options.name ?? "vlmkit-tiny-gemma3"),
    "general.file_type": kv.u32(FILE_TYPE[type]),
    "general.quantization_version": kv.u32(2),
    "gemma3.context_length": kv.u32(dims.contextLength),
    "gemma3.embedding_length": kv.u32(dims.embedding),
    "gemma3.block_count": kv.u32(dims.layers),
    "gemma3.feed_forward_length": kv.u32(dims.ff),
    "gemma3.attention.head_count": kv.u32(dims.heads),
    "gemma3.attention.head_count_kv": kv.u32(dims.kvHeads),
    "gemma3.attention.key_length": kv.u32(dims.headDim),
    "gemma3.attention.value_length": kv.u32(dims.headDim),
    "gemma3.attention.layer_norm_rms_epsilon": kv.f32(dims.rmsEps),
    "gemma3.rope.freq_base": kv.f32(dims.ropeBase),
    "gemma3.rope.freq_base_swa": kv.f32(dims.ropeBaseLocal),
    "gemma3.attention.sliding_window": kv.u32(dims.slidingWindow),
    "gemma3.attention.sliding_window_pattern": kv.u32(dims.slidingWindowPattern),
    ...(dims.finalLogitSoftcap > 0
      ? { "gemma3.final_logit_softcapping": kv.f32(dims.finalLogitSoftcap) }
      : {}),
    "tokenizer.ggml.model": kv.str("llama"),
    "tokenizer.ggml.pre": kv.str("default"),
    "tokenizer.ggml.tokens": kv.arr("string", vocab.tokens),
    "tokenizer.ggml.scores": kv.arr("float32", vocab.scores),
    "tokenizer.ggml.token_type": kv.arr("int32", vocab.types),
    "tokenizer.ggml.bos_token_id": kv.u32(vocab.special.bos),
    "tokenizer.ggml.eos_token_id": kv.u32(vocab.special.eos),
    "tokenizer.ggml.unknown_token_id": kv.u32(vocab.special.unk),
    "tokenizer.ggml.padding_token_id": kv.u32(vocab.special.pad),
    "tokenizer.ggml.add_bos_token": kv.bool(true),
    "tokenizer.ggml.add_eos_token": kv.bool(false),
    "tokenizer.ggml.add_space_prefix": kv.bool(false),
    ...(options.chatTemplate !== undefined
      ? { "tokenizer.chat_template": kv.str(options.chatTemplate) }
      : {}),
  };

  const E = dims.embedding;
  const qDim = dims.heads * dims.headDim;
  const kvDim = dims.kvHeads * dims.headDim;
  // ggml dims: [row length (input features), rows (output features)]
  const matrix = (name: string, inF: number, outF: number, zero = false): GgufTensorSpec => ({
    name,
    dims: [inF, outF],
    type: tensorType,
    data: zero
      ? new Float32Array(inF * outF)
      : () => randomRows(seed, name, inF, outF, 0, 1 / Math.sqrt(inF)),
  });
  const zero = options.zeroResiduals ?? false;
  const norm = (name: string, n: number): GgufTensorSpec => ({
    name,
    dims: [n],
    type: "F32",
    // Stored as 1 + w (HF Gemma3RMSNorm weight w ≈ 0).
    data: () => randomRows(seed, name, n, 1, 1, 0.1),
  });

  const tensors: GgufTensorSpec[] = [
    // [n_vocab, n_embd] row-major; std 1/√E so that ×√E input scaling gives unit-variance inputs.
    {
      name: "token_embd.weight",
      dims: [E, nVocab],
      type: tensorType,
      data: () => randomRows(seed, "token_embd.weight", E, nVocab, 0, 1 / Math.sqrt(E)),
    },
    norm("output_norm.weight", E),
  ];
  for (let i = 0; i < dims.layers; i++) {
    const p = `blk.${i}`;
    tensors.push(
      norm(`${p}.attn_norm.weight`, E),
      matrix(`${p}.attn_q.weight`, E, qDim),
      matrix(`${p}.attn_k.weight`, E, kvDim),
      matrix(`${p}.attn_v.weight`, E, kvDim),
      norm(`${p}.attn_q_norm.weight`, dims.headDim),
      norm(`${p}.attn_k_norm.weight`, dims.headDim),
      matrix(`${p}.attn_output.weight`, qDim, E, zero),
      norm(`${p}.post_attention_norm.weight`, E),
      norm(`${p}.ffn_norm.weight`, E),
      matrix(`${p}.ffn_gate.weight`, E, dims.ff),
      matrix(`${p}.ffn_up.weight`, E, dims.ff),
      matrix(`${p}.ffn_down.weight`, dims.ff, E, zero),
      norm(`${p}.post_ffw_norm.weight`, E),
    );
  }

  const { bytes } = await writeGguf(path, {
    metadata,
    tensors,
    signal: options.signal,
    onProgress: options.onProgress,
  });
  return { path, dims, tokens: vocab.tokens, special: vocab.special, bytes };
}

/** Values of one tensor, mean + std·N(0,1), from a PRNG keyed by (seed, tensor name), in chunks of rows. */
function* randomRows(seed: number, name: string, rowLength: number, rows: number, mean: number, std: number) {
  const rng = new SeededRandom(hashSeed(seed, name));
  const rowsPerChunk = Math.max(1, Math.floor((1 << 20) / rowLength));
  for (let r = 0; r < rows; r += rowsPerChunk) {
    const chunk = new Float32Array(Math.min(rowsPerChunk, rows - r) * rowLength);
    for (let i = 0; i < chunk.length; i++) chunk[i] = rng.normal(mean, std);
    yield chunk;
  }
}

/** FNV-1a over the name, mixed with the seed: each tensor's values depend only on (seed, name). */
function hashSeed(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
