/**
 * Generation over one llama.cpp context with several sequences, shared by every request for one LLM.
 * Requests are scheduled onto free sequences and decoded together (continuous batching): each step
 * puts the next token of every generating request, and the prompt tokens of requests being prefilled,
 * into one batch. Embedding chunks (image blocks) are decoded as their own batches because attention
 * mode is per batch. `Vlm.ask` and the HTTP server both go through this one path.
 */
import { AbortError, InvalidArgumentError, VlmkitError } from "../errors.js";
import type { NativeContext, NativeModel, NativeSampler, SamplerOptions } from "./native.js";
import { TextStream } from "./text-stream.js";

/** A run of prompt rows: token ids, or input embeddings [rows, n_embd] decoded causally or not. */
export type PromptChunk =
  | { kind: "tokens"; tokens: Int32Array }
  | { kind: "embeddings"; data: Float32Array; rows: number; causal: boolean };

export interface GenerateOptions {
  /** Sampling; default greedy (temperature 0). */
  sampling?: SamplerOptions;
  /** Most tokens to generate. Default 256 (and never more than the context has room for). */
  maxTokens?: number;
  /** Generation ends before any of these strings; they are not part of the text. Default none. */
  stop?: readonly string[];
  /** Aborting frees the request's sequence at once; the result rejects with AbortError. */
  signal?: AbortSignal;
}

export type FinishReason = "stop" | "length";

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export interface Timings {
  /** Waiting for a free sequence. */
  queuedMs: number;
  /** From admission to the first generated token. */
  prefillMs: number;
  /** From the first to the last generated token. */
  decodeMs: number;
  /** Generated tokens per second during decode. */
  tokensPerSecond: number;
}

export interface GenerationResult {
  text: string;
  finishReason: FinishReason;
  usage: Usage;
  timings: Timings;
}

export interface EngineOptions {
  /** Requests waiting for a sequence beyond which `submit` throws BUSY. Default 64. */
  maxQueue?: number;
}

/** A running request: iterate it for text deltas; `result` settles when it ends. */
export interface Generation extends AsyncIterable<string> {
  readonly result: Promise<GenerationResult>;
}

interface Job {
  chunks: PromptChunk[];
  chunk: number;
  /** Offset inside the current token chunk (long chunks are split across steps). */
  offset: number;
  promptRows: number;
  reserve: number;
  maxTokens: number;
  seq: number;
  pos: number;
  lastToken: number;
  generated: number;
  text: string;
  stream: TextStream;
  sampling: SamplerOptions;
  sampler?: NativeSampler;
  signal?: AbortSignal;
  deltas: string[];
  wake?: () => void;
  ended: boolean;
  error?: unknown;
  finish?: FinishReason;
  t: { submit: number; admit: number; first: number; last: number };
  resolve: (r: GenerationResult) => void;
  reject: (e: unknown) => void;
}

export class GenerationEngine {
  readonly #model: NativeModel;
  readonly #ctx: NativeContext;
  readonly #maxQueue: number;
  readonly #free: number[];
  readonly #waiting: Job[] = [];
  readonly #active = new Set<Job>();
  #reserved = 0;
  #loop?: Promise<void>;
  /** Requests whose rows are in the decode that is running. */
  #inFlight: Job[] = [];

  constructor(model: NativeModel, context: NativeContext, options: EngineOptions = {}) {
    this.#model = model;
    this.#ctx = context;
    this.#maxQueue = options.maxQueue ?? 64;
    this.#free = Array.from({ length: context.info.sequences }, (_, i) => i);
  }

  get context(): NativeContext {
    return this.#ctx;
  }

