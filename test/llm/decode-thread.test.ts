// Each context runs its decodes on one long-lived native thread (native/src/decode-thread.h): one
// thread per live context, joined on dispose, never keeping the process alive once idle.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NativeModel } from "../../src/llm/native.js";
import { writeTinyGemma3Gguf } from "../../src/tiny/gemma3.js";

let dir: string;
let ggufPath: string;
let model: NativeModel;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-decode-thread-"));
  ggufPath = path.join(dir, "tiny-gemma3.gguf");
  await writeTinyGemma3Gguf(ggufPath, { seed: 3, type: "f32" });
  model = await NativeModel.load(ggufPath, { gpu: false });
});

afterAll(() => {
  model?.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Threads of this process named by the addon's decode thread. */
function decodeThreads(): number {
  let n = 0;
  for (const task of fs.readdirSync("/proc/self/task")) {
    try {
      if (fs.readFileSync(`/proc/self/task/${task}/comm`, "utf8").trim() === "vlmkit-decode") n++;
    } catch {
      // the thread ended while we listed
    }
  }
  return n;
}

/**
 * The decode-thread count once it settles at `expected` (or after 2 s): a joined thread leaves
 * /proc a moment after pthread_join returns, since the kernel wakes the joiner before reaping it.
 */
async function decodeThreadsSettled(expected: number): Promise<number> {
  const deadline = Date.now() + 2000;
  let n = decodeThreads();
  while (n !== expected && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
    n = decodeThreads();
  }
  return n;
}

describe.runIf(process.platform === "linux")("decode thread", () => {
  it("exists once per live context and is joined when the context is disposed", async () => {
    const before = decodeThreads();
    const a = model.createContext({ contextSize: 256 });
    const b = model.createContext({ contextSize: 256 });
    expect(decodeThreads()).toBe(before + 2);
    // Decodes of two contexts run at once, each on its own thread, and both give the same logits.
    const tokens = model.tokenize("one thread per context");
    await Promise.all([a.decode({ tokens }), b.decode({ tokens })]);
    expect(Array.from(a.logits(tokens.length - 1))).toEqual(Array.from(b.logits(tokens.length - 1)));
    for (let i = 0; i < 8; i++) {
      await Promise.all([
        a.decode({ tokens: [2], positions: [tokens.length + i] }),
        b.decode({ tokens: [2], positions: [tokens.length + i] }),
      ]);
    }
    expect(Array.from(a.logits(0))).toEqual(Array.from(b.logits(0)));
    a.dispose();
    expect(await decodeThreadsSettled(before + 1)).toBe(before + 1);
    // Disposed while a decode runs: the decode settles, then the thread is joined. (Not counted while
    // it runs: ggml's compute threads, started from the decode thread, inherit its name.)
    const running = b.decode({ tokens: [3], positions: [tokens.length + 8] });
    b.dispose();
    await running;
    expect(await decodeThreadsSettled(before)).toBe(before);
  });

  it("lets the process exit with a context left undisposed, and with a decode in flight at dispose", () => {
    const child = path.join(import.meta.dirname, "helpers", "child-decode-exit.ts");
    const result = spawnSync(process.execPath, ["--import", "tsx", child, ggufPath], {
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(result.stderr).not.toMatch(/terminate|Abort|Segmentation/);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("settled");
  });
});
