// `vlmkit models --verify` against a local hub: the listing, config.json / preprocessor_config.json and
// a GGUF header read by range requests, for registry entries whose published files are served here.
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { verifyEntry } from "../../src/cli/registry-check.js";
import { getModel } from "../../src/hub/registry.js";
import { kv, writeGguf } from "../../src/llm/gguf-write.js";
import { configJson, PRESETS, preprocessorJson } from "../../src/tiny/siglip-config.js";
import { serializeSafetensors } from "../../src/util/safetensors.js";
import { spawnCli } from "../helpers/spawn-cli.js";
import { closedPort, FakeHub } from "../hub/fake-hub.js";

const COMMIT = "a".repeat(40);
const ENCODER = "siglip2-base-patch16-224";
const ENCODER_REPO = "onnx-community/siglip2-base-patch16-224-ONNX";
const SOURCE_REPO = "google/siglip2-base-patch16-224";
const LLM_REPO = "unsloth/gemma-3-270m-it-GGUF";
const LLM_FILE = "gemma-3-270m-it-Q8_0.gguf";
const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const bytes = (n: number) => Buffer.alloc(n, 7);

/** What onnx-community publishes for a fixed-resolution SigLIP 2 base at 224 px (the weights are filler). */
function encoderRepo(config: unknown = configJson("siglip2", PRESETS.base, 256000, 0, 1)) {
  return {
    "config.json": json(config),
    "preprocessor_config.json": json(preprocessorJson("siglip2", PRESETS.base)),
    "tokenizer.json": json({ model: {} }),
    "tokenizer_config.json": json({}),
    "onnx/vision_model.onnx": bytes(3000),
    "onnx/vision_model_fp16.onnx": bytes(1500),
    "onnx/vision_model_q4f16.onnx": bytes(900),
    "onnx/text_model.onnx": bytes(200),
    "onnx/text_model.onnx_data": bytes(4000),
  };
}

/** A GGUF holding only the header of gemma-3-270m-it: its metadata and a 262144-token vocabulary. */
let ggufHeader: Buffer;
async function writeHeader(dir: string, blockCount: number): Promise<Buffer> {
  const file = path.join(dir, `header-${blockCount}.gguf`);
  const tokens = Array.from({ length: 262144 }, (_, i) => `t${i}`);
  await writeGguf(file, {
    metadata: {
      "general.architecture": kv.str("gemma3"),
      "gemma3.embedding_length": kv.u32(640),
      "gemma3.block_count": kv.u32(blockCount),
      "tokenizer.ggml.model": kv.str("llama"),
      "tokenizer.ggml.tokens": kv.arr("string", tokens),
    },
    tensors: [],
  });
  return fs.readFile(file);
}

let hub: FakeHub;
let tmp: string;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "vlmkit-verify-"));
  ggufHeader = await writeHeader(tmp, 18);
});
afterAll(() => fs.rm(tmp, { recursive: true, force: true }));

beforeEach(async () => {
  hub = await new FakeHub().start();
});
afterEach(() => hub.stop());

function serve(repo: string, files: Record<string, Buffer>) {
  hub.addRepo(repo, {
    commit: COMMIT,
    files,
    lfs: Object.keys(files).filter((f) => /\.(onnx|onnx_data|gguf|safetensors)$/.test(f)),
  });
}

/** The source checkpoint, holding the zero-shot scalars. */
function serveSource() {
  const scalars = {
    logit_scale: { data: Float32Array.of(Math.log(100)), dims: [1] },
    logit_bias: { data: Float32Array.of(-10), dims: [1] },
  };
  serve(SOURCE_REPO, { "model.safetensors": Buffer.from(serializeSafetensors(scalars)) });
}

