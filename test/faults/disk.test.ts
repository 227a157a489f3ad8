// Writes that fail halfway: a full disk (a 1 MiB tmpfs) and a read-only file system (the same tmpfs
// remounted read-only; as root, permission bits would not stop a write). Each write must fail with
// WRITE_FAILED naming the file, leave the previous files readable and unchanged, and leave no temp
// file behind. Needs mount(2) (root or CAP_SYS_ADMIN): without it the tests are skipped, not passed.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { loadAdapter, saveAdapter } from "../../src/adapter/adapter-files.js";
import type { AdapterCardInput } from "../../src/adapter/card.js";
import { LinearAdapter } from "../../src/adapter/linear-adapter.js";
import { isVlmkitError } from "../../src/errors.js";
import { downloadFile } from "../../src/hub/download.js";
import { loadLatestCheckpoint, saveCheckpoint } from "../../src/train/loop/checkpoint.js";
import { AdamW, adapterParamGroups } from "../../src/train/loop/optimizer.js";
import { writeColourFolder } from "../compare/helpers.js";
import { spawnCli } from "../helpers/spawn-cli.js";
import { FakeHub } from "../hub/fake-hub.js";

const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-small-fs-"));
let mounted = false;
try {
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint], { stdio: "ignore" });
  mounted = true;
} catch {
  // not permitted here: the describe below is skipped and says why
}

afterAll(() => {
  if (mounted) execFileSync("umount", [mountPoint]);
  fs.rmSync(mountPoint, { recursive: true, force: true });
});
afterEach(() => {
  if (!mounted) return;
  execFileSync("mount", ["-o", "remount,rw", mountPoint]);
  for (const f of fs.readdirSync(mountPoint))
    fs.rmSync(path.join(mountPoint, f), { recursive: true, force: true });
});

/** Fills the file system up to `leave` free bytes. */
function fill(leave: number): void {
  const { bavail, bsize } = fs.statfsSync(mountPoint);
  const free = bavail * bsize;
  if (free > leave) fs.writeFileSync(path.join(mountPoint, "filler"), Buffer.alloc(free - leave));
}

/** `vlmkit compare --task knn --seed <seed>` of the two demo encoders into `out`; its exit code and stderr. */
async function compareInto(out: string, data: string, seed = "1") {
  const demo = path.resolve("models/demo");
  const run = await spawnCli(
    ["compare", "--encoders", `siglip=${demo}/siglip,siglip2=${demo}/siglip2`, "--data", data].concat([
      "--task",
      "knn",
      "--seed",
      seed,
      "--out",
      out,
    ]),
    { VLMKIT_CACHE: path.join(outside, "cache") },
  ).exited;
  return { code: run.code, stderr: run.stderr };
}

/** A folder off the small file system (datasets, caches). */
const outside = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-faults-"));
afterAll(() => fs.rmSync(outside, { recursive: true, force: true }));

function readOnly(): void {
  execFileSync("mount", ["-o", "remount,ro", mountPoint]);
}

/** Every file under `dir` with its bytes, temp files included. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(dir, { recursive: true }).map(String).sort()) {
    const p = path.join(dir, f);
    if (fs.statSync(p).isFile() && f !== "filler") out[f] = fs.readFileSync(p).toString("base64");
  }
  return out;
}

/** The demo adapter's card with other dims. */
function card(inputSize: number, outputSize: number): AdapterCardInput {
  const { format_version, embedding_scale, created_with, ...demo } = JSON.parse(
    fs.readFileSync("models/demo/adapter/adapter.json", "utf8"),
  );
  return {
    ...demo,
    encoder: { ...demo.encoder, hidden: inputSize },
    llm: { ...demo.llm, n_embd: outputSize },
  };
}

