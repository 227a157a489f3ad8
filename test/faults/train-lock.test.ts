// Two training runs into one output folder: the second is refused (BUSY) while the first holds the
// folder's lock, and a lock left by a process that is gone is taken over.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { withBlobLock } from "../../src/hub/blob-lock.js";
import { TRAIN_LOCK_FILE, trainAdapter } from "../../src/train/loop/trainer.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-train-lock-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Options that pass the settings check; the run fails later on the missing dataset if it starts at all. */
const options = (out: string) => ({
  data: path.join(dir, "missing.jsonl"),
  encoder: path.join(dir, "no-encoder"),
  llm: path.join(dir, "no.gguf"),
  out,
  onReport: () => {},
});

describe("one training run per output folder", () => {
  it("refuses a second run while another process holds the folder", async () => {
    const out = path.join(dir, "busy");
    fs.mkdirSync(out);
    // Another live process takes the lock the way trainAdapter does and holds it.
    const holder = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "-e",
        `import { withBlobLock } from "${path.resolve("src/hub/blob-lock.ts")}";
         await withBlobLock(${JSON.stringify(path.join(out, TRAIN_LOCK_FILE))}, async () => {
           process.stdout.write("held\\n");
           await new Promise((r) => process.stdin.once("data", r));
         }, { wait: false });`,
      ],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    await new Promise<void>((resolve) => holder.stdout!.once("data", () => resolve()));
    try {
      await expect(trainAdapter(options(out))).rejects.toMatchObject({
        code: "BUSY",
        message: expect.stringContaining(`the training output folder ${out} is in use by another process`),
      });
    } finally {
      holder.stdin!.end("go\n");
      await new Promise((r) => holder.once("exit", r));
    }
    // Released: the next run gets past the lock (and fails on its missing dataset instead).
    const next = await trainAdapter(options(out)).catch((e: { code?: string }) => e);
    expect((next as { code?: string }).code).not.toBe("BUSY");
    expect(fs.existsSync(path.join(out, TRAIN_LOCK_FILE))).toBe(false);
  });

  it("takes over a lock whose process is gone", async () => {
    const out = path.join(dir, "stale");
    fs.mkdirSync(out);
    fs.writeFileSync(
      path.join(out, TRAIN_LOCK_FILE),
      JSON.stringify({ pid: 2 ** 22 + 12345, host: os.hostname() }),
    );
    const result = await trainAdapter(options(out)).catch((e: { code?: string }) => e);
    expect((result as { code?: string }).code).not.toBe("BUSY");
  });

  it("lets a lock holder in this process refuse a second holder without waiting", async () => {
    const lock = path.join(dir, "inner.lock");
    await withBlobLock(lock, async () => {
      await expect(
        withBlobLock(lock, async () => 1, { wait: false, what: "the thing" }),
      ).rejects.toMatchObject({
        code: "BUSY",
      });
    });
  });
});
