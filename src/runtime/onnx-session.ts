/**
 * The one place vlmkit creates onnxruntime sessions. Encoder files, the adapter's projection and the
 * training graphs all come through `createOnnxSession`, so execution providers, threads, spinning and
 * the graph optimization level are decided here once (defaults from env.ts).
 */
import * as ort from "onnxruntime-node";
import { defaultThreads, executionProviders } from "../env.js";
import { InvalidArgumentError, ModelFormatError } from "../errors.js";

export interface OnnxSessionOptions {
  /**
   * Threads inside one operator (onnxruntime's intra-op pool; the session starts `threads - 1` workers
   * and runs on the calling thread too). Default: physical cores, `$VLMKIT_THREADS` overrides.
   */
  threads?: number;
  /**
   * Whether the intra-op workers spin (busy-wait) for a while after each piece of work instead of
   * sleeping at once. Spinning shaves latency off back-to-back runs; it also keeps cores busy between
   * runs, which slows llama.cpp's threads when both share the cores. Default `true` (onnxruntime's
   * own default).
   */
  allowSpinning?: boolean;
  /**
   * Execution providers in order of preference. Default `$VLMKIT_EXECUTION_PROVIDERS` or `["cpu"]`;
   * `"cuda"` needs the CUDA provider installed (README).
   */
  executionProviders?: readonly string[];
}

/**
 * The onnxruntime session options for `options` with the defaults filled in: the intra-op thread
 * count, one inter-op thread (runs are sequential), every graph optimization, and spinning as an
 * explicit session config entry (`session.intra_op.allow_spinning`).
 */
export function onnxSessionOptions(options: OnnxSessionOptions = {}): ort.InferenceSession.SessionOptions {
  const threads = options.threads ?? defaultThreads();
  if (!Number.isInteger(threads) || threads < 1) {
    throw new InvalidArgumentError(`threads must be a positive integer, got ${threads}`, {
      details: { field: "threads" },
    });
  }
  return {
    executionProviders: [...(options.executionProviders ?? executionProviders())],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
    extra: { session: { intra_op: { allow_spinning: options.allowSpinning === false ? "0" : "1" } } },
  };
}

/**
 * Loads an ONNX model (a file path or serialized bytes) into a session the caller owns and releases
 * (`session.release()`). onnxruntime's refusal becomes a `ModelFormatError` naming `what` (default:
 * the path).
 */
export async function createOnnxSession(
  model: string | Uint8Array,
  options: OnnxSessionOptions = {},
  what: string = typeof model === "string" ? model : "an in-memory ONNX model",
): Promise<ort.InferenceSession> {
  const sessionOptions = onnxSessionOptions(options);
  try {
    return typeof model === "string"
      ? await ort.InferenceSession.create(model, sessionOptions)
      : await ort.InferenceSession.create(model, sessionOptions);
  } catch (cause) {
    throw new ModelFormatError(`onnxruntime could not load ${what}: ${(cause as Error).message}`, { cause });
  }
}
