/**
 * Training checkpoints: `readCheckpoint` on a checkpoint written by `saveCheckpoint` after a few
 * optimizer steps (safetensors with weights, moments and JSON metadata); then `loadLatestCheckpoint`,
 * which must skip an unusable newest file and fall back to the previous one.
 */
import fs from "node:fs";
import path from "node:path";
import { LinearAdapter } from "../../../src/adapter/linear-adapter.js";
import { CheckpointError } from "../../../src/errors.js";
import {
  checkpointDir,
  loadLatestCheckpoint,
  readCheckpoint,
  saveCheckpoint,
} from "../../../src/train/loop/checkpoint.js";
import { AdamW, adapterParamGroups } from "../../../src/train/loop/optimizer.js";
import { type FuzzFormat, withMember } from "../harness/format.js";
import { safetensorsSeeds } from "./safetensors.js";

const IDENTITY = { dataset: "d", encoder: "e", llm: "l", lr: 0.001 };
const NEWEST = "checkpoints/step-00000002.safetensors";

export const checkpoint: FuzzFormat = {
  name: "checkpoint",
  target: "readCheckpoint, then loadLatestCheckpoint's fallback to the previous file",
  suiteCases: 150,
  timeoutMs: 10_000,
  async prepare(dir) {
    const adapter = LinearAdapter.init({ inputSize: 6, outputSize: 4, seed: 1 });
    const optimizer = new AdamW(adapterParamGroups(adapter));
    for (const step of [1, 2]) {
      optimizer.update(
        optimizer.groups.map((g) => g.data.map((x, i) => Math.sin(x * step + i))),
        0.01,
      );
      await saveCheckpoint(dir, {
        step,
        epoch: 0,
        position: step,
        seed: 3,
        identity: IDENTITY,
        adapter,
        optimizer,
      });
    }
    await adapter.dispose();
    if (!fs.existsSync(path.join(checkpointDir(dir), path.basename(NEWEST))))
      throw new Error("no checkpoint written");
  },
  async seeds(dir) {
    return safetensorsSeeds(fs.readFileSync(path.join(dir, NEWEST)), NEWEST);
  },
  async run(input, work) {
    await withMember(work, NEWEST, input.bytes, async () => {
      let newestUsable = true;
      try {
        const loaded = await readCheckpoint(path.join(work, NEWEST));
        await loaded.adapter.dispose();
      } catch (error) {
        if (!(error instanceof CheckpointError)) throw error;
        newestUsable = false;
      }
      const loaded = await loadLatestCheckpoint(work, { identity: IDENTITY, onReport: () => {} });
      if (!loaded) throw new Error("no checkpoint found although the older one is intact");
      await loaded.adapter.dispose();
      if (!newestUsable && loaded.step !== 1)
        throw new Error(`resumed from step ${loaded.step}, not the intact step 1`);
    });
  },
};
