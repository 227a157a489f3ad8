/**
 * One chat request through a served VLM, shared by the OpenAI and Ollama routes: images loaded under
 * the server's policy, messages built, the request submitted to the LLM's continuous-batching engine
 * (shared with every other request on that LLM), and metrics recorded.
 *
 * `startChat` resolves only once the first token exists (or the answer ended without any): every
 * failure that can happen before generation — unknown model, bad image, placeholder mismatch, prompt
 * or `max_tokens` too long for the context, engine queue full — is thrown before a streaming response
 * has sent its headers, so it gets a real HTTP status instead of an in-band error.
 */
import { AbortError, isVlmkitError, VlmkitError } from "../errors.js";
import type { GenerationEngine, GenerationResult } from "../llm/engine.js";
import type { SamplerOptions } from "../llm/native.js";
import { type ChatRequest, requestImages, type Sampling } from "./chat-request.js";
import type { ServerContext } from "./context.js";
import { decodeRequestImages, fetchRequestImages } from "./images.js";
import type { ServedVlm } from "./models.js";
import type { StreamWriter } from "./streaming.js";
import { toVlmMessages } from "./vlm-messages.js";

export interface ChatRun {
  served: ServedVlm;
  /** Unix seconds when the request arrived (OpenAI `created`). */
  created: number;
  /** The answer's text deltas, the first one included; throws the generation's error. */
  deltas: AsyncIterable<string>;
  /** Settles with the whole answer, its finish reason and token counts. */
  result: Promise<GenerationResult>;
  /** Stops the generation and frees its sequence (a streaming client that went away). */
  abort(reason: unknown): void;
  /**
   * Runs a stream producer tied to this generation: when the stream's signal fires (client gone,
   * deadline) the generation stops, and a producer that returns early stops it too.
   */
  pipe(out: StreamWriter, produce: () => Promise<void>): Promise<void>;
}

export interface StartChatOptions {
  /** The request field that set `maxTokens`, named in errors ("max_tokens", "options.num_predict"). */
  maxTokensParam: string;
  /** Fires when the client disconnects or the request deadline passes. */
  signal: AbortSignal;
}

/** Seeds are any integer in the APIs; llama.cpp takes 32 bits (0xFFFFFFFF means "random"). */
function samplerOptions(s: Sampling): SamplerOptions {
  const { seed, ...rest } = s;
  return seed === undefined ? rest : { ...rest, seed: (((seed % 2 ** 32) + 2 ** 32) % 2 ** 32) % 0xffffffff };
}

export async function startChat(
  ctx: ServerContext,
  request: ChatRequest,
  options: StartChatOptions,
): Promise<ChatRun> {
  const start = performance.now();
  const created = Math.floor(Date.now() / 1000);
  const served = ctx.models.vlm(request.model);
  const engine = served.vlm.llm.engine;
  const param = options.maxTokensParam;
  // The engine's own admission check, made before any image is read or encoded (the prompt is not
  // known yet: it takes at least one position); submitting checks again with the real prompt.
  const admission = engine.admissible(1, request.maxTokens, { param });
  if (!admission.ok) throw scoped(admission.error, served);
  const controller = new AbortController();
  const abort = (reason: unknown) => {
    if (!controller.signal.aborted) controller.abort(reason);
  };
  const onRequestAbort = () => abort(options.signal.reason);
  if (options.signal.aborted) onRequestAbort();
  else options.signal.addEventListener("abort", onRequestAbort, { once: true });

  try {
    const refs = requestImages(request);
    // Remote images download before the encoder slot is taken (a slow host holds no slot).
    const fetched = await fetchRequestImages(refs, ctx, controller.signal);
    const begin = async () => {
      const images = await decodeRequestImages(fetched, ctx, controller.signal);
      const messages = toVlmMessages(request.turns, images);
      const generation = served.vlm.chatStream(messages, {
        sampling: samplerOptions(request.sampling),
        maxTokens: request.maxTokens,
        stop: request.stop,
        signal: controller.signal,
      });
      // Settles when the images are encoded and the request is queued, or with the error that stopped it.
      await generation.submitted;
      return generation;
    };
    // Images are decoded and encoded under an encoder slot, released as soon as the request is queued
    // for generation: decoded pixels and encoder runs stay bounded by the queue, and a full queue
    // answers 429 before any decode.
    const generation = refs.length > 0 ? await ctx.encoderQueue.run(begin, controller.signal) : await begin();
    const it = generation[Symbol.asyncIterator]();
    const first = await it.next();
    const model = served.name;
    ctx.metrics.timeToFirstToken.observe({ model }, (performance.now() - start) / 1000);
    generation.result.then(
      (r) => {
        ctx.metrics.tokens.inc({ model, kind: "prompt" }, r.usage.promptTokens);
        ctx.metrics.tokens.inc({ model, kind: "completion" }, r.usage.completionTokens);
        ctx.metrics.generationDuration.observe(
          { model, finish: r.finishReason },
          (performance.now() - start) / 1000,
        );
      },
      () => {},
    );
    generation.result
      .finally(() => options.signal.removeEventListener("abort", onRequestAbort))
      .catch(() => {});
    return {
      served,
      created,
      result: generation.result,
      abort,
      async pipe(out, produce) {
        const onStop = () => abort(out.signal.reason);
        if (out.signal.aborted) onStop();
        else out.signal.addEventListener("abort", onStop, { once: true });
        try {
          await produce();
        } finally {
          out.signal.removeEventListener("abort", onStop);
          // No-op once the answer is complete; frees the sequence if the producer stopped early.
          abort(new AbortError("the response stream ended"));
        }
      },
      deltas: {
        async *[Symbol.asyncIterator]() {
          if (first.done) return;
          yield first.value;
          for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
        },
      },
    };
  } catch (error) {
    options.signal.removeEventListener("abort", onRequestAbort);
    throw named(error, engine, request.maxTokens, param);
  }
}

/**
 * The engine names `maxTokens` in its errors; clients know the field by its API name. The same check,
 * asked again with the request's numbers (from the error's details) and the field's name.
 */
function named(
  error: unknown,
  engine: GenerationEngine,
  maxTokens: number | undefined,
  param: string,
): unknown {
  if (!isVlmkitError(error) || error.details?.param !== "maxTokens") return error;
  const { promptRows } = error.details;
  const again = engine.admissible(typeof promptRows === "number" ? promptRows : 1, maxTokens, { param });
  return again.ok ? error : again.error;
}

/** A full engine queue names the model whose LLM it belongs to (one server may serve several). */
function scoped(error: unknown, served: ServedVlm): unknown {
  if (!isVlmkitError(error) || error.code !== "BUSY") return error;
  return new VlmkitError("BUSY", `model "${served.name}": ${error.message}`, {
    cause: error,
    details: { ...error.details, model: served.name },
  });
}
