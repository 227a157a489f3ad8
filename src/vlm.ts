/**
 * A vision-language model assembled from three parts: a SigLIP / SigLIP 2 vision encoder (ONNX), a
 * linear adapter, and a Gemma-style LLM (GGUF). It composes the stages and reimplements none:
 *
 *   images ─ VisionEncoder ─▶ patches [N, Dv] ─ adapter (any kind) ─▶ [M, Dl] × runtime factor
 *          ─ prompt builder (card's style and attention) ─ assembleChunks ─▶ GenerationEngine ─▶ text
 */
import { type LoadedAdapter, loadAdapter } from "./adapter/index.js";
import type { EncodeOptions, ImageInput, SessionOptions } from "./encoders/index.js";
import { VisionEncoder } from "./encoders/index.js";
import { InvalidArgumentError, VlmkitError } from "./errors.js";
import type { LoadImageOptions } from "./image/index.js";
import type { GenerateOptions, Generation, GenerationResult } from "./llm/engine.js";
import { Llm, type LlmOptions } from "./llm/llm.js";
import {
  type ChatMessage,
  gemmaChatPrompt,
  IMAGE_PLACEHOLDER,
  type PromptPlan,
  paligemmaPrompt,
} from "./prompt/index.js";
import { assembleChunks } from "./vlm/assemble.js";
import { encoderId } from "./vlm/encoder-id.js";

export interface VlmLoadOptions {
  /** Encoder directory (public ONNX export layout), or a loaded encoder. */
  encoder: string | VisionEncoder;
  /** Adapter directory holding `adapter.json` + `adapter.safetensors`. */
  adapter: string;
  /** GGUF path, or a loaded `Llm` to share between adapters. */
  llm: string | Llm;
  /** Encoder session options (dtype, threads, providers). */
  encoderOptions?: SessionOptions;
  /** LLM options when `llm` is a path (context size, sequences, GPU layers). */
  llmOptions?: LlmOptions;
}

/** A chat message; images go in content parts, in the order they appear. */
export interface VlmMessage {
  role: "system" | "user" | "assistant";
  content: string | ReadonlyArray<{ type: "text"; text: string } | { type: "image"; image: ImageInput }>;
}

export interface AskOptions extends GenerateOptions {
  /** How image sources are read (remote URLs, limits). Default: local files and data: URLs. */
  image?: LoadImageOptions;
  /** Called once the images are encoded and the request is queued for generation (the encoder is free again). */
  onSubmitted?: () => void;
}

export class Vlm {
  private constructor(
    readonly encoder: VisionEncoder,
    readonly adapter: LoadedAdapter,
    readonly llm: Llm,
    private readonly owns: { encoder: boolean; llm: boolean },
  ) {}

  /**
   * Loads (or takes) the three parts and checks the adapter card against the encoder and the LLM.
   * Parts given as paths are owned and freed by `dispose`; loaded parts stay the caller's.
   *
   * @example
   * ```ts
   * import { Vlm } from "vlmkit";
   *
   * const vlm = await Vlm.load({
   *   encoder: "models/demo/siglip2",
   *   adapter: "models/demo/adapter",
   *   llm: "models/demo/gemma3.gguf",
   * });
   * try {
   *   const { text } = await vlm.ask(["cat.jpg"], "what is this?");
   * } finally {
   *   await vlm.dispose();
   * }
   * ```
   */
  static async load(options: VlmLoadOptions): Promise<Vlm> {
    const ownsEncoder = typeof options.encoder === "string";
    const ownsLlm = typeof options.llm === "string";
    const encoder =
      typeof options.encoder === "string"
        ? await VisionEncoder.load(options.encoder, options.encoderOptions)
        : options.encoder;
    let llm: Llm | undefined;
    try {
      llm = typeof options.llm === "string" ? await Llm.load(options.llm, options.llmOptions) : options.llm;
      const adapter = await loadAdapter(options.adapter, {
        expectEncoder: { id: encoderId(encoder.dir), hidden: encoder.hiddenSize },
        expectLlm: llm.identity,
      });
      return new Vlm(encoder, adapter, llm, { encoder: ownsEncoder, llm: ownsLlm });
    } catch (error) {
      if (ownsEncoder) await encoder.dispose();
      if (ownsLlm) await llm?.dispose();
      throw error;
    }
  }

  /** images → adapter outputs scaled for this LLM, one `[N_i, Dl]` Float32Array per image. */
  async embedImages(images: readonly ImageInput[], options: EncodeOptions = {}): Promise<Float32Array[]> {
    const features = await this.encoder.encode(images, options);
    const factor = this.adapter.embeddingScale;
    const out: Float32Array[] = [];
    for (const f of features) {
      const y = (await this.adapter.adapter.apply(f.patches, f.grid)).data; // [N, Dv] → [M, Dl]
      if (factor !== 1) for (let i = 0; i < y.length; i++) y[i] *= factor;
      out.push(y);
    }
    return out;
  }

