/**
 * Training checkpoints: `<out>/checkpoints/step-<8 digits>.safetensors`, one self-contained file each
 * (adapter weights, AdamW moments, and in the metadata the adapter's kind and factor, the step, epoch, position in the epoch, shuffle
 * seed and the run's identity). A file is written to a temp name, fsynced, renamed, and the folder is
 * fsynced, so a killed process leaves either the whole file or none; there is no "latest" pointer to
 * go stale: resuming scans the folder and takes the newest file that verifies (sha256 of its tensor
 * data is in its metadata). The last `keep` (default 2) are kept.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { adapterFromTensors } from "../../adapter/kinds/registry.js";
import type { Adapter } from "../../adapter/kinds/types.js";
import { CheckpointError, InvalidArgumentError } from "../../errors.js";
import { type Tensor, tensor } from "../../tensor.js";
import { writeFileAtomic } from "../../util/fs.js";
import { parseSafetensors, serializeSafetensors } from "../../util/safetensors.js";
import { type AdamW, type AdamWState, adapterParamGroups } from "./optimizer.js";

const FORMAT = "vlmkit-checkpoint-1";
const NAME = /^step-(\d{8})\.safetensors$/;

/**
 * What must match for a run to resume: dataset, encoder, LLM and hyperparameters, as short strings or
 * numbers (hashes for files). Compared key by key, so a refusal names what differs.
 */
export type RunIdentity = Readonly<Record<string, string | number | boolean>>;

export interface CheckpointState {
  /** Optimizer steps done. */
  step: number;
  /** 0-based epoch the next step belongs to (or the last one, when the epoch is finished). */
  epoch: number;
  /** Examples of `epoch` already used. */
  position: number;
  /** Seed of the per-epoch shuffle: the whole example order follows from it (see `shuffle`). */
  seed: number;
  identity: RunIdentity;
  adapter: Adapter;
  optimizer: AdamW;
}

export interface LoadedCheckpoint extends Omit<CheckpointState, "optimizer"> {
  /** Moments in `adapterParamGroups` order, for `AdamW.load`. */
  optimizer: AdamWState;
  file: string;
}

export interface SaveCheckpointOptions {
  /** Checkpoints to keep, newest first. Default 2. */
  keep?: number;
}

export interface ResumeOptions {
  /** When given, a checkpoint written for another identity is refused with `CheckpointError` naming the differences. */
  identity?: RunIdentity;
  /** Told about files that were skipped as incomplete or corrupt. Default: stderr. */
  onReport?: (message: string) => void;
}

export function checkpointDir(outDir: string): string {
  return path.join(outDir, "checkpoints");
}

/** Whether a checkpoint is due after `step`: every `every` steps (default 50) and after the last one. */
export function checkpointDue(step: number, totalSteps: number, every = 50): boolean {
  return step === totalSteps || (every > 0 && step % every === 0);
}

