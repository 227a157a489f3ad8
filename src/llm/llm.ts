/**
 * A GGUF language model ready to generate: the llama.cpp model and its one shared context (several
 * sequences, continuous batching through `GenerationEngine`), plus what the VLM side needs from the
 * file — the identity adapters are checked against and token-embedding rows for prefix-LM blocks.
 * Load it once per process; every adapter on the same LLM shares it.
 */

import { embeddingScaleFor } from "./embedding-scale.js";
import { type EngineOptions, GenerationEngine } from "./engine.js";
import { GgufReader } from "./gguf-read.js";
import { type LlmIdentity, vocabFingerprint } from "./identity.js";
import { type NativeContextOptions, NativeModel, type NativeModelOptions } from "./native.js";

export interface LlmOptions extends NativeModelOptions, EngineOptions {
  /** KV-cache positions shared by all sequences. Default 4096. */
  contextSize?: number;
  /** Requests decoded at the same time. Default 1 (a server passes more). */
  sequences?: number;
  /** Most rows per decode; also bounds a bidirectional (image or prefix-LM) block. Default 512. */
  batchSize?: number;
  /** CPU threads. Default physical cores. */
  threads?: number;
  /** ggml's compute threads (NativeContextOptions.threadpool). Default a persistent pool that never spins idle. */
  threadpool?: NativeContextOptions["threadpool"];
}

export class Llm {
  private constructor(
    readonly path: string,
    readonly model: NativeModel,
    readonly engine: GenerationEngine,
    readonly identity: Required<Omit<LlmIdentity, "name">> & { name: string },
    private readonly gguf: GgufReader,
  ) {}

  /**
   * Loads a GGUF and creates its one shared context. Load an LLM once per process and pass it to
   * every `Vlm` that uses it; whoever loads it disposes it.
   *
   * @example
   * ```ts
   * import { Llm, Vlm } from "vlmkit";
   *
   * const llm = await Llm.load("models/demo/gemma3.gguf", { contextSize: 4096, sequences: 4 });
   * const vlm = await Vlm.load({ encoder: "models/demo/siglip2", adapter: "models/demo/adapter", llm });
   * // ... vlm.ask(...) from several callers at once: decoded together ...
   * await vlm.dispose(); // frees the encoder it loaded, not `llm`
   * await llm.dispose();
   * ```
   */
  static async load(path: string, options: LlmOptions = {}): Promise<Llm> {
    const model = await NativeModel.load(path, options);
    let gguf: GgufReader | undefined;
    try {
      gguf = await GgufReader.open(path);
      const meta = gguf.info.metadata as unknown as {
        general?: { architecture?: string; name?: string };
        tokenizer?: { ggml?: { tokens?: readonly string[] } };
      };
      const batchSize = options.batchSize ?? 512;
      const context = model.createContext({
        contextSize: options.contextSize ?? 4096,
        sequences: options.sequences ?? 1,
        batchSize,
        ubatchSize: batchSize,
        threads: options.threads,
        threadpool: options.threadpool,
      });
      const identity = {
        architecture: meta.general?.architecture ?? model.info.architecture,
        nEmbd: model.info.nEmbd,
        nVocab: model.info.nVocab,
        vocabFingerprint: vocabFingerprint(meta.tokenizer?.ggml?.tokens ?? []),
        name: meta.general?.name ?? path,
      };
      return new Llm(path, model, new GenerationEngine(model, context, options), identity, gguf);
    } catch (error) {
      await gguf?.close();
      model.dispose();
      throw error;
    }
  }

  /**
   * Token ids → their input vectors in the adapter's space (the scaled token-embedding space, docs/dev.md#terminology),
   * times the factor llama.cpp needs for raw embeddings of this architecture — so feeding them as
   * embeddings is the same as feeding the tokens. [n] → [n, n_embd]
   */
  async tokenEmbeddings(ids: ArrayLike<number>): Promise<Float32Array> {
    const rows = await this.gguf.readRows("token_embd.weight", Array.from(ids));
    // llama.cpp scales by sqrtf(n_embd) in float32; Math.fround keeps the rows bit-identical to its own.
    const factor = Math.fround(
      Math.fround(Math.sqrt(this.identity.nEmbd)) *
        embeddingScaleFor(this.identity.architecture, this.identity.nEmbd),
    );
    const data = rows.data;
    for (let i = 0; i < data.length; i++) data[i] *= factor;
    return data;
  }

  /** Fails requests still running (UNAVAILABLE), then frees the context, the model and the file. */
  async dispose(): Promise<void> {
    await this.engine.close();
    this.model.dispose();
    await this.gguf.close();
  }
}
