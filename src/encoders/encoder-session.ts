/**
 * Encoder files in onnxruntime: pick the file for a dtype, rewrite it into fused ops (cached, see
 * graph/optimize), open it through the session factory (runtime/onnx-session.ts), and check its
 * inputs/outputs against what the caller needs (named in the error when not); build input tensors in
 * the types the file declares.
 */
import fs from "node:fs";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { fuseGraphsDefault, vlmkitCacheDir } from "../env.js";
import { ModelFormatError } from "../errors.js";
import { optimizedModelFile } from "../graph/optimize/index.js";
import { type OnnxDtype, onnxFileName } from "../hub/dtypes.js";
import { createOnnxSession, type OnnxSessionOptions } from "../runtime/onnx-session.js";
import { float16ToFloat32, float32ToFloat16 } from "../util/float16.js";

/** Threads, spinning and providers (see `OnnxSessionOptions`), plus the weight variant. */
export interface SessionOptions extends OnnxSessionOptions {
  /** Weight variant to load: picks `onnx/<name><suffix>.onnx`. Default `fp32`. */
  dtype?: OnnxDtype;
  /**
   * Run a copy of the file rewritten into onnxruntime's fused ops (Attention, SkipLayerNormalization,
   * FastGelu; `docs/graph.md`), built once and cached under `$VLMKIT_CACHE/optimized` keyed by the
   * file's hash. Outputs equal the original's within float rounding. Default off
   * (`VLMKIT_FUSE_GRAPHS=1` turns it on): on the CPU provider it measured no faster (bench/RESULTS.md).
   */
  fuseGraph?: boolean;
}

/** `onnx/<name><suffix>.onnx` inside a model directory; throws naming the dtype files that do exist. */
export function onnxFile(dir: string, name: string, dtype: OnnxDtype = "fp32"): string {
  const file = path.join(dir, "onnx", onnxFileName(name, dtype));
  if (fs.existsSync(file)) return file;
  const onnxDir = path.join(dir, "onnx");
  const present = fs.existsSync(onnxDir) ? fs.readdirSync(onnxDir).filter((f) => f.endsWith(".onnx")) : [];
  throw new ModelFormatError(
    `${file} not found (dtype "${dtype}"); ${present.length ? `onnx/ holds: ${present.join(", ")}` : `${onnxDir} has no .onnx files`}`,
  );
}

export function hasOnnxFile(dir: string, name: string, dtype: OnnxDtype = "fp32"): boolean {
  return fs.existsSync(path.join(dir, "onnx", onnxFileName(name, dtype)));
}

export interface EncoderSession {
  /** The encoder file as found in the model directory. */
  readonly file: string;
  /** The file the session actually runs: `file`, or its optimized copy in the cache. */
  readonly runs: string;
  readonly session: ort.InferenceSession;
  readonly inputs: ReadonlyMap<string, ort.InferenceSession.ValueMetadata>;
  readonly outputs: ReadonlyMap<string, ort.InferenceSession.ValueMetadata>;
}

/**
 * Opens an encoder file; the caller releases `session` when done. With `fuseGraph`, the fused copy is
 * run instead; if building or loading it fails, a process warning names the reason and the original
 * file is loaded: fusion is an optimization, never a reason not to load.
 */
export async function openEncoderSession(
  file: string,
  options: SessionOptions = {},
): Promise<EncoderSession> {
  let runs = file;
  let session: ort.InferenceSession | undefined;
  if (options.fuseGraph ?? fuseGraphsDefault()) {
    try {
      runs = (await optimizedModelFile(file, path.join(vlmkitCacheDir(), "optimized"))).file;
      session = await createOnnxSession(runs, options);
    } catch (error) {
      process.emitWarning(
        `${file}: running the unfused graph; its fused copy failed: ${(error as Error).message}`,
      );
      runs = file;
    }
  }
  session ??= await createOnnxSession(file, options);
  const byName = (list: readonly ort.InferenceSession.ValueMetadata[]) =>
    new Map(list.map((m) => [m.name, m]));
  return {
    file,
    runs,
    session,
    inputs: byName(session.inputMetadata),
    outputs: byName(session.outputMetadata),
  };
}

/** Throws unless every name is among the session's inputs (or outputs); the message lists both sides. */
export function requireNames(s: EncoderSession, kind: "inputs" | "outputs", names: readonly string[]): void {
  const have = s[kind];
  const missing = names.filter((n) => !have.has(n));
  if (missing.length > 0) {
    throw new ModelFormatError(
      `${s.file} does not fit: expected ${kind} [${names.join(", ")}], missing [${missing.join(", ")}]; the file has ${kind} [${[...have.keys()].join(", ")}]`,
    );
  }
}

/** The element type an input wants (`int64` or `int32` for ids, masks and shapes in different exports). */
export function inputType(s: EncoderSession, name: string): ort.Tensor.Type {
  const meta = s.inputs.get(name);
  return meta?.isTensor ? meta.type : "float32";
}

/** Builds an integer tensor in whichever integer type the model declares for that input. */
export function intTensor(
  s: EncoderSession,
  name: string,
  values: ArrayLike<number>,
  dims: number[],
): ort.Tensor {
  const type = inputType(s, name);
  if (type === "int64")
    return new ort.Tensor("int64", BigInt64Array.from(Array.from(values, (v) => BigInt(v))), dims);
  if (type === "int32") return new ort.Tensor("int32", Int32Array.from(values), dims);
  if (type === "bool") return new ort.Tensor("bool", Uint8Array.from(values), dims);
  if (type === "float32") return new ort.Tensor("float32", Float32Array.from(values), dims);
  throw new ModelFormatError(`${s.file}: input "${name}" has type ${type}, expected an integer type`);
}

/** float32 (or float16 converted to float32) output data. */
export function floatData(t: ort.Tensor, what: string): Float32Array {
  if (t.type === "float32") return t.data as Float32Array;
  if (t.type === "float16") {
    return float16ToFloat32(t.data as Uint16Array);
  }
  throw new ModelFormatError(`${what}: expected a float tensor, got ${t.type}`);
}

/** A float32 input tensor, cast to float16 when the model wants halves. */
export function floatTensor(s: EncoderSession, name: string, data: Float32Array, dims: number[]): ort.Tensor {
  if (inputType(s, name) !== "float16") return new ort.Tensor("float32", data, dims);
  return new ort.Tensor("float16", float32ToFloat16(data), dims);
}