/** sha256 of a file's contents (for the dataset entry of a `RunIdentity`). */
export async function fileSha256(file: string): Promise<string> {
  const hash = crypto.createHash("sha256");
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

function tensorDigest(tensors: ReadonlyMap<string, Tensor>): string {
  const hash = crypto.createHash("sha256");
  for (const name of [...tensors.keys()].sort()) {
    const t = tensors.get(name)!;
    hash.update(name).update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return hash.digest("hex");
}

/** Keys whose values differ between a checkpoint's identity and this run's, as "key: saved → now". */
export function identityDifferences(saved: RunIdentity, current: RunIdentity): string[] {
  const keys = [...new Set([...Object.keys(saved), ...Object.keys(current)])].sort();
  return keys
    .filter((k) => saved[k] !== current[k])
    .map((k) => `${k}: ${JSON.stringify(saved[k] ?? null)} → ${JSON.stringify(current[k] ?? null)}`);
}

export async function saveCheckpoint(
  outDir: string,
  state: CheckpointState,
  options: SaveCheckpointOptions = {},
): Promise<string> {
  const keep = options.keep ?? 2;
  if (!Number.isInteger(keep) || keep < 1)
    throw new InvalidArgumentError(`keep ${keep}; expected an integer ≥ 1`);
  if (!Number.isInteger(state.step) || state.step < 0 || state.step > 99_999_999) {
    throw new InvalidArgumentError(`checkpoint step ${state.step}; expected an integer in [0, 99999999]`);
  }
  const opt = state.optimizer.state();
  const names = state.optimizer.groups.map((g) => g.name);
  const tensors = new Map<string, Tensor>(state.adapter.toTensors()); // the adapter's parameters by name
  for (const [i, name] of names.entries()) {
    tensors.set(`optimizer.m.${name}`, tensor(opt.m[i], [opt.m[i].length]));
    tensors.set(`optimizer.v.${name}`, tensor(opt.v[i], [opt.v[i].length]));
  }
  const metadata = {
    format: FORMAT,
    adapter_kind: state.adapter.kind,
    adapter_factor: String(state.adapter.factor),
    step: String(state.step),
    epoch: String(state.epoch),
    position: String(state.position),
    seed: String(state.seed),
    optimizer_step: String(opt.step),
    optimizer_groups: JSON.stringify(names),
    identity: JSON.stringify(state.identity),
    tensors_sha256: tensorDigest(tensors),
    time: new Date().toISOString(),
  };
  const dir = checkpointDir(outDir);
  const file = path.join(dir, `step-${String(state.step).padStart(8, "0")}.safetensors`);
  await writeFileAtomic(file, serializeSafetensors(tensors, metadata));
  await syncDir(dir);
  await prune(dir, keep);
  return file;
}

/** fsync the folder so the rename itself survives a crash of the machine, not only of the process. */
async function syncDir(dir: string): Promise<void> {
  const handle = await fs.promises.open(dir, "r");
  try {
    await handle.sync();
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic.
  } finally {
    await handle.close();
  }
}

/** Checkpoint files in `dir`, newest first. */
async function listCheckpoints(dir: string): Promise<{ step: number; file: string }[]> {
  const names = fs.existsSync(dir) ? await fs.promises.readdir(dir) : [];
  return names
    .map((n) => ({ m: NAME.exec(n), n }))
    .filter((x) => x.m !== null)
    .map((x) => ({ step: Number(x.m![1]), file: path.join(dir, x.n) }))
    .sort((a, b) => b.step - a.step);
}

/** Deletes all but the newest `keep` checkpoints, and temp files a killed write left behind. */
async function prune(dir: string, keep: number): Promise<void> {
  for (const { file } of (await listCheckpoints(dir)).slice(keep))
    await fs.promises.rm(file, { force: true });
  for (const n of await fs.promises.readdir(dir)) {
    if (n.startsWith(".step-") && n.endsWith(".tmp") && !n.includes(`.${process.pid}.`)) {
      await fs.promises.rm(path.join(dir, n), { force: true });
    }
  }
}

/** Reads and verifies one checkpoint file; throws `CheckpointError` when it is incomplete or corrupt. */
export async function readCheckpoint(file: string): Promise<LoadedCheckpoint> {
  const bad = (why: string, cause?: unknown) =>
    new CheckpointError("CHECKPOINT_NOT_FOUND", `checkpoint ${file} is unusable: ${why}`, { cause });
  let contents: ReturnType<typeof parseSafetensors>;
  try {
    contents = parseSafetensors(await fs.promises.readFile(file), file);
  } catch (cause) {
    throw bad((cause as Error).message, cause);
  }
  const { tensors, metadata: md } = contents;
  if (md.format !== FORMAT) throw bad(`format ${JSON.stringify(md.format)}, expected "${FORMAT}"`);
  if (md.tensors_sha256 !== tensorDigest(tensors)) throw bad("its tensor data does not match its sha256");
  // Checkpoints written before adapter kinds hold a linear adapter.
  const kind = md.adapter_kind ?? "linear";
  const factor = Number(md.adapter_factor ?? 1);
  const params = new Map([...tensors].filter(([name]) => !name.startsWith("optimizer.")));
  let adapter: Adapter;
  try {
    adapter = adapterFromTensors(kind, factor, params, file);
  } catch (cause) {
    throw bad((cause as Error).message, cause);
  }
  const json = <T>(key: string): T => {
    try {
      return JSON.parse(md[key]) as T;
    } catch (cause) {
      throw bad(`metadata ${key} is not JSON: ${JSON.stringify(md[key])}`, cause);
    }
  };
  const names = json<string[]>("optimizer_groups");
  const expected = adapterParamGroups(adapter).map((g) => g.name);
  if (JSON.stringify(names) !== JSON.stringify(expected)) {
    throw bad(`optimizer groups ${JSON.stringify(names)}, expected ${JSON.stringify(expected)}`);
  }
  const moment = (kind: "m" | "v") =>
    names.map((n) => {
      const t = tensors.get(`optimizer.${kind}.${n}`);
      if (!t) throw bad(`it lacks optimizer.${kind}.${n}`);
      return t.data;
    });
  return {
    file,
    step: Number(md.step),
    epoch: Number(md.epoch),
    position: Number(md.position),
    seed: Number(md.seed),
    identity: json<RunIdentity>("identity"),
    adapter,
    optimizer: { step: Number(md.optimizer_step), m: moment("m"), v: moment("v") },
  };
}

/**
 * The newest checkpoint under `<outDir>/checkpoints` that reads and verifies, skipping (and reporting)
 * broken ones; undefined when there is none. Refuses one written for another run identity.
 */
export async function loadLatestCheckpoint(
  outDir: string,
  options: ResumeOptions = {},
): Promise<LoadedCheckpoint | undefined> {
  const report = options.onReport ?? ((m: string) => process.stderr.write(`${m}\n`));
  for (const { file } of await listCheckpoints(checkpointDir(outDir))) {
    let loaded: LoadedCheckpoint;
    try {
      loaded = await readCheckpoint(file);
    } catch (error) {
      if (!(error instanceof CheckpointError)) throw error;
      report(`${error.message}; trying an older one`);
      continue;
    }
    const differences = options.identity ? identityDifferences(loaded.identity, options.identity) : [];
    if (differences.length > 0) {
      throw new CheckpointError(
        "CHECKPOINT_MISMATCH",
        `cannot resume from ${file}: it was written for another run (${differences.join("; ")})`,
        { details: { differences } },
      );
    }
    return loaded;
  }
  return undefined;
}