describe("verifyEntry", () => {
  it("confirms an encoder whose listing, configs and source checkpoint agree, and records its variants", async () => {
    serve(ENCODER_REPO, encoderRepo());
    serveSource();
    const report = await verifyEntry(getModel(ENCODER), { endpoint: hub.endpoint, token: false });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.commit).toBe(COMMIT);
    expect(report.variants).toEqual({
      vision: ["fp32", "fp16", "q4f16"],
      text: ["fp32"],
      externalData: ["onnx/text_model.onnx_data"],
    });
    expect(report.found).toEqual({ visionHidden: 768, textEmbed: 768, patchSize: 16, imageSize: 224 });
    expect(report.scalars?.scale).toBeCloseTo(100, 3);
    expect(report.scalars?.bias).toBe(-10);
    // The listing, the two configs and the checkpoint's metadata; no weights (the CDN only gave ranges).
    const fetched = hub.requests.filter((r) => r.server === "hub").map((r) => `${r.method} ${r.url}`);
    expect(fetched).toEqual([
      `GET /api/models/${ENCODER_REPO}/revision/main`,
      `GET /${ENCODER_REPO}/resolve/${COMMIT}/config.json`,
      `GET /${ENCODER_REPO}/resolve/${COMMIT}/preprocessor_config.json`,
      `HEAD /${SOURCE_REPO}/resolve/main/model.safetensors`,
    ]);
    const cdn = hub.requests.filter((r) => r.server === "cdn");
    expect(cdn).toHaveLength(4); // the checkpoint's header length, header, and two scalars
    expect(cdn.every((r) => /^bytes=\d+-\d+$/.test(r.range ?? ""))).toBe(true);
  });

  it("names each disagreement: dims, missing towers and root files, chunked external data", async () => {
    const wide = configJson("siglip2", { ...PRESETS.base, hidden: 1024 }, 256000, 0, 1);
    const files: Record<string, Buffer> = encoderRepo(wide);
    delete files["onnx/text_model.onnx"];
    delete files["tokenizer_config.json"];
    files["onnx/vision_model.onnx_data_1"] = bytes(10);
    serve(ENCODER_REPO, files);
    const report = await verifyEntry(getModel(ENCODER), { endpoint: hub.endpoint, token: false });
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      "not in the file listing: tokenizer_config.json, onnx/text_model.onnx",
      "weights split into numbered external-data files, which pull does not fetch: onnx/vision_model.onnx_data_1",
      "vision hidden size: the entry says 768, config.json says 1024",
      "text embedding width: the entry says 768, config.json says 1024",
    ]);
  });

  it("reports an encoder whose source checkpoint cannot give the zero-shot scalars", async () => {
    serve(ENCODER_REPO, encoderRepo());
    const report = await verifyEntry(getModel(ENCODER), { endpoint: hub.endpoint, token: false });
    expect(report.problems).toEqual([
      expect.stringMatching(
        /^zero-shot scalars from google\/siglip2-base-patch16-224: repo google\/siglip2-base-patch16-224 not found/,
      ),
    ]);
  });

  it("reports a repo the hub does not have", async () => {
    const report = await verifyEntry(getModel(ENCODER), { endpoint: hub.endpoint, token: false });
    expect(report.ok).toBe(false);
    expect(report.commit).toBeUndefined();
    expect(report.problems).toEqual([
      expect.stringMatching(/repo onnx-community\/siglip2-base-patch16-224-ONNX not found/),
    ]);
  });

  it("reads an LLM's dims from the GGUF header by range requests", async () => {
    // A file far larger than its header: only a bounded prefix may be transferred (1 MB, then 4 MB).
    const weights = bytes(64 << 20);
    serve(LLM_REPO, { [LLM_FILE]: Buffer.concat([ggufHeader, weights]), "README.md": json("x") });
    const report = await verifyEntry(getModel("gemma-3-270m-it"), {
      endpoint: hub.endpoint,
      token: "hf_secret",
    });
    expect(report.problems).toEqual([]);
    expect(report.found).toEqual({ nEmbd: 640, nLayer: 18, nVocab: 262144 });
    // The token goes to the hub host only, never to the CDN that serves the bytes.
    expect(
      hub.requests.filter((r) => r.server === "hub").every((r) => r.authorization === "Bearer hf_secret"),
    ).toBe(true);
    expect(hub.requests.filter((r) => r.server === "cdn").every((r) => r.authorization === undefined)).toBe(
      true,
    );
    const ranges = hub.requests.filter((r) => r.server === "cdn").map((r) => r.range);
    expect(ranges.length).toBeGreaterThan(0);
    for (const r of ranges) expect(r).toMatch(/^bytes=\d+-\d+$/);
    const last = Math.max(...ranges.map((r) => Number(/-(\d+)$/.exec(r!)![1])));
    expect(ranges).toEqual(["bytes=0-1048575", "bytes=0-4194303"]);
    expect(last).toBeLessThan(ggufHeader.length + (1 << 20));
  });

  it("names a GGUF whose header disagrees, a file that is not GGUF, and one the repo does not list", async () => {
    serve(LLM_REPO, { [LLM_FILE]: await writeHeader(tmp, 17) });
    const wrong = await verifyEntry(getModel("gemma-3-270m-it"), { endpoint: hub.endpoint, token: false });
    expect(wrong.problems).toEqual(["gemma3.block_count: the entry says 18, the GGUF header says 17"]);

    serve(LLM_REPO, { [LLM_FILE]: Buffer.alloc(100, 0x41) });
    const notGguf = await verifyEntry(getModel("gemma-3-270m-it"), { endpoint: hub.endpoint, token: false });
    expect(notGguf.problems).toEqual([
      `GGUF file "${LLM_REPO}/${LLM_FILE}" does not start with the GGUF magic (got 0x41414141)`,
    ]);

    // A header cut off by the file's end (its metadata declares more than the file holds).
    serve(LLM_REPO, { [LLM_FILE]: ggufHeader.subarray(0, 2 << 20) });
    const cut = await verifyEntry(getModel("gemma-3-270m-it"), { endpoint: hub.endpoint, token: false });
    expect(cut.problems).toEqual([expect.stringMatching(/^GGUF file ".*" (declares|ends at byte)/)]);

    hub.addRepo(LLM_REPO, { commit: COMMIT, files: { "gemma-3-270m-it-Q4_0.gguf": ggufHeader }, lfs: [] });
    const missing = await verifyEntry(getModel("gemma-3-270m-it"), { endpoint: hub.endpoint, token: false });
    expect(missing.problems).toEqual([
      `"${LLM_FILE}" is not in the file listing; GGUF files listed: gemma-3-270m-it-Q4_0.gguf`,
    ]);
  });

  it("says checking needs the hub when it cannot be reached", async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    await expect(verifyEntry(getModel(ENCODER), { endpoint, token: false })).rejects.toMatchObject({
      code: "HUB_OFFLINE",
      message: expect.stringMatching(
        /cannot reach 127\.0\.0\.1:\d+ \(ECONNREFUSED\) to check siglip2-base-patch16-224/,
      ),
    });
    await expect(verifyEntry(getModel(ENCODER), { endpoint, offline: true })).rejects.toMatchObject({
      code: "HUB_OFFLINE",
    });
  });
});