  /**
   * One question about some images.
   *
   * @example
   * ```ts
   * const r = await vlm.ask(["a.png", "b.png"], "<image> or <image>: which one is red?", {
   *   maxTokens: 32,
   *   sampling: { temperature: 0 },
   * });
   * console.log(r.text, r.finishReason, r.usage.completionTokens);
   * ```
   */
  ask(images: readonly ImageInput[], question: string, options: AskOptions = {}): Promise<GenerationResult> {
    return this.stream(images, question, options).result;
  }

  /**
   * Like `ask`, streaming text deltas; `result` settles with the full answer. `<image>` in the question
   * marks where each image goes (their number must match); without any, images come first.
   *
   * @example
   * ```ts
   * const generation = vlm.stream(["cat.jpg"], "describe it", { signal: AbortSignal.timeout(30_000) });
   * for await (const delta of generation) process.stdout.write(delta);
   * const { usage } = await generation.result;
   * ```
   */
  stream(images: readonly ImageInput[], question: string, options: AskOptions = {}): Generation {
    const pieces = question.split(IMAGE_PLACEHOLDER);
    const marked = pieces.length - 1;
    if (marked > 0 && marked !== images.length) {
      return deferred(
        Promise.reject(
          new VlmkitError(
            "PROMPT_MISMATCH",
            `number of image placeholders "${IMAGE_PLACEHOLDER}" in the question (${marked}) does not match the number of images (${images.length})`,
          ),
        ),
      );
    }
    const parts: Array<{ type: "text"; text: string } | { type: "image"; image: ImageInput }> =
      marked === 0
        ? [
            ...images.map((image) => ({ type: "image" as const, image })),
            { type: "text" as const, text: question },
          ]
        : pieces.flatMap((text, i) => [
            ...(i > 0 ? [{ type: "image" as const, image: images[i - 1] }] : []),
            ...(text.trim() ? [{ type: "text" as const, text }] : []),
          ]);
    return this.chatStream([{ role: "user", content: parts }], options);
  }

  /** A multi-turn conversation (Gemma-chat adapters); the answer to the last user message. */
  chat(messages: readonly VlmMessage[], options: AskOptions = {}): Promise<GenerationResult> {
    return this.chatStream(messages, options).result;
  }

  chatStream(messages: readonly VlmMessage[], options: AskOptions = {}): Generation {
    return deferred(
      this.prepare(messages, options).then((chunks) => {
        const generation = this.llm.engine.submit(chunks, options);
        options.onSubmitted?.();
        return generation;
      }),
    );
  }

  private async prepare(messages: readonly VlmMessage[], options: AskOptions) {
    const images: ImageInput[] = [];
    const chat: ChatMessage[] = messages.map((m) => ({
      role: m.role,
      content:
        typeof m.content === "string"
          ? m.content
          : m.content.map((p) => {
              if (p.type === "text") return p;
              images.push(p.image);
              return { type: "image" as const };
            }),
    }));
    const embeddings = await this.embedImages(images, { image: options.image, signal: options.signal });
    const width = this.llm.identity.nEmbd;
    const imageTokens = embeddings.map((e) => e.length / width);
    const card = this.adapter.card;
    let plan: PromptPlan;
    if (card.prompt.style === "paligemma") {
      if (chat.some((m) => m.role === "assistant")) {
        throw new InvalidArgumentError(
          `adapter ${this.adapter.dir} uses the PaliGemma prompt, which answers single questions; send one user message`,
        );
      }
      const prefix = chat
        .filter((m) => m.role !== "assistant")
        .flatMap((m) =>
          typeof m.content === "string"
            ? [m.content]
            : m.content.flatMap((p) => (p.type === "text" ? [p.text] : [])),
        )
        .join("\n");
      plan = paligemmaPrompt({ prefix, imageTokens, attention: card.attention });
    } else {
      if (card.attention === "prefix-lm")
        throw new InvalidArgumentError("gemma-chat prompts cannot use prefix-lm attention");
      plan = gemmaChatPrompt({ messages: chat, imageTokens, attention: card.attention });
    }
    return assembleChunks(plan, embeddings, this.llm);
  }

  async dispose(): Promise<void> {
    if (this.owns.encoder) await this.encoder.dispose();
    if (this.owns.llm) await this.llm.dispose();
  }
}

/** A Generation whose submission is still being prepared (images encoding). */
function deferred(pending: Promise<Generation>): Generation {
  pending.catch(() => {}); // observed through `result` or the iterator
  const result = pending.then((g) => g.result);
  result.catch(() => {});
  return {
    result,
    async *[Symbol.asyncIterator]() {
      yield* await pending;
    },
  };
}
