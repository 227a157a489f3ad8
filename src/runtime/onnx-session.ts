/**
 * The one place vlmkit creates onnxruntime sessions. Encoder files, the adapter's projection and the
 * training graphs all come through `createOnnxSession`, so execution providers, threads, spinning and
 * the graph optimization level are decided here once (defaults from env.ts).
 */
import * as ort from "onnxruntime-node";
import { defaultThreads, executionProviders } from "../env.js";
import { InvalidArgumentError, ModelFormatError } from "../errors.js";
import { warnOnce } from "../util/warn.js";

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
  const create = (o: ort.InferenceSession.SessionOptions) =>
    typeof model === "string" ? ort.InferenceSession.create(model, o) : ort.InferenceSession.create(model, o);
  // Providers this process could not start are left out at once (one warning each, in `usableProviders`).
  let providers = usableProviders(sessionOptions.executionProviders as string[]);
  quietProviderProbe(providers);
  for (;;) {
    try {
      return await create({ ...sessionOptions, executionProviders: providers });
    } catch (cause) {
      const [first, ...rest] = providers;
      if (rest.length > 0 && first !== "cpu" && providerFailure(cause)) {
        unavailable.add(first);
        warnUnavailable(first, cause);
        providers = rest;
        continue;
      }
      if (first !== "cpu" && providerFailure(cause)) {
        const step = INSTALL_STEPS[first];
        throw new ModelFormatError(
          `onnxruntime could not start execution provider "${first}" for ${what}: ${(cause as Error).message}; ` +
            `${step ? `install it (${step}) or ` : ""}add cpu after it in VLMKIT_EXECUTION_PROVIDERS (e.g. ${first},cpu)`,
          { cause, details: { provider: first } },
        );
      }
      throw new ModelFormatError(`onnxruntime could not load ${what}: ${(cause as Error).message}`, {
        cause,
      });
    }
  }
}

/** Providers that failed to start in this process: not tried again, warned about once. */
const unavailable = new Set<string>();

/** The install step that makes a provider available, for the fallback warning. */
const INSTALL_STEPS: Record<string, string> = {
  cuda: "ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js (CUDA 12 and cuDNN 9 must be installed)",
  tensorrt:
    "ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js, with TensorRT installed",
};

let firstSession = true;

/**
 * A provider that cannot start makes onnxruntime print a raw error line of its own before the error
 * vlmkit reports with the install step. The log level is read once, when the first session creates
 * onnxruntime's environment: with a provider other than cpu requested, keep only fatal messages there
 * (every failure still reaches vlmkit as an error and is reported, or warned about, with its message).
 */
function quietProviderProbe(providers: readonly string[]): void {
  if (!firstSession) return;
  firstSession = false;
  if (providers.some((p) => p !== "cpu")) ort.env.logLevel = "fatal";
}

function usableProviders(requested: readonly string[]): string[] {
  const left = requested.filter((p) => !unavailable.has(p));
  return left.length > 0 ? left : ["cpu"];
}

/** onnxruntime's refusal to append or start an execution provider (a missing shared library, no device). */
function providerFailure(cause: unknown): boolean {
  const message = cause instanceof Error ? cause.message : String(cause);
  return /ExecutionProvider|execution provider|shared library|providers_|backend/i.test(message);
}

function warnUnavailable(provider: string, cause: unknown): void {
  const step = INSTALL_STEPS[provider];
  warnOnce(
    `onnxruntime-provider:${provider}`,
    `onnxruntime execution provider "${provider}" is not available (${(cause as Error).message.split("\n")[0]}); ` +
      `falling back to the next one in VLMKIT_EXECUTION_PROVIDERS.${step ? ` To install it: ${step}` : ""}`,
  );
}