describe.skipIf(!mounted)("a full or read-only disk (1 MiB tmpfs)", () => {
  it("saveAdapter: WRITE_FAILED, the previous adapter still loads unchanged", async () => {
    const dir = path.join(mountPoint, "adapter");
    const small = LinearAdapter.init({ inputSize: 8, outputSize: 4, seed: 1 });
    await saveAdapter(dir, small, card(8, 4)).catch((e) => {
      throw new Error(`the first save must fit: ${e.message}`);
    });
    const before = snapshot(dir);
    fill(64 * 1024);
    const big = LinearAdapter.init({ inputSize: 256, outputSize: 512, seed: 2 }); // 512 KiB of weights
    await expect(saveAdapter(dir, big, card(256, 512))).rejects.toMatchObject({
      code: "WRITE_FAILED",
      message: expect.stringMatching(
        /cannot write .*adapter\.safetensors: no space left on the device \(ENOSPC\)/,
      ),
    });
    expect(snapshot(dir)).toEqual(before); // no temp file, same bytes
    const loaded = await loadAdapter(dir);
    expect([loaded.projection.outputSize, loaded.projection.inputSize]).toEqual([4, 8]);
    await loaded.projection.dispose();

    fs.rmSync(path.join(mountPoint, "filler"));
    readOnly();
    await expect(saveAdapter(dir, small, card(8, 4))).rejects.toMatchObject({
      code: "WRITE_FAILED",
      message: expect.stringContaining("the file system is read-only (EROFS)"),
    });
    expect(snapshot(dir)).toEqual(before);
    await Promise.all([small.dispose(), big.dispose()]);
  });

  it("saveCheckpoint: WRITE_FAILED, the previous checkpoint still resumes", async () => {
    const out = path.join(mountPoint, "run");
    const identity = { dataset: "d" };
    const small = LinearAdapter.init({ inputSize: 8, outputSize: 4, seed: 1 });
    await saveCheckpoint(out, {
      step: 1,
      epoch: 0,
      position: 1,
      seed: 1,
      identity,
      adapter: small,
      optimizer: new AdamW(adapterParamGroups(small)),
    });
    const before = snapshot(out);
    fill(64 * 1024);
    const big = LinearAdapter.init({ inputSize: 128, outputSize: 256, seed: 2 }); // weights + 2 moments: 384 KiB
    await expect(
      saveCheckpoint(out, {
        step: 2,
        epoch: 0,
        position: 2,
        seed: 1,
        identity,
        adapter: big,
        optimizer: new AdamW(adapterParamGroups(big)),
      }),
    ).rejects.toMatchObject({
      code: "WRITE_FAILED",
      message: expect.stringContaining("step-00000002.safetensors: no space left"),
    });
    expect(snapshot(out)).toEqual(before);
    const resumed = await loadLatestCheckpoint(out, { identity, onReport: () => {} });
    expect(resumed?.step).toBe(1);
    await Promise.all([small.dispose(), big.dispose(), resumed?.adapter.dispose()]);
  });

  it("vlmkit compare --out: WRITE_FAILED naming the file, the previous report intact (all three files)", async () => {
    const data = await writeColourFolder(path.join(outside, "data"), 24);
    const out = path.join(mountPoint, "report");
    const first = await compareInto(out, data.classes);
    expect(first.code, first.stderr).toBe(0);
    const before = snapshot(out);
    expect(Object.keys(before).sort()).toEqual(["report.html", "results.csv", "results.json"]);
    // One free page: each file alone fits but not all three at once. Written one by one, results.json
    // and results.csv of the new run would replace the old ones before report.html fails.
    fill(4096);
    const full = await compareInto(out, data.classes, "2");
    expect(full.code).not.toBe(0);
    expect(full.stderr).toMatch(
      /cannot write .*(results\.json|results\.csv|report\.html): no space left on the device \(ENOSPC\)/,
    );
    expect(full.stderr).not.toMatch(/^\s+at /m); // a message, not a stack
    expect(snapshot(out)).toEqual(before);

    fs.rmSync(path.join(mountPoint, "filler"));
    readOnly();
    const ro = await compareInto(out, data.classes);
    expect(ro.code).not.toBe(0);
    expect(ro.stderr).toMatch(/cannot write .*report.*: the file system is read-only \(EROFS\)/);
    expect(snapshot(out)).toEqual(before);
    // A new folder on the read-only file system: refused before any encoder runs.
    const fresh = await compareInto(path.join(mountPoint, "new-report"), data.classes);
    expect(fresh.stderr).toMatch(/cannot write .*new-report.*read-only \(EROFS\); nothing was written/);
  }, 120_000);

  it("a download: a named error, the blob already in the cache intact", async () => {
    const hub = await new FakeHub().start();
    try {
      const small = Buffer.from(JSON.stringify({ model_type: "siglip" }));
      const large = Buffer.alloc(2 << 20, 7); // larger than the file system
      hub.addRepo("acme/big", {
        commit: "c".repeat(40),
        files: { "config.json": small, "model.onnx": large },
        lfs: ["model.onnx"],
      });
      const cacheDir = path.join(mountPoint, "hub");
      const opts = { endpoint: hub.endpoint, cacheDir, token: false as const, repo: "acme/big" };
      const first = await downloadFile({ ...opts, file: "config.json" });
      const error = await downloadFile({ ...opts, file: "model.onnx" }).catch((e: unknown) => e);
      expect(isVlmkitError(error), String(error)).toBe(true);
      expect((error as Error).message).toMatch(/no space left on the device|ENOSPC/);
      expect(fs.readFileSync(first.path)).toEqual(small);
    } finally {
      await hub.stop();
    }
  });
});
