/**
 * Loads llama.cpp for vlmkit: node-llama-cpp first (it picks and loads the right libllama for this
 * platform and GPU), then vlmkit's addon (`native/`), which binds to that same libllama. The order
 * matters: whoever loads libllama first decides which build the whole process uses.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Llama, LlamaOptions } from "node-llama-cpp";
import {
  AbortError,
  IncompatibleModelError,
  InvalidArgumentError,
  ModelFormatError,
  ShapeError,
  VlmkitError,
} from "../errors.js";

const ADDON_FILE = path.join("native", "build", "vlmkit_llama.node");

/** Raw addon surface; `src/llm/native.ts` wraps it in typed classes. */
export interface AddonModel {
  info(): AddonModelInfo;
  tokenize(text: string, addSpecial: boolean, parseSpecial: boolean): Int32Array;
  detokenize(tokens: Int32Array, removeSpecial: boolean, unparseSpecial: boolean): string;
  tokenText(token: number): string;
  tokenPiece(token: number, special: boolean): Uint8Array;
  isEog(token: number): boolean;
  isControl(token: number): boolean;
  dispose(): void;
  readonly disposed: boolean;
}

export interface AddonModelInfo {
  nVocab: number;
  nEmbd: number;
  nEmbdInp: number;
  nLayer: number;
  nCtxTrain: number;
  description: string;
  architecture: string;
  bos: number;
  eos: number;
  eot: number;
  pad: number;
  nl: number;
  addBos: boolean;
  libraryPath: string;
}

export interface AddonContextOptions {
  contextSize: number;
  batchSize: number;
  ubatchSize: number;
  sequences: number;
  threads: number;
  flashAttention: "auto" | "on" | "off";
  kvUnified: boolean;
  /** ggml threadpool polling level 0–100; -1: no persistent threadpool. */
  threadpoolPoll: number;
}

export interface AddonContextInfo {
  contextSize: number;
  sequenceContextSize: number;
  batchSize: number;
  ubatchSize: number;
  sequences: number;
  kvUnified: boolean;
  threads: number;
  /** A persistent ggml threadpool is attached. */
  threadpool: boolean;
}

export interface AddonBatch {
  tokens?: Int32Array;
  embeddings?: Float32Array;
  positions: Int32Array;
  seqIds: Int32Array;
  logits: Uint8Array;
  causal: boolean;
}

export interface AddonContext {
  info(): AddonContextInfo;
  decode(batch: AddonBatch): Promise<void>;
  logits(row: number): Float32Array;
  seqRemove(seq: number, p0: number, p1: number): boolean;
  seqCopy(src: number, dst: number, p0: number, p1: number): void;
  seqKeep(seq: number): void;
  seqPosMin(seq: number): number;
  seqPosMax(seq: number): number;
  clear(): void;
  setThreads(threads: number): void;
  abort(): void;
  dispose(): void;
  readonly disposed: boolean;
  readonly busy: boolean;
}

export type AddonSamplerStage =
  | { type: "greedy" }
  | { type: "dist"; seed: number }
  | { type: "temperature"; temperature: number }
  | { type: "topK"; k: number }
  | { type: "topP"; p: number }
  | { type: "minP"; p: number }
  | { type: "penalties"; lastN: number; repeat: number; frequency: number; presence: number };

export interface AddonSampler {
  sample(context: AddonContext, row: number): number;
  accept(token: number): void;
  reset(): void;
  dispose(): void;
  readonly disposed: boolean;
}

export interface Addon {
  attach(): { libraryPath: string };
  loadModel(path: string, options: { gpuLayers: number; useMmap: boolean }): Promise<AddonModel>;
  NativeContext: new (model: AddonModel, options: AddonContextOptions) => AddonContext;
  NativeSampler: new (model: AddonModel, stages: AddonSamplerStage[]) => AddonSampler;
}

