/**
 * Typed access to llama.cpp at its own level — models, contexts with several sequences, decode of
 * token **or input-embedding** batches, logits, KV-cache sequence operations, sampler chains —
 * through vlmkit's addon (`native/`). node-llama-cpp loads the library; this module adds what it
 * lacks. Policy (prompt layout, scheduling, generation loops) belongs to the callers.
 */
import { defaultThreads } from "../env.js";
import { InvalidArgumentError, ShapeError, throwIfAborted, VlmkitError } from "../errors.js";
import type { Tensor } from "../tensor.js";
import { warnOnce } from "../util/warn.js";
import { checkGgufFile } from "./gguf-check.js";
import {
  type AddonContext,
  type AddonContextInfo,
  type AddonModel,
  type AddonModelInfo,
  type AddonSampler,
  type AddonSamplerStage,
  awaitNative,
  callNative,
  loadNativeLlama,
  type NativeLlama,
  type NativeLlamaOptions,
} from "./native-addon.js";

export type { AddonSamplerStage as SamplerStage, NativeLlamaOptions } from "./native-addon.js";
export { addonPath, loadNativeLlama } from "./native-addon.js";

export interface NativeModelOptions extends NativeLlamaOptions {
  /** Layers to offload to the GPU; -1 = all. Default: all when node-llama-cpp loaded a GPU build, else 0. */
  gpuLayers?: number;
  /** Memory-map the GGUF instead of reading it. Default true. */
  useMmap?: boolean;
}

/** What a loaded model reports; token ids are -1 where the vocabulary has no such token. */
export type NativeModelInfo = AddonModelInfo;

export interface TokenizeOptions {
  /** Add the tokens the model adds by itself (e.g. `<bos>`). Default false: prompt builders place them. */
  addSpecial?: boolean;
  /** Turn special-token text such as `<start_of_turn>` into those tokens. Default false, so user text cannot inject them. */
  parseSpecial?: boolean;
}

export interface DetokenizeOptions {
  /** Drop a leading `<bos>` / trailing `<eos>` the model would add. Default false. */
  removeSpecial?: boolean;
  /** Render control tokens as their text (`<end_of_turn>`). Default false: they render as "". */
  renderSpecial?: boolean;
}

export interface NativeContextOptions {
  /** KV-cache size in positions, shared by all sequences (llama.cpp rounds it up to 256). Default 4096. */
  contextSize?: number;
  /** Most rows one decode may hold. Default min(contextSize, 512). */
  batchSize?: number;
  /** Rows llama.cpp computes at once; a non-causal (image) batch must fit in one. Default batchSize. */
  ubatchSize?: number;
  /** Independent sequences (parallel requests). Default 1. */
  sequences?: number;
  /** CPU threads. Default `defaultThreads()` (physical cores; more makes decode far slower). */
  threads?: number;
  /** Flash attention. Default "auto". */
  flashAttention?: "auto" | "on" | "off";
  /**
   * One KV buffer for all sequences: each sequence may use the whole `contextSize` and `seqCopy` may
   * share a prefix range. When false, each gets contextSize / sequences positions and only whole
   * sequences can be copied. Default true.
   */
  kvUnified?: boolean;
  /**
   * ggml's CPU compute threads. Default `{ poll: 0 }`: a threadpool owned by the context, started once
   * and reused by every decode; between decodes its workers sleep at once (`poll` is ggml's polling
   * level, 0–100: how long they spin for new work first — spinning turns a busy machine's
   * oversubscription into a collapse). `false`: ggml starts and joins `threads - 1` threads for every
   * graph (node-llama-cpp's behaviour). docs/runtime.md has the measurements.
   */
  threadpool?: false | { poll?: number };
}

export type NativeContextInfo = AddonContextInfo;

/** Which rows of a batch produce logits. */
export type LogitsRows = "last" | "all" | "none" | readonly number[];

export interface DecodeOptions {
  /** Stops the decode (CPU backend: within one graph node); it then rejects with ABORTED. */
  signal?: AbortSignal;
}

