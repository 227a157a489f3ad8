/**
 * SigLIP's zero-shot scalars recorded for one encoder directory, for exports that do not carry them
 * (the separate-tower ONNX files): `<vlmkit cache>/logit-params/dir-<hash of the directory's real path>.json`.
 * The hub writes the record when it fetches a known encoder (from the source checkpoint's weights);
 * `resolveLogitParams` reads it when the directory has no combined model to recover them from.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { vlmkitCacheDir } from "../env.js";
import { writeFileAtomic } from "../util/fs.js";

export interface LogitParams {
  /** exp(logit_scale): the multiplier on cosine similarity. */
  scale: number;
  /** logit_bias. */
  bias: number;
}

export interface LogitRecord extends LogitParams {
  /** Where the values were read, e.g. `google/siglip2-base-patch16-224@<commit>:model.safetensors`. */
  source: string;
}

/** Keyed by the directory's real path, so a cache reached through a symbolic link finds the same record. */
function recordFile(dir: string): string {
  let real = path.resolve(dir);
  try {
    real = fs.realpathSync(real);
  } catch {
    // a directory that does not exist has no record either way
  }
  const key = crypto.createHash("sha256").update(real).digest("hex").slice(0, 32);
  return path.join(vlmkitCacheDir(), "logit-params", `dir-${key}.json`);
}

/** The record for `dir`, or undefined when there is none (or it is unreadable). */
export function recordedLogitParams(dir: string): LogitRecord | undefined {
  try {
    const r = JSON.parse(fs.readFileSync(recordFile(dir), "utf8")) as Partial<LogitRecord>;
    if (Number.isFinite(r.scale) && Number.isFinite(r.bias) && typeof r.source === "string") {
      return { scale: r.scale!, bias: r.bias!, source: r.source };
    }
  } catch {
    // no record yet
  }
  return undefined;
}

/** Writes the record for `dir` (atomically). */
export async function recordLogitParams(dir: string, record: LogitRecord): Promise<void> {
  await writeFileAtomic(recordFile(dir), JSON.stringify(record));
}