/** Options for loading llama.cpp through node-llama-cpp; they apply to the first load only. */
export interface NativeLlamaOptions {
  /** Use this node-llama-cpp instance instead of calling `getLlama()`. */
  llama?: Llama;
  /** GPU backend, as node-llama-cpp's `getLlama({gpu})`. Default "auto". */
  gpu?: LlamaOptions["gpu"];
  /** llama.cpp log level. Default "error" (quiet). */
  logLevel?: LlamaOptions["logLevel"];
  /** Whether node-llama-cpp may build llama.cpp from source, as `getLlama({build})`. Default "auto". */
  build?: LlamaOptions["build"];
}

export interface NativeLlama {
  /** The node-llama-cpp instance that loaded libllama (also usable for its own API). */
  llama: Llama;
  addon: Addon;
  /** The libllama file both node-llama-cpp and the addon use. */
  libraryPath: string;
}

let loading: Promise<NativeLlama> | undefined;

/**
 * node-llama-cpp + the addon, loaded once per process. Later calls return the first result whatever
 * their options: a process can hold only one libllama.
 */
export function loadNativeLlama(options: NativeLlamaOptions = {}): Promise<NativeLlama> {
  loading ??= load(options);
  // A failed load may be retried (e.g. after building the addon).
  loading.catch(() => {
    loading = undefined;
  });
  return loading;
}

async function load(options: NativeLlamaOptions): Promise<NativeLlama> {
  const addon = requireAddon();
  const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
  const llama =
    options.llama ??
    (await getLlama({
      gpu: options.gpu ?? "auto",
      logLevel: options.logLevel ?? LlamaLogLevel.error,
      build: options.build ?? "auto",
    }));
  const { libraryPath } = callNative(() => addon.attach());
  return { llama, addon, libraryPath };
}

/** Where the built addon is looked for: `native/build/` of the package this file belongs to. */
export function addonPath(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, ADDON_FILE);
    if (fs.existsSync(candidate) || fs.existsSync(path.join(dir, "native", "build.mjs"))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve(ADDON_FILE);
    dir = parent;
  }
}

function requireAddon(): Addon {
  const file = addonPath();
  if (!fs.existsSync(file)) {
    throw new VlmkitError(
      "NATIVE",
      `vlmkit's llama.cpp addon is not built ("${file}" is missing); it is built at install time and ` +
        "needs g++ and git: run `node native/build.mjs --strict` in the vlmkit package to see why",
      { details: { path: file } },
    );
  }
  try {
    return createRequire(import.meta.url)(file) as Addon;
  } catch (error) {
    throw new VlmkitError(
      "NATIVE",
      `vlmkit's llama.cpp addon "${file}" could not be loaded: ${String(error)}`,
      {
        cause: error,
      },
    );
  }
}

/** Turns an error thrown by the addon (an Error with a `code`) into vlmkit's error of that code. */
export function fromNativeError(error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof VlmkitError) return error;
  const code = (error as Error & { code?: unknown }).code;
  const options = { cause: error };
  switch (code) {
    case "INVALID_ARGUMENT":
      return new InvalidArgumentError(error.message, options);
    case "SHAPE_MISMATCH":
      return new ShapeError(error.message, options);
    case "MODEL_FORMAT":
      return new ModelFormatError(error.message, options);
    case "MODEL_INCOMPATIBLE":
      return new IncompatibleModelError(error.message, options);
    case "ABORTED":
      return new AbortError(error.message, options);
    case "CONTEXT_OVERFLOW":
    case "DISPOSED":
    case "BUSY":
    case "NATIVE":
      return new VlmkitError(code, error.message, options);
    default:
      return error;
  }
}

/** Runs a synchronous addon call, converting its errors. */
export function callNative<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw fromNativeError(error);
  }
}

/** Awaits an asynchronous addon call, converting its errors. */
export async function awaitNative<T>(promise: () => Promise<T>): Promise<T> {
  try {
    return await promise();
  } catch (error) {
    throw fromNativeError(error);
  }
}
