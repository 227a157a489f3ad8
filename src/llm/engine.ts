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
import { ThreadGovernor, type ThreadGovernorOptions } from "./thread-governor.js";

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
  /**
   * Let token steps run on fewer threads than the context's when that is faster (a busy machine;
   * src/llm/thread-governor.ts), probing now and then. Default true; false always uses all of them.
   */
  adaptiveThreads?: boolean | ThreadGovernorOptions;
}

/** What `admissible` answers: the request fits (with the maxTokens it will get), or why not. */
export type Admission = { ok: true; maxTokens: number } | { ok: false; error: VlmkitError };

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
  sampler: NativeSampler;
  /** Removes the abort listener. */
  unlisten?: () => void;
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

/** Cumulative timings of the engine's token steps (see `GenerationEngine.stepProfile`). */
export interface StepProfile {
  /** Token steps decoded. */
  steps: number;
  /** Batch rows decoded by them (generated tokens and prompt tokens). */
  rows: number;
  /** Tokens sampled (rows with logits). */
  sampled: number;
  /** Time awaiting the decodes. */
  decodeMs: number;
  /** Time sampling, detokenizing and handing the tokens to their streams. */
  sampleMs: number;
  /** Time between a step's end and the next step's decode (admission, aborts, other JS), while busy. */
  betweenMs: number;
  /** Steps run on fewer threads than the context's (adaptive threads: probes and a busy machine). */
  fewerThreads: number;
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
  #abortDecode?: AbortController;
  #closed = false;
  /** Sequences of ended requests waiting for the running decode to finish before their KV is cleared. */
  readonly #toRemove: number[] = [];
  /** Resolvers of `idle()`, called when the last request ends. */
  readonly #idleWaiters: Array<() => void> = [];
  /** Threads per token step; undefined when adaptive threads are off. */
  readonly #governor?: ThreadGovernor;
  readonly #profile: StepProfile = {
    steps: 0,
    rows: 0,
    sampled: 0,
    decodeMs: 0,
    sampleMs: 0,
    betweenMs: 0,
    fewerThreads: 0,
  };
  /** When the previous token step finished (for `betweenMs`); undefined after an image block or idle. */
  #lastStepEnd?: number;

  constructor(model: NativeModel, context: NativeContext, options: EngineOptions = {}) {
    this.#model = model;
    this.#ctx = context;
    this.#maxQueue = options.maxQueue ?? 64;
    this.#free = Array.from({ length: context.info.sequences }, (_, i) => i);
    const adaptive = options.adaptiveThreads ?? true;
    if (adaptive !== false && context.info.threads > 1)
      this.#governor = new ThreadGovernor(context.info.threads, adaptive === true ? {} : adaptive);
  }

  get context(): NativeContext {
    return this.#ctx;
  }

  /** Requests that may wait for a sequence before `submit` throws BUSY. */
  get maxQueue(): number {
    return this.#maxQueue;
  }

  /** Requests being decoded and waiting. */
  get load(): { active: number; queued: number } {
    return { active: this.#active.size, queued: this.#waiting.length };
  }

  /**
   * Where token steps spent their time since the engine started (cumulative; take differences across a
   * run): the decode of the step's rows, sampling and streaming the sampled tokens, and the JS work
   * between one step's end and the next step's decode.
   */
  get stepProfile(): Readonly<StepProfile> {
    return { ...this.#profile };
  }

  /** Resolves once no request is being decoded or waiting: at once when none is, else when the last one ends. */
  idle(): Promise<void> {
    if (this.#active.size + this.#waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Positions a request may use in total (prompt + generated). */
  get capacity(): number {
    const { contextSize, sequences, kvUnified } = this.#ctx.info;
    return kvUnified ? contextSize : Math.floor(contextSize / sequences);
  }

  /**
   * Whether a request of `promptRows` prompt positions and `maxTokens` tokens to generate (default:
   * 256, or the room the prompt leaves if less) can be submitted now; if not, the error `submit` would
   * throw. In order: the prompt fits the context with room for one token (CONTEXT_OVERFLOW), maxTokens
   * is a positive integer (INVALID_ARGUMENT) that fits with the prompt (CONTEXT_OVERFLOW), the queue
   * has room (BUSY), the engine is open (UNAVAILABLE). Errors about `maxTokens` carry
   * `details.param`: `options.param`, default "maxTokens" (a server passes its request field's name).
   * A caller that does not know the prompt yet passes 1: it takes at least one position.
   */
  admissible(promptRows: number, maxTokens?: number, options: { param?: string } = {}): Admission {
    const param = options.param ?? "maxTokens";
    const capacity = this.capacity;
    const room = capacity - promptRows;
    const refuse = (error: VlmkitError): Admission => ({ ok: false, error });
    if (room < 1) {
      return refuse(
        new VlmkitError(
          "CONTEXT_OVERFLOW",
          `the prompt takes ${promptRows} positions but a request may use at most ${capacity}`,
          { details: { promptRows, capacity } },
        ),
      );
    }
    if (maxTokens !== undefined && Number.isInteger(maxTokens) && maxTokens >= capacity) {
      // No prompt leaves room for it (a prompt takes at least one position).
      return refuse(
        new VlmkitError(
          "CONTEXT_OVERFLOW",
          `${param}: ${maxTokens} tokens do not fit; a request may use at most ${capacity} positions (prompt and answer together)`,
          { details: { param, maxTokens, capacity } },
        ),
      );
    }
    const tokens = maxTokens ?? Math.min(256, room);
    if (!Number.isInteger(tokens) || tokens < 1) {
      return refuse(
        new InvalidArgumentError(`${param}: ${tokens} must be a positive integer`, {
          details: { param, maxTokens: tokens },
        }),
      );
    }
    if (tokens > room) {
      return refuse(
        new VlmkitError(
          "CONTEXT_OVERFLOW",
          `${param}: ${tokens} plus a ${promptRows}-position prompt exceeds the ${capacity} positions a request may use (at most ${room} here)`,
          { details: { param, maxTokens: tokens, promptRows, capacity, room } },
        ),
      );
    }
    if (this.#waiting.length >= this.#maxQueue) {
      return refuse(
        new VlmkitError(
          "BUSY",
          `${this.#waiting.length} requests are already waiting for a sequence (the limit is ${this.#maxQueue}); try again later`,
          { details: { waiting: this.#waiting.length, limit: this.#maxQueue } },
        ),
      );
    }
    if (this.#closed) {
      return refuse(new VlmkitError("UNAVAILABLE", "the generation engine has been closed"));
    }
    return { ok: true, maxTokens: tokens };
  }

  /** Checks and queues a request; throws at once for requests that can never run. */
  submit(input: readonly PromptChunk[], options: GenerateOptions = {}): Generation {
    let chunks = [...input];
    const { ubatchSize } = this.#ctx.info;
    const nVocab = this.#model.info.nVocab;
    const width = this.#model.info.nEmbdInp;
    let promptRows = 0;
    chunks = chunks.filter((c) => (c.kind === "tokens" ? c.tokens.length : c.rows) > 0);
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
    const admission = this.admissible(promptRows, options.maxTokens);
    if (!admission.ok) throw admission.error;
    const { maxTokens } = admission;
    if (options.signal?.aborted) throw new AbortError(undefined, { cause: options.signal.reason });
    // Created now so bad sampling options fail the call, not the shared loop.
    const sampler = this.#model.createSampler(this.#checkedSampling(options.sampling ?? {}));
    let resolve!: Job["resolve"];
    let reject!: Job["reject"];
    const result = new Promise<GenerationResult>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const now = performance.now();
    const job: Job = {
      chunks,
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
      sampler,
      signal: options.signal,
      deltas: [],
      ended: false,
      t: { submit: now, admit: now, first: now, last: now },
      resolve,
      reject,
    };
    result.catch(() => {}); // iterators and callers observe it; never an unhandled rejection
    if (options.signal) {
      const signal = options.signal;
      const onAbort = () => this.#onAbort(job);
      signal.addEventListener("abort", onAbort, { once: true });
      job.unlisten = () => signal.removeEventListener("abort", onAbort);
    }
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

  /** Validates sampling against this model and context (llama.cpp would assert or misread them). */
  #checkedSampling(sampling: SamplerOptions): SamplerOptions {
    const bad = (name: string, value: unknown, expected: string) =>
      new InvalidArgumentError(`sampling.${name} = ${value}; expected ${expected}`, {
        details: { field: name },
      });
    const { temperature, topK, topP, minP, repeatPenalty, repeatLastN, seed } = sampling;
    if (temperature !== undefined && !(temperature >= 0 && temperature <= 100))
      throw bad("temperature", temperature, "a number in [0, 100]");
    if (topK !== undefined && !(Number.isInteger(topK) && topK >= 0))
      throw bad("topK", topK, "a non-negative integer");
    if (topP !== undefined && !(topP >= 0 && topP <= 1)) throw bad("topP", topP, "a number in [0, 1]");
    if (minP !== undefined && !(minP >= 0 && minP <= 1)) throw bad("minP", minP, "a number in [0, 1]");
    if (repeatPenalty !== undefined && !(repeatPenalty > 0 && repeatPenalty <= 100)) {
      throw bad("repeatPenalty", repeatPenalty, "a number in (0, 100]");
    }
    const size = this.#ctx.info.contextSize;
    if (
      repeatLastN !== undefined &&
      !(Number.isInteger(repeatLastN) && repeatLastN >= -1 && repeatLastN <= size)
    ) {
      throw bad("repeatLastN", repeatLastN, `-1 (the whole context) or an integer in [0, ${size}]`);
    }
    if (seed !== undefined && !(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff)) {
      throw bad("seed", seed, "an integer in [0, 2³²-1]");
    }
    return {
      ...sampling,
      // A top-k beyond the vocabulary keeps every token, as it would with a larger vocabulary.
      topK: topK === undefined ? undefined : Math.min(topK, this.#model.info.nVocab),
      repeatLastN: repeatLastN === -1 ? size : repeatLastN,
    };
  }

  /**
   * Fails every request and stops the loop; call before disposing the context. A decode that is
   * running completes first.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const error = new VlmkitError("UNAVAILABLE", "the LLM was unloaded while the request was running");
    for (const job of [...this.#waiting, ...this.#active]) this.#fail(job, error);
    this.#abortDecode?.abort();
    await this.#loop;
    this.#flushRemovals();
  }

  #onAbort(job: Job): void {
    if (job.ended) return;
    if (this.#inFlight.includes(job)) {
      // Stop the running decode once every request in it has been aborted; the loop fails them.
      if (this.#inFlight.every((j) => j.signal?.aborted)) this.#abortDecode?.abort();
      return;
    }
    this.#fail(job, new AbortError(undefined, { cause: job.signal?.reason }));
    this.#kick();
  }

  #kick(): void {
    if (this.#loop || this.#closed) return;
    this.#loop = this.#run()
      .catch((error) => {
        // Anything outside a decode: fail what is pending rather than leave callers waiting.
        for (const job of [...this.#waiting, ...this.#active]) this.#fail(job, error);
      })
      .finally(() => {
        this.#loop = undefined;
        // Only runnable work restarts the loop: waiting requests with no free sequence wait for a release.
        if (this.#active.size > 0 || (this.#waiting.length > 0 && this.#canAdmit())) this.#kick();
      });
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      this.#dropAborted();
      this.#admit();
      if (this.#active.size === 0) return;
      try {
        // One image block per iteration, then one mixed token step: generation never stalls behind prefill.
        const emb = [...this.#active].find(
          (j) => j.chunk < j.chunks.length && j.chunks[j.chunk].kind === "embeddings",
        );
        if (emb) {
          await this.#decodeEmbeddings(emb);
          this.#lastStepEnd = undefined;
        }
        this.#dropAborted();
        await this.#tokenStep();
      } catch (error) {
        // A failed decode leaves the KV cache of its rows undefined: fail those requests, keep serving.
        const failed = this.#inFlight;
        this.#inFlight = [];
        for (const job of failed) {
          this.#fail(
            job,
            job.signal?.aborted ? new AbortError(undefined, { cause: job.signal.reason }) : error,
          );
        }
      }
    }
  }

  #canAdmit(): boolean {
    const job = this.#waiting[0];
    if (!job || this.#free.length === 0) return false;
    return !this.#ctx.info.kvUnified || this.#reserved + job.reserve <= this.#ctx.info.contextSize;
  }

  #admit(): void {
    while (this.#canAdmit()) {
      const job = this.#waiting.shift()!;
      job.seq = this.#free.shift()!;
      this.#reserved += job.reserve;
      job.t.admit = performance.now();
      this.#active.add(job);
    }
  }

  #dropAborted(): void {
    for (const job of [...this.#waiting, ...this.#active]) {
      if (job.signal?.aborted) this.#fail(job, new AbortError(undefined, { cause: job.signal.reason }));
    }
  }

  /** Decodes under a signal that fires when every request in the batch has been aborted. */
  async #decode(jobs: Job[], batch: Parameters<NativeContext["decode"]>[0]): Promise<void> {
    this.#inFlight = jobs;
    this.#abortDecode = new AbortController();
    try {
      await this.#ctx.decode(batch, { signal: this.#abortDecode.signal });
    } finally {
      this.#abortDecode = undefined;
      this.#flushRemovals();
    }
    this.#inFlight = [];
  }

  /** Sets the context's threads to `wanted` (default: the governor's current count) if they differ. */
  #useThreads(wanted?: number): number {
    const threads = wanted ?? this.#governor?.current ?? this.#ctx.info.threads;
    if (threads !== this.#ctx.threads) this.#ctx.setThreads(threads);
    return threads;
  }

  async #decodeEmbeddings(job: Job): Promise<void> {
    this.#useThreads();
    const c = job.chunks[job.chunk] as Extract<PromptChunk, { kind: "embeddings" }>;
    const last = job.chunk === job.chunks.length - 1;
    const width = this.#model.info.nEmbdInp;
    // A bidirectional block is one batch (checked against ubatch at submit); a causal one may be sliced.
    const step = c.causal ? this.#ctx.info.batchSize : c.rows;
    for (let r0 = 0; r0 < c.rows; r0 += step) {
      const rows = Math.min(step, c.rows - r0);
      const final = last && r0 + rows === c.rows;
      await this.#decode([job], {
        embeddings: c.data.subarray(r0 * width, (r0 + rows) * width),
        positions: job.pos,
        seqIds: job.seq,
        causal: c.causal,
        logits: final ? "last" : "none",
      });
      job.pos += rows;
      if (job.ended) return;
      if (final) {
        job.chunk++;
        this.#afterDecode(job, rows - 1);
        return;
      }
    }
    job.chunk++;
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
      if (take <= 0) break; // the batch is full (chunks are never empty)
      for (let i = 0; i < take; i++) {
        tokens.push(c.tokens[job.offset + i]);
        positions.push(job.pos++);
        seqIds.push(job.seq);
      }
      job.sampler.accept(c.tokens.subarray(job.offset, job.offset + take));
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
    const threads = this.#useThreads(this.#governor?.next());
    const p = this.#profile;
    const t0 = performance.now();
    if (this.#lastStepEnd !== undefined) p.betweenMs += t0 - this.#lastStepEnd;
    await this.#decode([...new Set([...owners, ...prefilling])], {
      tokens,
      positions,
      seqIds,
      logits: logitRows,
    });
    const t1 = performance.now();
    // Only steps of generating rows alone are comparable for the governor.
    if (prefilling.length === 0) this.#governor?.record(threads, t1 - t0, tokens.length);
    for (const [k, job] of owners.entries()) this.#afterDecode(job, logitRows[k]);
    const t2 = performance.now();
    p.steps++;
    p.rows += tokens.length;
    p.sampled += owners.length;
    p.decodeMs += t1 - t0;
    p.sampleMs += t2 - t1;
    if (threads < this.#ctx.info.threads) p.fewerThreads++;
    this.#lastStepEnd = this.#active.size > 0 ? t2 : undefined;
  }

  /** Samples the next token from `row`, unless the request ended or was aborted meanwhile. */
  #afterDecode(job: Job, row: number): void {
    if (job.ended) return;
    if (job.signal?.aborted) {
      this.#fail(job, new AbortError(undefined, { cause: job.signal.reason }));
      return;
    }
    this.#onToken(job, job.sampler.sample(this.#ctx, row));
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
    if (job.ended) return;
    job.ended = true;
    job.unlisten?.();
    const i = this.#waiting.indexOf(job);
    if (i >= 0) this.#waiting.splice(i, 1);
    if (this.#active.delete(job)) {
      this.#reserved -= job.reserve;
      this.#releaseSequence(job.seq);
    }
    if (!job.sampler.disposed) job.sampler.dispose();
    job.wake?.();
    // A freed sequence may let a waiting request in.
    if (this.#waiting.length > 0) queueMicrotask(() => this.#kick());
    else if (this.#active.size === 0) for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  /** Clears a sequence's KV cache and frees it; while a decode runs, that waits until it ends. */
  #releaseSequence(seq: number): void {
    if (this.#ctx.busy) {
      this.#toRemove.push(seq);
      return;
    }
    if (!this.#ctx.disposed) this.#ctx.seqRemove(seq);
    this.#free.push(seq);
  }

  #flushRemovals(): void {
    for (const seq of this.#toRemove.splice(0)) this.#releaseSequence(seq);
  }

  #end(job: Job, reason: FinishReason): void {
    if (job.ended) return;
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
