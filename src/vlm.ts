/**
 * A vision-language model assembled from three parts: a SigLIP / SigLIP 2 vision encoder (ONNX), a
 * linear adapter, and a Gemma-style LLM (GGUF). It composes the stages and reimplements none:
 *
 *   images ─ VisionEncoder ─▶ patches [N, Dv] ─ adapter (any kind) ─▶ [M, Dl] × runtime factor
 *          ─ prompt builder (card's style and attention) ─ assembleChunks ─▶ GenerationEngine ─▶ text
 */
import { checkCompatibility, type LoadedAdapter, loadAdapter } from "./adapter/index.js";
import type { EncodeOptions, ImageInput, SessionOptions } from "./encoders/index.js";
import { VisionEncoder } from "./encoders/index.js";
import type { LoadImageOptions } from "./image/index.js";
import type { GenerateOptions, Generation, GenerationResult } from "./llm/engine.js";
import { Llm, type LlmOptions } from "./llm/llm.js";
import { buildPrompt, type ChatMessage, checkPrompt, type PromptRequest } from "./prompt/index.js";
import { assembleChunks } from "./vlm/assemble.js";
import { encoderId } from "./vlm/encoder-id.js";

export interface VlmLoadOptions {
  /** Encoder directory (public ONNX export layout), or a loaded encoder. */
  encoder: string | VisionEncoder;
  /**
   * Adapter directory holding `adapter.json` + `adapter.safetensors`, or an adapter already in memory
   * with its card (what `loadAdapter` or `adapterWithCard` return), which stays the caller's. Either
   * way the card is checked against the encoder and LLM.
   */
  adapter: string | LoadedAdapter;
  /** GGUF path, or a loaded `Llm` to share between adapters. */
  llm: string | Llm;
  /** Encoder session options (dtype, threads, providers). */
  encoderOptions?: SessionOptions;
  /** LLM options when `llm` is a path (context size, sequences, GPU layers). */
  llmOptions?: LlmOptions;
}

/**
 * A chat message. Images go in content parts, in the order they appear; or, with string content, in
 * `images` (as Ollama messages carry them): placed at the text's `<image>` placeholders (as many as
 * there are images), or before the text when it has none.
 */
export interface VlmMessage {
  role: "system" | "user" | "assistant";
  content: string | ReadonlyArray<{ type: "text"; text: string } | { type: "image"; image: ImageInput }>;
  /** String content only: the message's images. Default none. */
  images?: readonly ImageInput[];
}

export interface AskOptions extends GenerateOptions {
  /** How image sources are read (remote URLs, limits). Default: local files and data: URLs. */
  image?: LoadImageOptions;
}

/** What `stream` and `chatStream` return: the generation, and when it reached the LLM's queue. */
export interface VlmGeneration extends Generation {
  /**
   * Settles once the images are encoded and the request is queued for generation (the encoder is
   * free again); rejects with the error that stopped it before (bad prompt, image, abort, overflow).
   */
  readonly submitted: Promise<void>;
}

export class Vlm {
  private constructor(
    readonly encoder: VisionEncoder,
    readonly adapter: LoadedAdapter,
    readonly llm: Llm,
    private readonly owns: { encoder: boolean; llm: boolean; adapter: boolean },
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
      const expected = {
        expectEncoder: { id: encoderId(encoder.dir), hidden: encoder.hiddenSize },
        expectLlm: llm.identity,
      };
      let adapter: LoadedAdapter;
      if (typeof options.adapter === "string") adapter = await loadAdapter(options.adapter, expected);
      else {
        adapter = options.adapter;
        checkCompatibility(adapter.card, expected, adapter.dir);
      }
      return new Vlm(encoder, adapter, llm, {
        encoder: ownsEncoder,
        llm: ownsLlm,
        adapter: typeof options.adapter === "string",
      });
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
      const y = (await this.adapter.projection.apply(f.patches, f.grid)).data; // [N, Dv] → [M, Dl]
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
   * marks where each image goes (their number must match); without any, images come first. The
   * question is laid out exactly as a training example with this prompt is.
   *
   * @example
   * ```ts
   * const generation = vlm.stream(["cat.jpg"], "describe it", { signal: AbortSignal.timeout(30_000) });
   * for await (const delta of generation) process.stdout.write(delta);
   * const { usage } = await generation.result;
   * ```
   */
  stream(images: readonly ImageInput[], question: string, options: AskOptions = {}): VlmGeneration {
    return this.#generate([{ role: "user", content: question }], images, options);
  }

  /** A multi-turn conversation (Gemma-chat adapters); the answer to the last user message. */
  chat(messages: readonly VlmMessage[], options: AskOptions = {}): Promise<GenerationResult> {
    return this.chatStream(messages, options).result;
  }

  chatStream(messages: readonly VlmMessage[], options: AskOptions = {}): VlmGeneration {
    const images: ImageInput[] = [];
    const chat = messages.map((m): ChatMessage => {
      if (typeof m.content === "string") {
        if (m.images === undefined) return { role: m.role, content: m.content };
        images.push(...m.images);
        return { role: m.role, content: m.content, images: m.images.length };
      }
      const content = m.content.map((p) => {
        if (p.type === "text") return p;
        images.push(p.image);
        return { type: "image" as const };
      });
      return { role: m.role, content };
    });
    return this.#generate(chat, images, options);
  }

  /** Checks the prompt, encodes the images, builds the plan and submits it to the LLM's engine. */
  #generate(messages: ChatMessage[], images: readonly ImageInput[], options: AskOptions): VlmGeneration {
    const card = this.adapter.card;
    const request: Omit<PromptRequest, "imageTokens"> = {
      style: card.prompt.style,
      attention: card.attention,
      messages,
    };
    const pending = (async () => {
      checkPrompt(request, images.length); // before any image is read or encoded
      const embeddings = await this.embedImages(images, { image: options.image, signal: options.signal });
      const width = this.llm.identity.nEmbd;
      const plan = buildPrompt({ ...request, imageTokens: embeddings.map((e) => e.length / width) });
      const chunks = await assembleChunks(plan, embeddings, this.llm);
      return this.llm.engine.submit(chunks, options);
    })();
    return deferred(pending);
  }

  async dispose(): Promise<void> {
    if (this.owns.adapter) await this.adapter.projection.dispose();
    if (this.owns.encoder) await this.encoder.dispose();
    if (this.owns.llm) await this.llm.dispose();
  }
}

/** A Generation whose submission is still being prepared (images encoding). */
function deferred(pending: Promise<Generation>): VlmGeneration {
  const submitted = pending.then(() => {});
  submitted.catch(() => {}); // observed through `result` or the iterator
  const result = pending.then((g) => g.result);
  result.catch(() => {});
  return {
    submitted,
    result,
    async *[Symbol.asyncIterator]() {
      yield* await pending;
    },
  };
}
