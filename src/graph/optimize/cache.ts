/**
 * Optimized copies of ONNX files, cached by content: `<cacheDir>/<sha256 of the file and its
 * external data>.onnx` (+ `.onnx_data`). Built once by `optimizeModel`, written atomically (the data
 * file first, then the model file, each through a temporary file and a rename), so a reader that sees
 * the model file sees complete data.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { readModel } from "../read.js";
import { saveModelProto } from "../serialize.js";
import { type FusionCounts, optimizeModel } from "./optimize.js";

/** Bumped whenever the rewrites change, so stale optimized files are not reused. */
export const OPTIMIZER_VERSION = 1;

/** sha256 over the file and, when present, its `<file>_data`, plus the optimizer version. */
export async function modelHash(file: string): Promise<string> {
  const hash = createHash("sha256");
  hash.update(`vlmkit-optimize-v${OPTIMIZER_VERSION}\n`);
  for (const f of [file, `${file}_data`]) {
    if (!fs.existsSync(f)) continue;
    for await (const chunk of fs.createReadStream(f)) hash.update(chunk as Buffer);
  }
  return hash.digest("hex");
}

export interface OptimizedFile {
  /** The optimized model file (in the cache). */
  file: string;
  /** Rewrites made; `undefined` when the file came from the cache. */
  fused?: FusionCounts;
}

/** The cached optimized copy of `file`, building it first if absent. */
export async function optimizedModelFile(file: string, cacheDir: string): Promise<OptimizedFile> {
  const target = path.join(cacheDir, `${(await modelHash(file)).slice(0, 40)}.onnx`);
  if (fs.existsSync(target)) return { file: target };
  const { model, fused } = optimizeModel(await readModel(file));
  await saveModelProto(model, target);
  return { file: target, fused };
}