export interface DecodeBatch {
  /** Token ids, one per row. Exactly one of `tokens` and `embeddings`. */
  tokens?: ArrayLike<number>;
  /**
   * Input embeddings, row-major `[n, nEmbdInp]` (a Float32Array or a Tensor of those dims), fed to the
   * model as is: llama.cpp's gemma3 scales token embeddings by √n_embd but not these.
   */
  embeddings?: Float32Array | Tensor;
  /** Position of each row, or the first position of consecutive rows. Default: right after the sequence's KV cache. */
  positions?: ArrayLike<number> | number;
  /** Sequence of each row, or one sequence for all rows. Default 0. */
  seqIds?: ArrayLike<number> | number;
  /** Rows whose logits are kept, as batch indices. Default "last". */
  logits?: LogitsRows;
  /** Causal attention; false lets the rows attend to each other (an image block). Default true. */
  causal?: boolean;
}

/** A GGUF model loaded by llama.cpp. */
export class NativeModel {
  readonly info: NativeModelInfo;
  readonly #native: NativeLlama;
  readonly #model: AddonModel;
  readonly #children = new Set<NativeContext | NativeSampler>();

  private constructor(native: NativeLlama, model: AddonModel) {
    this.#native = native;
    this.#model = model;
    this.info = callNative(() => model.info());
  }

  /**
   * Loads node-llama-cpp (first call only) and the addon, then the GGUF at `path` — after checking
   * the file's structure against its size (`checkGgufFile`), so a malformed file is refused with a
   * ModelFormatError before llama.cpp's loader sees it.
   */
  static async load(path: string, options: NativeModelOptions = {}): Promise<NativeModel> {
    checkGgufFile(path);
    const native = await loadNativeLlama(options);
    let gpuLayers = options.gpuLayers ?? (native.llama.gpu === false ? 0 : -1);
    if (gpuLayers !== 0 && native.llama.gpu === false) {
      // Asked for GPU layers on a CPU-only node-llama-cpp build: run them on the CPU, and say how to get a GPU build.
      warnOnce(
        "llama-gpu",
        `node-llama-cpp loaded a CPU-only llama.cpp here, so the ${gpuLayers === -1 ? "" : `${gpuLayers} `}GPU layers run on the CPU. ` +
          "For CUDA: install the CUDA 12 runtime that node-llama-cpp's prebuilt @node-llama-cpp/linux-x64-cuda needs, " +
          "or build one with `npx --no node-llama-cpp source download --gpu cuda`; `npx --no node-llama-cpp inspect gpu` shows what it detects",
      );
      gpuLayers = 0;
    }
    const model = await awaitNative(() =>
      native.addon.loadModel(path, { gpuLayers, useMmap: options.useMmap ?? true }),
    );
    return new NativeModel(native, model);
  }

  /** The node-llama-cpp instance that loaded libllama. */
  get llama(): NativeLlama["llama"] {
    return this.#native.llama;
  }

  get disposed(): boolean {
    return this.#model.disposed;
  }

  tokenize(text: string, options: TokenizeOptions = {}): Int32Array {
    return callNative(() =>
      this.#model.tokenize(text, options.addSpecial ?? false, options.parseSpecial ?? false),
    );
  }

  detokenize(tokens: ArrayLike<number>, options: DetokenizeOptions = {}): string {
    const ids = toInt32Array(tokens, "tokens");
    return callNative(() =>
      this.#model.detokenize(ids, options.removeSpecial ?? false, options.renderSpecial ?? false),
    );
  }

