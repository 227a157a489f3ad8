import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isCached } from "../../src/hub/cache.js";
import { getModel } from "../../src/hub/registry.js";
import { resolveModelDir, snapshotDownload } from "../../src/hub/snapshot.js";
import { FakeHub } from "./fake-hub.js";

const COMMIT = "c".repeat(40);
const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const encoderFiles = {
  "config.json": json({ model_type: "siglip" }),
  "preprocessor_config.json": json({ size: { height: 224, width: 224 } }),
  "tokenizer.json": json({ model: {} }),
  "tokenizer_config.json": json({}),
  "onnx/vision_model.onnx": randomBytes(5000),
  "onnx/vision_model_fp16.onnx": randomBytes(3000),
  "onnx/text_model_fp16.onnx": randomBytes(1000),
  "onnx/text_model_fp16.onnx_data": randomBytes(7000),
};

let hub: FakeHub;
let cacheDir: string;

beforeEach(async () => {
  hub = await new FakeHub().start();
  hub.addRepo("Xenova/siglip-base-patch16-224", {
    commit: COMMIT,
    files: encoderFiles,
    lfs: Object.keys(encoderFiles).filter((f) => f.startsWith("onnx/")),
  });
  hub.addRepo("acme/tiny-gguf", {
    commit: "d".repeat(40),
    files: { "README.md": json("x"), "tiny-Q8_0.gguf": randomBytes(4000) },
    lfs: ["tiny-Q8_0.gguf"],
  });
  cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), "vlmkit-snap-"));
});

afterEach(async () => {
  await hub.stop();
  await fs.rm(cacheDir, { recursive: true, force: true });
});

const opts = () => ({ endpoint: hub.endpoint, cacheDir, token: false as const });