describe("vlmkit models --verify", () => {
  it("prints one line per entry, each problem under it, and exits 1 when any entry disagrees", async () => {
    serve(ENCODER_REPO, encoderRepo());
    serveSource();
    serve(LLM_REPO, { [LLM_FILE]: await writeHeader(tmp, 17) });
    const env = { HF_ENDPOINT: hub.endpoint, HF_TOKEN: "", HF_HUB_OFFLINE: "" };
    const good = await spawnCli(["models", "--verify", ENCODER], env).exited;
    expect(good.stderr).toBe("");
    expect(good.code).toBe(0);
    expect(good.stdout).toContain(
      `${ENCODER}  ok  ${ENCODER_REPO}@${COMMIT.slice(0, 12)}  vision fp32,fp16,q4f16; text fp32`,
    );

    const both = await spawnCli(["models", "--verify", ENCODER, "gemma-3-270m-it", "--json"], env).exited;
    expect(both.code).toBe(1);
    const { reports } = JSON.parse(both.stdout) as {
      reports: { id: string; ok: boolean; problems: string[] }[];
    };
    expect(reports.map((r) => [r.id, r.ok])).toEqual([
      [ENCODER, true],
      ["gemma-3-270m-it", false],
    ]);
    expect(reports[1].problems).toEqual(["gemma3.block_count: the entry says 18, the GGUF header says 17"]);

    const one = await spawnCli(["models", "siglip2-base-patch32-256"], env).exited;
    expect(one.code).toBe(0);
    const rows = one.stdout.split("\n").filter((l) => l.startsWith("  "));
    expect(rows).toHaveLength(2); // the header and the one entry, no adapters
    expect(rows[1]).toMatch(
      /^ {2}siglip2-base-patch32-256 +siglip2 +- +manifests +onnx-community\/siglip2-base-patch32-256-ONNX +Dv 768/,
    );

    const unknown = await spawnCli(["models", "--verify", "siglip3-huge"], env).exited;
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/unknown model "siglip3-huge"/);
  });
});
