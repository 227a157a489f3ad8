// Zero-shot scores for a known encoder whose hub repo has only the separate towers: the two scalars are
// read from the source checkpoint's safetensors by Range requests when the encoder is pulled, and
// recorded for its directory.
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Siglip } from "../../src/encoders/siglip.js";
import { fetchLogitScalars } from "../../src/hub/logit-scalars.js";
import { resolveHubSettings } from "../../src/hub/settings.js";
import { snapshotDownload } from "../../src/hub/snapshot.js";
import { writeTinySiglip } from "../../src/tiny/siglip.js";
import { serializeSafetensors } from "../../src/util/safetensors.js";
import { spawnCli } from "../helpers/spawn-cli.js";
import { FakeHub } from "./fake-hub.js";

const ROOT = path.join(import.meta.dirname, "..", "..");
const IMAGES = ["red-circle.png", "blue-square.png"].map((n) => path.join(ROOT, "examples", "images", n));
const LABELS = ["a red circle", "a blue square", "a green triangle"];
const COMMIT = "b".repeat(40);
const SOURCE = "google/siglip2-base-patch16-224";
const EXPORT = "onnx-community/siglip2-base-patch16-224-ONNX";
const LOGIT_SCALE = 4.7; // exp → 109.95
const LOGIT_BIAS = -16.5;

/** A checkpoint with a 4 MB weight before the scalars, so reading it whole would show in the transfer. */
function checkpoint(scale = LOGIT_SCALE, bias = LOGIT_BIAS): Buffer {
  return Buffer.from(
    serializeSafetensors({
      "vision_model.embeddings.patch_embedding.weight": {
        data: new Float32Array(1 << 20),
        dims: [1024, 1024],
      },
      logit_scale: { data: Float32Array.of(scale), dims: [1] },
      logit_bias: { data: Float32Array.of(bias), dims: [1] },
    }),
  );
}

let hub: FakeHub;
let tmp: string;
let full: Awaited<ReturnType<typeof writeTinySiglip>>;
let towersOnly: Record<string, Buffer>;
const savedCache = process.env.VLMKIT_CACHE;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "vlmkit-logit-"));
  process.env.VLMKIT_CACHE = path.join(tmp, "vlmkit-cache");
  // One tiny SigLIP 2, with the combined model (the reference) and as the hub export (towers only).
  full = await writeTinySiglip(path.join(tmp, "full"), {
    variant: "siglip2",
    seed: 3,
    logitScale: LOGIT_SCALE,
    logitBias: LOGIT_BIAS,
  });
  towersOnly = {};
  for (const file of full.files) {
    const rel = path.relative(full.dir, file).split(path.sep).join("/");
    if (!rel.startsWith("onnx/model")) towersOnly[rel] = await fs.readFile(file);
  }
});
afterAll(async () => {
  if (savedCache === undefined) delete process.env.VLMKIT_CACHE;
  else process.env.VLMKIT_CACHE = savedCache;
  await fs.rm(tmp, { recursive: true, force: true });
});

beforeEach(async () => {
  hub = await new FakeHub().start();
});
afterEach(() => hub.stop());

const settings = () =>
  resolveHubSettings({ endpoint: hub.endpoint, token: false, cacheDir: path.join(tmp, "hub") });

