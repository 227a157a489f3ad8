/**
 * A fuzz worker: a child process that runs cases `from..to` of one format and reports each over IPC
 * before and after it runs, so the parent can name the case that crashed, hung or grew memory. It then
 * waits for the next task (of any format), so that a campaign over many formats starts few workers.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { isVlmkitError } from "../../../src/errors.js";
import { formatByName } from "../formats/index.js";
import { mutateCase } from "./mutate.js";

export interface WorkerTask {
  format: string;
  seedDir: string;
  seed: number;
  from: number;
  to: number;
}

export type WorkerMessage =
  | { type: "ready" }
  | { type: "start"; index: number }
  | {
      type: "done";
      index: number;
      outcome: "ok" | "named" | "unnamed";
      code?: string;
      message?: string;
      rss: number;
    };

const send = (m: WorkerMessage) => process.send!(m);

process.on("message", async (task: WorkerTask) => {
  // Unreferenced while cases run: a case whose promise never settles empties the event loop and the
  // worker exits, which the parent reports. Referenced again while it waits for the next task.
  process.channel?.unref();
  const format = formatByName(task.format);
  const seeds = await format.seeds(task.seedDir);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `vlmkit-fuzz-${task.format}-`));
  fs.cpSync(task.seedDir, work, { recursive: true });
  send({ type: "ready" });
  try {
    for (let index = task.from; index < task.to; index++) {
      send({ type: "start", index });
      const input = mutateCase(seeds, task.seed, index);
      let done: WorkerMessage;
      try {
        await format.run(input, work);
        done = { type: "done", index, outcome: "ok", rss: process.memoryUsage.rss() };
      } catch (error) {
        const rss = process.memoryUsage.rss();
        done = isVlmkitError(error)
          ? { type: "done", index, outcome: "named", code: error.code, rss }
          : { type: "done", index, outcome: "unnamed", message: describe(error), rss };
      }
      send(done);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  process.channel?.ref();
});

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 500);
  return String(error).slice(0, 500);
}