describe("snapshotDownload", () => {
  it("pins the commit of the first answer: a branch that moves mid-pull does not split the snapshot", async () => {
    const repo = hub.repos.get("acme/tiny-gguf")!;
    const first = repo.commit;
    let heads = 0;
    hub.onResolve = () => {
      if (++heads === 2) repo.commit = "e".repeat(40); // main moves once the first HEAD was answered
    };
    const snap = await snapshotDownload("acme/tiny-gguf", {
      ...opts(),
      files: ["README.md", "tiny-Q8_0.gguf"],
    });
    expect(snap.commit).toBe(first);
    expect(snap.files.map((f) => f.commit)).toEqual([first, first]);
    const snapshots = await fs.readdir(path.join(cacheDir, "models--acme--tiny-gguf", "snapshots"));
    expect(snapshots).toEqual([first]);
    expect((await fs.readdir(snap.dir)).sort()).toEqual(["README.md", "tiny-Q8_0.gguf"]);
    const resolves = hub.requests.filter((r) => r.server === "hub" && r.url.includes("/resolve/"));
    expect(resolves[0].url).toContain("/resolve/main/");
    for (const r of resolves.slice(1)) expect(r.url).toContain(`/resolve/${first}/`);
  });

  it("fetches a registry model's files for a dtype, skipping optional files the repo lacks", async () => {
    const progress: [number, number][] = [];
    const snap = await snapshotDownload("siglip-base-patch16-224", {
      ...opts(),
      dtype: "fp16",
      onProgress: (done, total) => progress.push([done, total]),
    });
    expect(snap.dir).toBe(
      path.join(cacheDir, "models--Xenova--siglip-base-patch16-224", "snapshots", COMMIT),
    );
    const got = snap.files.map((f) => path.relative(snap.dir, f.path)).sort();
    expect(got).toEqual(
      [
        "config.json",
        "onnx/text_model_fp16.onnx",
        "onnx/text_model_fp16.onnx_data",
        "onnx/vision_model_fp16.onnx",
        "preprocessor_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
      ].map((f) => path.join(...f.split("/"))),
    );
    for (const f of ["onnx/vision_model_fp16.onnx", "onnx/text_model_fp16.onnx_data"] as const) {
      expect(await fs.readFile(path.join(snap.dir, f))).toEqual(encoderFiles[f]);
    }
    // The fp32 tower was not fetched.
    await expect(fs.access(path.join(snap.dir, "onnx/vision_model.onnx"))).rejects.toThrow();
    const total = Object.entries(encoderFiles)
      .filter(([f]) => !f.startsWith("onnx/vision_model.onnx"))
      .reduce((s, [, b]) => s + b.length, 0);
    expect(progress.at(-1)).toEqual([total, total]);
    const dones = progress.map(([d]) => d);
    expect(dones).toEqual([...dones].sort((a, b) => a - b));
  });

  it("resolveModelDir uses a complete cached copy without any request", async () => {
    const snap = await snapshotDownload("siglip-base-patch16-224", { ...opts(), dtype: "fp16" });
    expect(await isCached(getModel("siglip-base-patch16-224"), { cacheDir, dtype: "fp16" })).toBe(true);
    expect(await isCached(getModel("siglip-base-patch16-224"), { cacheDir, dtype: "fp32" })).toBe(false);
    const before = hub.requests.length;
    expect(await resolveModelDir("siglip-base-patch16-224", { ...opts(), dtype: "fp16" })).toBe(snap.dir);
    expect(await resolveModelDir("Xenova/siglip-base-patch16-224", { ...opts(), dtype: "fp16" })).toBe(
      snap.dir,
    );
    expect(hub.requests.length).toBe(before);
    expect(await resolveModelDir(snap.dir)).toBe(snap.dir); // a local folder is itself
  });

  it("resolveModelDir downloads when the cache lacks the model, and refuses when downloads are off", async () => {
    await expect(
      resolveModelDir("siglip-base-patch16-224", { ...opts(), dtype: "fp16", download: false }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    const dir = await resolveModelDir("siglip-base-patch16-224", { ...opts(), dtype: "fp16" });
    expect(await fs.readFile(path.join(dir, "config.json"))).toEqual(encoderFiles["config.json"]);
  });

  it("resolveModelDir says a mistyped path is no such directory, without asking the hub", async () => {
    const here = await fs.mkdtemp(path.join(os.tmpdir(), "vlmkit-paths-"));
    await fs.mkdir(path.join(here, "models"));
    await fs.writeFile(path.join(here, "file.txt"), "x");
    const cwd = process.cwd();
    process.chdir(here);
    try {
      for (const value of ["./models/nope", path.join(here, "nope"), "~/nope", "a/b/c"]) {
        await expect(resolveModelDir(value, opts())).rejects.toMatchObject({
          code: "INVALID_ARGUMENT",
          message: `"${value}": no such directory; expected a model directory, a known id (see \`vlmkit models\`) or an org/repo on the hub`,
        });
      }
      // org/repo-shaped, but its first part is a folder here: a path, unless that repo is cached.
      await expect(resolveModelDir("models/nope", opts())).rejects.toThrow(
        /^"models\/nope": no such directory \(models\/ exists here\); for the hub repo of that name, run `vlmkit pull models\/nope` first/,
      );
      await expect(resolveModelDir("file.txt", opts())).rejects.toThrow(
        /"file.txt": is a file, not a model directory/,
      );
      expect(hub.requests).toEqual([]);
    } finally {
      process.chdir(cwd);
      await fs.rm(here, { recursive: true, force: true });
    }
  });

  it("picks the single GGUF of a repo outside the registry from the hub's file listing", async () => {
    const snap = await snapshotDownload("acme/tiny-gguf", opts());
    expect(snap.files.map((f) => path.basename(f.path))).toEqual(["tiny-Q8_0.gguf"]);
    expect(hub.requests.some((r) => r.url.startsWith("/api/models/acme/tiny-gguf/revision/main"))).toBe(true);
  });

  it("fails with NOT_FOUND when a required file is missing, before transferring anything", async () => {
    await expect(
      snapshotDownload("siglip-base-patch16-224", { ...opts(), dtype: "q4" }),
    ).rejects.toMatchObject({
      code: "NOT_FOUND",
      message: expect.stringContaining("onnx/vision_model_q4.onnx"),
    });
    expect(hub.count("cdn")).toBe(0);
  });

  it("rejects names that are neither known ids nor org/repo", async () => {
    await expect(snapshotDownload("not a model", opts())).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });
});
