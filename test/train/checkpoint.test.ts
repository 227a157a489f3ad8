import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { Adapter } from "../../src/adapter/kinds/types.js";
import { LinearAdapter } from "../../src/adapter/linear-adapter.js";
import { CheckpointError } from "../../src/errors.js";
import type { Tensor } from "../../src/tensor.js";
import {
  checkpointDir,
  checkpointDue,
  identityDifferences,
  loadLatestCheckpoint,
  saveCheckpoint,
} from "../../src/train/loop/checkpoint.js";
import { AdamW, adapterParamGroups } from "../../src/train/loop/optimizer.js";

/** The linear weight of a checkpointed adapter. */
const w = (a: Adapter) => a.toTensors().get("linear.weight") as Tensor;

const identity = { dataset: "sha-a", encoder: "enc-1", llm: "gemma", lr: 0.001, batchSize: 4 };

/** Trains a tiny adapter a few steps so weights and moments are non-trivial. */
function trainedState(steps: number) {
  const adapter = LinearAdapter.init({ inputSize: 6, outputSize: 4, seed: 1 });
  const optimizer = new AdamW(adapterParamGroups(adapter));
  for (let t = 1; t <= steps; t++) {
    optimizer.update(
      optimizer.groups.map((g) => g.data.map((x, i) => Math.sin(x * t + i))),
      0.01,
    );
  }
  return { adapter, optimizer };
}

function tempOut(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-ckpt-"));
}

describe("checkpoints", () => {
  it("round-trips weights, moments and position, and keeps the last two", async () => {
    const out = tempOut();
    let last: ReturnType<typeof trainedState> | undefined;
    for (const step of [50, 100, 150]) {
      last = trainedState(step / 50);
      await saveCheckpoint(out, { step, epoch: 1, position: step / 10, seed: 9, identity, ...last });
    }
    expect(fs.readdirSync(checkpointDir(out)).sort()).toEqual([
      "step-00000100.safetensors",
      "step-00000150.safetensors",
    ]);
    const loaded = await loadLatestCheckpoint(out, { identity });
    expect(loaded).toMatchObject({ step: 150, epoch: 1, position: 15, seed: 9, identity });
    expect(w(loaded!.adapter).data).toEqual(w(last!.adapter).data);
    expect(w(loaded!.adapter).dims).toEqual([4, 6]);
    expect(loaded!.adapter.toTensors().get("linear.bias")?.data).toEqual(
      last!.adapter.toTensors().get("linear.bias")?.data,
    );
    const saved = last!.optimizer.state();
    expect(loaded!.optimizer).toEqual(saved);
    const resumed = new AdamW(adapterParamGroups(loaded!.adapter));
    resumed.load(loaded!.optimizer);
    expect(resumed.step).toBe(3);
  });

  it("resumes from the previous checkpoint when the newest is truncated or altered", async () => {
    const out = tempOut();
    const a = trainedState(1);
    await saveCheckpoint(out, { step: 10, epoch: 0, position: 40, seed: 0, identity, ...a });
    const b = trainedState(2);
    const newest = await saveCheckpoint(out, { step: 20, epoch: 0, position: 80, seed: 0, identity, ...b });
    const bytes = fs.readFileSync(newest);
    fs.writeFileSync(newest, bytes.subarray(0, bytes.length - 100));
    const reports: string[] = [];
    const loaded = await loadLatestCheckpoint(out, { identity, onReport: (m) => reports.push(m) });
    expect(loaded!.step).toBe(10);
    expect(w(loaded!.adapter).data).toEqual(w(a.adapter).data);
    expect(reports[0]).toMatch(/step-00000020\.safetensors is unusable/);

    // Same length, one value changed: only the digest can tell.
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 2] ^= 0x40;
    fs.writeFileSync(newest, flipped);
    const again = await loadLatestCheckpoint(out, { identity, onReport: (m) => reports.push(m) });
    expect(again!.step).toBe(10);
    expect(reports[1]).toMatch(/does not match its sha256/);
  });

  it("refuses to resume a different run, naming what differs", async () => {
    const out = tempOut();
    await saveCheckpoint(out, { step: 5, epoch: 0, position: 20, seed: 0, identity, ...trainedState(1) });
    const other = { ...identity, lr: 0.002, dataset: "sha-b" };
    const error = await loadLatestCheckpoint(out, { identity: other }).catch((e) => e);
    expect(error).toBeInstanceOf(CheckpointError);
    expect(error.code).toBe("CHECKPOINT_MISMATCH");
    expect(error.message).toContain('dataset: "sha-a" → "sha-b"');
    expect(error.message).toContain("lr: 0.001 → 0.002");
    expect(identityDifferences(identity, { ...identity, extra: 1 })).toEqual(["extra: null → 1"]);
  });

  it("finds nothing in a fresh output folder and ignores temp files of a killed write", async () => {
    const out = tempOut();
    expect(await loadLatestCheckpoint(out)).toBeUndefined();
    fs.mkdirSync(checkpointDir(out));
    fs.writeFileSync(path.join(checkpointDir(out), ".step-00000007.safetensors.1.abcd.tmp"), "half");
    expect(await loadLatestCheckpoint(out)).toBeUndefined();
    await saveCheckpoint(out, { step: 8, epoch: 0, position: 32, seed: 0, identity, ...trainedState(1) });
    expect(fs.readdirSync(checkpointDir(out))).toEqual(["step-00000008.safetensors"]);
  });

  it("is due every N steps and after the last", () => {
    expect([49, 50, 51, 100, 123].map((s) => checkpointDue(s, 123))).toEqual([
      false,
      true,
      false,
      true,
      true,
    ]);
    expect(checkpointDue(3, 10, 0)).toBe(false);
  });
});