describe("fetchLogitScalars", () => {
  it("reads the two scalars by Range requests, not the checkpoint", async () => {
    const file = checkpoint();
    hub.addRepo(SOURCE, { commit: COMMIT, files: { "model.safetensors": file }, lfs: ["model.safetensors"] });
    const got = await fetchLogitScalars(SOURCE, "main", settings());
    expect(got.scale).toBeCloseTo(Math.exp(LOGIT_SCALE), 4);
    expect(got.bias).toBeCloseTo(LOGIT_BIAS, 6);
    expect(got.source).toBe(`${SOURCE}@${COMMIT}:model.safetensors`);
    const ranges = hub.requests.filter((r) => r.server === "cdn").map((r) => r.range!);
    expect(ranges).toHaveLength(4); // length, header, logit_scale, logit_bias
    const transferred = ranges
      .map((r) => /^bytes=(\d+)-(\d+)$/.exec(r)!)
      .reduce((n, m) => n + Number(m[2]) - Number(m[1]) + 1, 0);
    expect(transferred).toBeLessThan(1024);
    expect(file.length).toBeGreaterThan(4 << 20);
  });

  it("reads only the start of a file from a server that ignores Range", async () => {
    hub.addRepo(SOURCE, { commit: COMMIT, files: { "model.safetensors": checkpoint(1, 2) }, lfs: [] });
    const got = await fetchLogitScalars(SOURCE, "main", settings());
    expect([got.scale, got.bias]).toEqual([Math.E, 2]);
    expect(hub.count("cdn")).toBe(0);
  });

  it("finds the scalars' shard of a sharded checkpoint through its index", async () => {
    const shard = "model-00002-of-00002.safetensors";
    const index = {
      weight_map: {
        logit_scale: shard,
        logit_bias: shard,
        "vision_model.x": "model-00001-of-00002.safetensors",
      },
    };
    hub.addRepo(SOURCE, {
      commit: COMMIT,
      files: {
        "model.safetensors.index.json": Buffer.from(JSON.stringify(index)),
        [shard]: checkpoint(2, -3),
      },
      lfs: [shard],
    });
    const got = await fetchLogitScalars(SOURCE, "main", settings());
    expect([got.scale, got.bias]).toEqual([Math.exp(2), -3]);
    expect(got.source).toBe(`${SOURCE}@${COMMIT}:${shard}`);
  });

  it("names a checkpoint without the scalars, and a header that runs past the file", async () => {
    const plain = Buffer.from(serializeSafetensors({ w: { data: new Float32Array(4), dims: [4] } }));
    hub.addRepo(SOURCE, {
      commit: COMMIT,
      files: { "model.safetensors": plain },
      lfs: ["model.safetensors"],
    });
    await expect(fetchLogitScalars(SOURCE, "main", settings())).rejects.toThrow(
      `${SOURCE}@${COMMIT}:model.safetensors has no tensor "logit_scale"; is it a SigLIP checkpoint?`,
    );
    const lying = Buffer.from(plain);
    lying.writeBigUInt64LE(50_000n, 0);
    hub.addRepo(SOURCE, {
      commit: COMMIT,
      files: { "model.safetensors": lying },
      lfs: ["model.safetensors"],
    });
    await expect(fetchLogitScalars(SOURCE, "main", settings())).rejects.toThrow(
      /header length 50000 runs past the end of the file/,
    );
    const huge = Buffer.alloc(40 << 20);
    huge.writeBigUInt64LE(BigInt(32 << 20), 0);
    hub.addRepo(SOURCE, { commit: COMMIT, files: { "model.safetensors": huge }, lfs: ["model.safetensors"] });
    const before = hub.requests.length;
    await expect(fetchLogitScalars(SOURCE, "main", settings())).rejects.toThrow(
      /declares a 33554432-byte header; a checkpoint's header is read only up to 16777216 bytes/,
    );
    // Only the 8-byte length was read from the CDN, not the declared header.
    expect(
      hub.requests
        .slice(before)
        .filter((r) => r.server === "cdn")
        .map((r) => r.range),
    ).toEqual(["bytes=0-7"]);
  });
});

describe("a known encoder without a combined model", () => {
  it("pull records the scalars; zero-shot scores then equal those of the combined model", async () => {
    hub.addRepo(EXPORT, {
      commit: COMMIT,
      files: towersOnly,
      lfs: Object.keys(towersOnly).filter((f) => f.startsWith("onnx/")),
    });
    hub.addRepo(SOURCE, {
      commit: COMMIT,
      files: { "model.safetensors": checkpoint() },
      lfs: ["model.safetensors"],
    });
    const snap = await snapshotDownload("siglip2-base-patch16-224", {
      endpoint: hub.endpoint,
      token: false,
      cacheDir: path.join(tmp, "hub"),
    });
    const pulled = await Siglip.load(snap.dir);
    const reference = await Siglip.load(full.dir);
    try {
      const got = await pulled.classify(IMAGES, LABELS);
      const want = await reference.classify(IMAGES, LABELS);
      expect(got.map((r) => r.map((s) => s.label))).toEqual(want.map((r) => r.map((s) => s.label)));
      for (let i = 0; i < want.length; i++) {
        for (let j = 0; j < LABELS.length; j++) expect(got[i][j].score).toBeCloseTo(want[i][j].score, 5);
      }
    } finally {
      await pulled.dispose();
      await reference.dispose();
    }
  });

  it("without a record, zero-shot says what is missing and how to get it; the CLI pull records it", async () => {
    hub.addRepo(EXPORT, {
      commit: COMMIT,
      files: towersOnly,
      lfs: Object.keys(towersOnly).filter((f) => f.startsWith("onnx/")),
    });
    const env = {
      HF_ENDPOINT: hub.endpoint,
      HF_HUB_CACHE: path.join(tmp, "hub-cli"),
      VLMKIT_CACHE: path.join(tmp, "vlmkit-cache-cli"),
      HF_TOKEN: "",
      HF_HUB_OFFLINE: "",
    };
    // The source checkpoint is not there: pull warns once and still succeeds (the VLM path needs no scalars).
    const pull = await spawnCli(["pull", "siglip2-base-patch16-224"], env).exited;
    expect(pull.code).toBe(0);
    expect(pull.stderr).toMatch(
      /warning: zero-shot scores for siglip2-base-patch16-224 need logit_scale and logit_bias from google\/siglip2-base-patch16-224, which could not be read/,
    );
    const args = [
      "classify",
      IMAGES[0],
      "--labels",
      LABELS.join(","),
      "--encoder",
      "siglip2-base-patch16-224",
    ];
    const refused = await spawnCli(args, env).exited;
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(
      /no combined onnx\/model\.onnx to recover them from, and none were recorded for it .*vlmkit pull <id>/,
    );

    // Once the checkpoint is reachable, pull again (the files come from the cache) and classify works.
    hub.addRepo(SOURCE, {
      commit: COMMIT,
      files: { "model.safetensors": checkpoint() },
      lfs: ["model.safetensors"],
    });
    expect((await spawnCli(["pull", "siglip2-base-patch16-224"], env).exited).stderr).toBe("");
    const ok = await spawnCli(args, env).exited;
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/a red circle/);
  });
});
