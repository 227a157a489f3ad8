/**
 * SigLIP's zero-shot scalars, `logit_scale` and `logit_bias`, are weights of the checkpoint; the
 * separate-tower ONNX exports vlmkit downloads leave them out (only a combined `model.onnx`, as large as
 * both towers, applies them). They are read here from the source checkpoint's safetensors on the hub
 * (e.g. `google/siglip2-base-patch16-224`) without downloading it: the header length, the header, then
 * the bytes of the two scalars, each by an HTTP Range request. A sharded checkpoint is found through
 * its `model.safetensors.index.json`.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { AbortError, HubError, ModelFormatError } from "../errors.js";
import {
  decodeSafetensorsFloats,
  parseSafetensorsHeader,
  safetensorsHeaderLength,
} from "../util/safetensors.js";
import { warnOnce } from "../util/warn.js";
import { fetchFileMetadata, fetchJsonFile } from "./download.js";
import { type FileRef, fetchByteRange, hostOf } from "./http.js";
import { type LogitRecord, recordedLogitParams, recordLogitParams } from "./logit-record.js";
import type { VisionEncoderEntry } from "./registry.js";
import type { HubSettings } from "./settings.js";

const SCALARS = ["logit_scale", "logit_bias"] as const;
/** Largest header fetched; a SigLIP checkpoint's lists a few hundred tensors in well under 1 MB. */
const MAX_REMOTE_HEADER_BYTES = 16 << 20;

/** The scalars of `repo`'s safetensors checkpoint: `scale` = exp(logit_scale), `bias` = logit_bias. */
export async function fetchLogitScalars(
  repo: string,
  revision: string,
  settings: HubSettings,
): Promise<LogitRecord> {
  let ref: FileRef = { repo, revision, file: "model.safetensors" };
  let meta: Awaited<ReturnType<typeof fetchFileMetadata>>;
  try {
    meta = await fetchFileMetadata(ref, settings);
  } catch (error) {
    if (
      !(error instanceof HubError && error.code === "NOT_FOUND") ||
      error.details?.errorCode === "RepoNotFound"
    ) {
      throw error;
    }
    // A sharded checkpoint: the index names the shard that holds the scalars.
    const index = (await fetchJsonFile(
      { repo, revision, file: "model.safetensors.index.json" },
      settings,
    ).catch((inner) => {
      if (inner instanceof HubError && inner.code === "NOT_FOUND") {
        throw new HubError(
          "NOT_FOUND",
          `${repo}@${revision} has neither model.safetensors nor model.safetensors.index.json, where the zero-shot scalars are read`,
          { cause: inner, details: { repo, revision } },
        );
      }
      throw inner;
    })) as { weight_map?: Record<string, unknown> };
    const shard = index?.weight_map?.logit_scale;
    if (typeof shard !== "string" || shard.includes("/") || !shard.endsWith(".safetensors")) {
      throw new ModelFormatError(`${repo}: model.safetensors.index.json names no shard for logit_scale`);
    }
    ref = { repo, revision, file: shard };
    meta = await fetchFileMetadata(ref, settings);
  }
  const label = `${repo}@${meta.commit}:${ref.file}`;
  const req = { token: settings.token, tokenHost: hostOf(settings.endpoint), signal: settings.signal };
  const headerLength = safetensorsHeaderLength(
    await fetchByteRange(meta.location, 0, 8, req),
    label,
    meta.size,
  );
  if (headerLength > MAX_REMOTE_HEADER_BYTES) {
    throw new ModelFormatError(
      `${label} declares a ${headerLength}-byte header; a checkpoint's header is read only up to ${MAX_REMOTE_HEADER_BYTES} bytes`,
    );
  }
  const header = parseSafetensorsHeader(
    await fetchByteRange(meta.location, 8, headerLength, req),
    meta.size,
    label,
  );
  const values: number[] = [];
  for (const name of SCALARS) {
    const t = header.get(name);
    if (!t) throw new ModelFormatError(`${label} has no tensor "${name}"; is it a SigLIP checkpoint?`);
    if (t.shape.reduce((a, b) => a * b, 1) !== 1) {
      throw new ModelFormatError(`${label}: "${name}" has shape [${t.shape.join(", ")}]; expected one value`);
    }
    const bytes = await fetchByteRange(meta.location, t.begin, t.end - t.begin, req);
    const value = decodeSafetensorsFloats(bytes, t.dtype, label, name)[0];
    if (!Number.isFinite(value)) throw new ModelFormatError(`${label}: "${name}" is ${value}`);
    values.push(value);
  }
  return { scale: Math.exp(values[0]), bias: values[1], source: label };
}

/**
 * `onnx/text_model*.onnx` present and no fp32 combined `onnx/model.onnx` (from which the scalars are
 * recovered for any dtype; a combined file of another dtype serves only that dtype).
 */
async function needsRecord(dir: string): Promise<boolean> {
  const names = await fs.readdir(path.join(dir, "onnx")).catch(() => [] as string[]);
  return (
    names.some((n) => n.startsWith("text_model") && n.endsWith(".onnx")) && !names.includes("model.onnx")
  );
}

/**
 * For a known encoder fetched into `dir` with its text tower: records its scalars from the source
 * checkpoint, once, so zero-shot scores work. A failure is a warning, not an error: embeddings and the
 * VLM path need no scalars, and a later zero-shot call says what is missing.
 */
export async function recordLogitScalars(
  entry: VisionEncoderEntry,
  dir: string,
  settings: HubSettings,
): Promise<void> {
  if (recordedLogitParams(dir) || !(await needsRecord(dir))) return;
  let scalars: LogitRecord;
  try {
    scalars = await fetchLogitScalars(entry.source, "main", settings);
  } catch (error) {
    if (error instanceof AbortError) throw error;
    warnOnce(
      `logit-scalars:${entry.id}`,
      `zero-shot scores for ${entry.id} need logit_scale and logit_bias from ${entry.source}, which could not be read ` +
        `(${error instanceof Error ? error.message : String(error)}); embeddings and the VLM path work without them`,
    );
    return;
  }
  try {
    await recordLogitParams(dir, scalars);
  } catch (error) {
    warnOnce(
      `logit-record:${entry.id}`,
      `the zero-shot scalars of ${entry.id} could not be recorded (${error instanceof Error ? error.message : String(error)}); ` +
        `pass logitParams {scale: ${scalars.scale}, bias: ${scalars.bias}} to Siglip.load, or make the vlmkit cache writable`,
    );
  }
}