  /** The token's string in the vocabulary, e.g. "▁cat" or "<0x0A>". */
  tokenText(token: number): string {
    return callNative(() => this.#model.tokenText(token));
  }

  /** The bytes a token renders to; byte tokens may hold part of a UTF-8 character. */
  tokenPiece(token: number, options: { renderSpecial?: boolean } = {}): Uint8Array {
    return callNative(() => this.#model.tokenPiece(token, options.renderSpecial ?? false));
  }

  /** End of generation: `<eos>`, `<end_of_turn>` and the other tokens llama.cpp treats so. */
  isEndOfGeneration(token: number): boolean {
    return callNative(() => this.#model.isEog(token));
  }

  isControl(token: number): boolean {
    return callNative(() => this.#model.isControl(token));
  }

  createContext(options: NativeContextOptions = {}): NativeContext {
    const contextSize = options.contextSize ?? 4096;
    const batchSize = options.batchSize ?? Math.min(contextSize, 512);
    const resolved = {
      contextSize,
      batchSize,
      ubatchSize: options.ubatchSize ?? batchSize,
      sequences: options.sequences ?? 1,
      threads: options.threads ?? defaultThreads(),
      flashAttention: options.flashAttention ?? "auto",
      kvUnified: options.kvUnified ?? true,
      threadpoolPoll: options.threadpool === false ? -1 : (options.threadpool?.poll ?? 0),
    };
    const raw = callNative(() => new this.#native.addon.NativeContext(this.#model, resolved));
    const context = new NativeContext(this, raw, () => this.#children.delete(context));
    this.#children.add(context);
    return context;
  }

  /** A sampler chain from options (see SamplerOptions), or from explicit llama.cpp stages. */
  createSampler(options: SamplerOptions | readonly AddonSamplerStage[] = {}): NativeSampler {
    const stages = Array.isArray(options) ? [...options] : samplerStages(options as SamplerOptions);
    const raw = callNative(() => new this.#native.addon.NativeSampler(this.#model, stages));
    const sampler = new NativeSampler(raw, () => this.#children.delete(sampler));
    this.#children.add(sampler);
    return sampler;
  }

  /** Disposes the model's contexts and samplers, then the model. A running decode finishes first. */
  dispose(): void {
    for (const child of [...this.#children]) child.dispose();
    this.#model.dispose();
  }
}

/** A llama.cpp context: KV cache for `sequences` sequences, decode, logits. */
export class NativeContext {
  readonly model: NativeModel;
  readonly info: NativeContextInfo;
  readonly #raw: AddonContext;
  readonly #onDispose: () => void;
  #decoding: Promise<void> | undefined;
  #threads: number;

  /** @internal created by NativeModel.createContext */
  constructor(model: NativeModel, raw: AddonContext, onDispose: () => void) {
    this.model = model;
    this.#raw = raw;
    this.#onDispose = onDispose;
    this.info = callNative(() => raw.info());
    this.#threads = this.info.threads;
  }

  get disposed(): boolean {
    return this.#raw.disposed;
  }

  /** A decode is running; every other call on this context is refused until it settles. */
  get busy(): boolean {
    return this.#decoding !== undefined;
  }

  /**
   * Decodes one batch off the JS thread. Rejects (never aborts the process) on any invalid input:
   * token ids outside the vocabulary, embedding width ≠ nEmbdInp, sequence ids ≥ sequences, more rows
   * than batchSize, a non-causal batch larger than ubatchSize, positions that do not continue the
   * sequence, positions beyond the context (CONTEXT_OVERFLOW), a full KV cache (CONTEXT_OVERFLOW),
   * a second decode while one runs (BUSY), a disposed context (DISPOSED). `signal` stops the decode
   * inside llama.cpp (ABORTED); rows of ubatches already computed then stay in the KV cache.
   */
  decode(batch: DecodeBatch, options: DecodeOptions = {}): Promise<void> {
    if (this.#decoding) {
      return Promise.reject(
        new VlmkitError("BUSY", "a decode is already running on this context; await it before the next one"),
      );
    }
    const { signal } = options;
    let raw: Promise<void>;
    try {
      throwIfAborted(signal);
      raw = this.#raw.decode(this.#toAddonBatch(batch));
    } catch (error) {
      return awaitNative(() => Promise.reject(error));
    }
    const onAbort = () => this.#raw.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    const running = awaitNative(() => raw).finally(() => {
      signal?.removeEventListener("abort", onAbort);
      this.#decoding = undefined;
    });
    this.#decoding = running;
    return running;
  }

  /** Logits `[nVocab]` of batch row `row` of the last decode (a row that asked for them). */
  logits(row: number): Float32Array {
    return callNative(() => this.#raw.logits(row));
  }

  /**
   * Removes positions [p0, p1) of `seq` from the KV cache (-1 = open end; seq -1 = all sequences).
   * Returns false when llama.cpp cannot cut part of a sequence (sliding-window layers); removing a
   * whole sequence always succeeds.
   */
  seqRemove(seq: number, p0 = -1, p1 = -1): boolean {
    return callNative(() => this.#raw.seqRemove(seq, p0, p1));
  }

  /** Makes `dst` share `src`'s cached positions [p0, p1) (a common prefix, computed once). */
  seqCopy(src: number, dst: number, p0 = -1, p1 = -1): void {
    callNative(() => this.#raw.seqCopy(src, dst, p0, p1));
  }

  /** Drops every sequence but `seq`. */
  seqKeep(seq: number): void {
    callNative(() => this.#raw.seqKeep(seq));
  }

  /** Smallest cached position of `seq`, -1 when empty. */
  seqPosMin(seq: number): number {
    return callNative(() => this.#raw.seqPosMin(seq));
  }

  /** Largest cached position of `seq`, -1 when empty; the next row of `seq` goes at seqPosMax + 1. */
  seqPosMax(seq: number): number {
    return callNative(() => this.#raw.seqPosMax(seq));
  }

  /** Empties the KV cache of every sequence. */
  clear(): void {
    callNative(() => this.#raw.clear());
  }

  /**
   * The compute threads of the following decodes: 1 to `info.threads`, the count the context was
   * created with. Not while a decode is running (BUSY).
   */
  setThreads(threads: number): void {
    callNative(() => this.#raw.setThreads(threads));
    this.#threads = threads;
  }

  /** The compute threads decodes use now (`info.threads` unless `setThreads` lowered them). */
  get threads(): number {
    return this.#threads;
  }

  /** @internal the addon handle, for samplers */
  get raw(): AddonContext {
    return this.#raw;
  }

  /** Frees the context; a running decode completes first (its promise still settles). */
  dispose(): void {
    this.#raw.dispose();
    this.#onDispose();
  }

  #toAddonBatch(batch: DecodeBatch) {
    if (this.#raw.disposed) throw new VlmkitError("DISPOSED", "the context has been disposed");
    const { tokens, embeddings } = batch;
    if ((tokens === undefined) === (embeddings === undefined)) {
      throw new InvalidArgumentError("a batch needs exactly one of tokens or embeddings");
    }
    let ids: Int32Array | undefined;
    let embd: Float32Array | undefined;
    let n: number;
    if (tokens !== undefined) {
      ids = toInt32Array(tokens, "tokens");
      n = ids.length;
    } else {
      const width = this.model.info.nEmbdInp;
      if (embeddings instanceof Float32Array) {
        embd = embeddings;
      } else if (embeddings && "dims" in embeddings) {
        // [n, nEmbdInp] → rows of the batch
        const dims = embeddings.dims;
        if (dims.length !== 2 || dims[1] !== width) {
          throw new ShapeError(`embeddings have dims [${dims.join(", ")}], expected [n, ${width}]`);
        }
        embd = embeddings.data;
      } else {
        throw new InvalidArgumentError("embeddings must be a Float32Array or a Tensor");
      }
      if (embd.length % width !== 0) {
        throw new ShapeError(`embeddings hold ${embd.length} values, not a multiple of nEmbdInp ${width}`);
      }
      n = embd.length / width;
    }
    const seqIds =
      typeof batch.seqIds === "number" || batch.seqIds === undefined
        ? new Int32Array(n).fill(batch.seqIds ?? 0)
        : toInt32Array(batch.seqIds, "seqIds");
    let positions: Int32Array;
    if (typeof batch.positions === "number" || batch.positions === undefined) {
      const start = batch.positions ?? (seqIds.length > 0 ? this.seqPosMax(seqIds[0]) + 1 : 0);
      if (batch.positions === undefined && seqIds.some((s) => s !== seqIds[0])) {
        throw new InvalidArgumentError("a batch over several sequences needs explicit positions");
      }
      positions = Int32Array.from({ length: n }, (_, i) => start + i);
    } else {
      positions = toInt32Array(batch.positions, "positions");
    }
    return {
      tokens: ids,
      embeddings: embd,
      positions,
      seqIds,
      logits: logitsMask(batch.logits ?? "last", n),
      causal: batch.causal ?? true,
    };
  }
}

export interface SamplerOptions {
  /** Softmax temperature; 0 picks the most likely token (greedy). Default 0. */
  temperature?: number;
  /** Keep the k most likely tokens; 0 disables. Default 40 (ignored when greedy). */
  topK?: number;
  /** Nucleus sampling threshold; 1 disables. Default 0.95 (ignored when greedy). */
  topP?: number;
  /** Drop tokens below minP × the top probability; 0 disables. Default 0.05 (ignored when greedy). */
  minP?: number;
  /** Repetition penalty > 1 discourages recent tokens; 1 disables. Default 1. */
  repeatPenalty?: number;
  /** How many recent tokens the penalties look at, at most 2²⁰ (`GenerationEngine` maps -1 to its context size). Default 64. */
  repeatLastN?: number;
  /** Frequency penalty (OpenAI-style); 0 disables. Default 0. */
  frequencyPenalty?: number;
  /** Presence penalty (OpenAI-style); 0 disables. Default 0. */
  presencePenalty?: number;
  /** Seed of the random choice; the same seed and inputs give the same tokens. Default random. */
  seed?: number;
}

/** The llama.cpp chain for `options`, in llama.cpp's default order: penalties, top-k, top-p, min-p, temperature, choice. */
export function samplerStages(options: SamplerOptions): AddonSamplerStage[] {
  const stages: AddonSamplerStage[] = [];
  const repeat = options.repeatPenalty ?? 1;
  const frequency = options.frequencyPenalty ?? 0;
  const presence = options.presencePenalty ?? 0;
  if (repeat !== 1 || frequency !== 0 || presence !== 0) {
    stages.push({ type: "penalties", lastN: options.repeatLastN ?? 64, repeat, frequency, presence });
  }
  const temperature = options.temperature ?? 0;
  if (temperature <= 0) {
    stages.push({ type: "greedy" });
    return stages;
  }
  const topK = options.topK ?? 40;
  const topP = options.topP ?? 0.95;
  const minP = options.minP ?? 0.05;
  if (topK > 0) stages.push({ type: "topK", k: topK });
  if (topP < 1) stages.push({ type: "topP", p: topP });
  if (minP > 0) stages.push({ type: "minP", p: minP });
  stages.push({ type: "temperature", temperature });
  // 0xFFFFFFFF is LLAMA_DEFAULT_SEED: llama.cpp picks a random seed.
  stages.push({ type: "dist", seed: options.seed ?? 0xffffffff });
  return stages;
}

/** A llama.cpp sampler chain. */
export class NativeSampler {
  readonly #raw: AddonSampler;
  readonly #onDispose: () => void;

  /** @internal created by NativeModel.createSampler */
  constructor(raw: AddonSampler, onDispose: () => void) {
    this.#raw = raw;
    this.#onDispose = onDispose;
  }

  get disposed(): boolean {
    return this.#raw.disposed;
  }

  /** Picks a token from the logits of `row` of the context's last decode, and records it (penalties). */
  sample(context: NativeContext, row: number): number {
    return callNative(() => this.#raw.sample(context.raw, row));
  }

  /** Records tokens the model did not sample (the prompt), for repetition penalties. */
  accept(tokens: ArrayLike<number> | number): void {
    const list = typeof tokens === "number" ? [tokens] : Array.from(tokens);
    callNative(() => {
      for (const t of list) this.#raw.accept(t);
    });
  }

  /** Forgets the recorded tokens (new request). */
  reset(): void {
    callNative(() => this.#raw.reset());
  }

  dispose(): void {
    this.#raw.dispose();
    this.#onDispose();
  }
}

function toInt32Array(values: ArrayLike<number>, name: string): Int32Array {
  if (values instanceof Int32Array) return values;
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) {
      throw new InvalidArgumentError(`${name}[${i}] = ${v} is not a 32-bit integer`);
    }
    out[i] = v;
  }
  return out;
}

function logitsMask(rows: LogitsRows, n: number): Uint8Array {
  const mask = new Uint8Array(n);
  if (rows === "all") mask.fill(1);
  else if (rows === "last") mask[n - 1] = 1;
  else if (rows !== "none") {
    for (const r of rows) {
      if (!Number.isInteger(r) || r < 0 || r >= n) {
        throw new InvalidArgumentError(`logits row ${r} is not a row of this ${n}-row batch`);
      }
      mask[r] = 1;
    }
  }
  return mask;
}