  /** Requests being decoded and waiting. */
  get load(): { active: number; queued: number } {
    return { active: this.#active.size, queued: this.#waiting.length };
  }

  /** Positions a request may use in total (prompt + generated). */
  get capacity(): number {
    const { contextSize, sequences, kvUnified } = this.#ctx.info;
    return kvUnified ? contextSize : Math.floor(contextSize / sequences);
  }

  /** Checks and queues a request; throws at once for requests that can never run. */
  submit(chunks: readonly PromptChunk[], options: GenerateOptions = {}): Generation {
    const { ubatchSize } = this.#ctx.info;
    const nVocab = this.#model.info.nVocab;
    const width = this.#model.info.nEmbdInp;
    let promptRows = 0;
    for (const [i, c] of chunks.entries()) {
      if (c.kind === "tokens") {
        for (const t of c.tokens) {
          if (t < 0 || t >= nVocab)
            throw new InvalidArgumentError(
              `prompt chunk ${i}: token id ${t} is outside the vocabulary [0, ${nVocab})`,
            );
        }
        promptRows += c.tokens.length;
      } else {
        if (c.data.length !== c.rows * width) {
          throw new InvalidArgumentError(
            `prompt chunk ${i}: ${c.data.length} values for ${c.rows} rows of width ${width}`,
          );
        }
        if (!c.causal && c.rows > ubatchSize) {
          throw new VlmkitError(
            "CONTEXT_OVERFLOW",
            `prompt chunk ${i}: a bidirectional block of ${c.rows} rows exceeds the context's ubatch size ${ubatchSize}; create the context with a larger ubatchSize`,
          );
        }
        promptRows += c.rows;
      }
    }
    if (promptRows === 0) throw new InvalidArgumentError("the prompt is empty");
    const room = this.capacity - promptRows;
    if (room < 1) {
      throw new VlmkitError(
        "CONTEXT_OVERFLOW",
        `the prompt takes ${promptRows} positions but a request may use at most ${this.capacity}`,
      );
    }
    const maxTokens = options.maxTokens ?? Math.min(256, room);
    if (!Number.isInteger(maxTokens) || maxTokens < 1) {
      throw new InvalidArgumentError(`maxTokens ${maxTokens} must be a positive integer`);
    }
    if (maxTokens > room) {
      throw new VlmkitError(
        "CONTEXT_OVERFLOW",
        `maxTokens ${maxTokens} plus a ${promptRows}-position prompt exceeds the ${this.capacity} positions a request may use (at most ${room} here)`,
      );
    }
    if (this.#waiting.length >= this.#maxQueue) {
      throw new VlmkitError("BUSY", `${this.#waiting.length} requests are already waiting; try again later`);
    }
    options.signal?.throwIfAborted?.();
    let resolve!: Job["resolve"];
    let reject!: Job["reject"];
    const result = new Promise<GenerationResult>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const now = performance.now();
    const job: Job = {
      chunks: [...chunks],
      chunk: 0,
      offset: 0,
      promptRows,
      reserve: promptRows + maxTokens,
      maxTokens,
      seq: -1,
      pos: 0,
      lastToken: -1,
      generated: 0,
      text: "",
      stream: new TextStream(options.stop ?? []),
      sampling: options.sampling ?? {},
      signal: options.signal,
      deltas: [],
      ended: false,
      t: { submit: now, admit: now, first: now, last: now },
      resolve,
      reject,
    };
    result.catch(() => {}); // iterators and callers observe it; never an unhandled rejection
    options.signal?.addEventListener("abort", () => this.#kick(), { once: true });
    this.#waiting.push(job);
    this.#kick();
    return {
      result,
      [Symbol.asyncIterator]: () => this.#iterate(job),
    };
  }

  async *#iterate(job: Job): AsyncGenerator<string> {
    while (true) {
      if (job.deltas.length > 0) {
        yield job.deltas.shift()!;
        continue;
      }
      if (job.ended) {
        if (job.error !== undefined) throw job.error;
        return;
      }
      await new Promise<void>((r) => {
        job.wake = r;
      });
    }
  }

  #kick(): void {
    this.#loop ??= this.#run().finally(() => {
      this.#loop = undefined;
      if (this.#waiting.length > 0 || this.#active.size > 0) this.#kick();
    });
  }

  async #run(): Promise<void> {
    while (this.#waiting.length > 0 || this.#active.size > 0) {
      this.#dropAborted();
      this.#admit();
      if (this.#active.size === 0) return;
      try {
        // One image block per iteration, then one mixed token step: generation never stalls behind prefill.
        const emb = [...this.#active].find(
          (j) => j.chunk < j.chunks.length && j.chunks[j.chunk].kind === "embeddings",
        );
        if (emb) await this.#decodeEmbeddings(emb);
        this.#dropAborted();
        await this.#tokenStep();
      } catch (error) {
        // A failed decode leaves the KV cache of its rows undefined: fail those requests, keep serving.
        for (const job of this.#inFlight) this.#fail(job, error);
        this.#inFlight = [];
      }
    }
  }

  #admit(): void {
    while (this.#free.length > 0 && this.#waiting.length > 0) {
      const job = this.#waiting[0];
      if (this.#reserved + job.reserve > this.#ctx.info.contextSize && this.#ctx.info.kvUnified) break;
      this.#waiting.shift();
      job.seq = this.#free.shift()!;
      this.#reserved += job.reserve;
      job.t.admit = performance.now();
      job.sampler = this.#model.createSampler(job.sampling);
      this.#active.add(job);
    }
  }

  #dropAborted(): void {
    for (const job of [...this.#waiting, ...this.#active]) {
      if (job.signal?.aborted) this.#fail(job, new AbortError(undefined, { cause: job.signal.reason }));
    }
  }

  async #decodeEmbeddings(job: Job): Promise<void> {
    const c = job.chunks[job.chunk] as Extract<PromptChunk, { kind: "embeddings" }>;
    const last = job.chunk === job.chunks.length - 1;
    this.#inFlight = [job];
    await this.#ctx.decode({
      embeddings: c.data,
      positions: job.pos,
      seqIds: job.seq,
      causal: c.causal,
      logits: last ? "last" : "none",
    });
    this.#inFlight = [];
    job.pos += c.rows;
    job.chunk++;
    if (last) this.#onToken(job, job.sampler!.sample(this.#ctx, c.rows - 1));
  }

  async #tokenStep(): Promise<void> {
    const budget = this.#ctx.info.batchSize;
    const tokens: number[] = [];
    const positions: number[] = [];
    const seqIds: number[] = [];
    const logitRows: number[] = [];
    const owners: Job[] = [];
    // Generating requests first: one row each.
    for (const job of this.#active) {
      if (job.chunk < job.chunks.length || job.ended || tokens.length >= budget) continue;
      tokens.push(job.lastToken);
      positions.push(job.pos++);
      seqIds.push(job.seq);
      logitRows.push(tokens.length - 1);
      owners.push(job);
    }
    // Then prompt tokens of requests being prefilled, as many as the batch holds.
    const prefilling: Job[] = [];
    for (const job of this.#active) {
      if (job.ended || job.chunk >= job.chunks.length) continue;
      const c = job.chunks[job.chunk];
      if (c.kind !== "tokens") continue;
      const take = Math.min(c.tokens.length - job.offset, budget - tokens.length);
      if (take <= 0) break;
      for (let i = 0; i < take; i++) {
        tokens.push(c.tokens[job.offset + i]);
        positions.push(job.pos++);
        seqIds.push(job.seq);
      }
      job.sampler!.accept(c.tokens.subarray(job.offset, job.offset + take));
      job.offset += take;
      prefilling.push(job);
      if (job.offset === c.tokens.length) {
        job.chunk++;
        job.offset = 0;
        if (job.chunk === job.chunks.length) {
          logitRows.push(tokens.length - 1);
          owners.push(job);
        }
      }
    }
    if (tokens.length === 0) return;
    this.#inFlight = [...new Set([...owners, ...prefilling])];
    await this.#ctx.decode({ tokens, positions, seqIds, logits: logitRows });
    this.#inFlight = [];
    for (const [k, job] of owners.entries()) {
      if (!job.ended) this.#onToken(job, job.sampler!.sample(this.#ctx, logitRows[k]));
    }
  }

  #onToken(job: Job, token: number): void {
    const now = performance.now();
    if (job.generated === 0) job.t.first = now;
    job.t.last = now;
    if (this.#model.isEndOfGeneration(token)) {
      this.#end(job, "stop");
      return;
    }
    job.generated++;
    job.lastToken = token;
    this.#emit(job, job.stream.push(this.#model.tokenPiece(token)));
    if (job.stream.stopped) this.#end(job, "stop");
    else if (job.generated >= job.maxTokens) this.#end(job, "length");
  }

  #emit(job: Job, delta: string): void {
    if (delta.length === 0) return;
    job.text += delta;
    job.deltas.push(delta);
    job.wake?.();
  }

  #release(job: Job): void {
    job.ended = true;
    if (this.#active.delete(job)) {
      this.#ctx.seqRemove(job.seq);
      this.#free.push(job.seq);
      this.#reserved -= job.reserve;
      job.sampler?.dispose();
    } else {
      const i = this.#waiting.indexOf(job);
      if (i >= 0) this.#waiting.splice(i, 1);
    }
    job.wake?.();
  }

  #end(job: Job, reason: FinishReason): void {
    this.#emit(job, job.stream.flush());
    this.#release(job);
    const decodeMs = job.t.last - job.t.first;
    job.resolve({
      text: job.text,
      finishReason: reason,
      usage: {
        promptTokens: job.promptRows,
        completionTokens: job.generated,
        totalTokens: job.promptRows + job.generated,
      },
      timings: {
        queuedMs: job.t.admit - job.t.submit,
        prefillMs: job.t.first - job.t.admit,
        decodeMs,
        tokensPerSecond: decodeMs > 0 ? ((job.generated - 1) * 1000) / decodeMs : 0,
      },
    });
  }

  #fail(job: Job, error: unknown): void {
    if (job.ended) return;
    job.error = error;
    this.#release(job);
    job.reject(error);
  }
}
