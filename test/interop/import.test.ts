// Import of an mmproj as llama.cpp's converter lays it out (F16 input projection, soft_emb_norm + 1,
// default pool size absent), of a model GGUF that carries its LLM, through the CLI, and refusal of
// malformed or unsupported files with named errors.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initAdapter, readAdapterCard, saveAdapter } from "../../src/adapter/index.js";
import { InvalidArgumentError, ModelFormatError } from "../../src/errors.js";
import { importMmproj, readMmproj } from "../../src/interop/index.js";
import { kv } from "../../src/llm/gguf-write.js";
import { vocabFingerprint } from "../../src/llm/identity.js";
import { tinyGemma3Vocab } from "../../src/tiny/gemma3.js";
import { spawnCli } from "../helpers/spawn-cli.js";
import {
  type ConverterOptions,
  type HfGemma3Projector,
  randomHfProjector,
  roundF16,
  writeConverterMmproj,
} from "./converter-fixture.js";
import {
  DL,
  DV,
  difference,
  fixtureCard,
  type Parts,
  testImage,
  vlmkitEmbeddings,
  writeParts,
} from "./fixtures.js";

let dir: string;
let parts: Parts;
let hf: HfGemma3Projector;
let n = 0;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-interop-import-"));
  parts = await writeParts(dir);
  hf = randomHfProjector(11);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function converterFile(options: ConverterOptions = {}): Promise<string> {
  const file = path.join(dir, `converted-${n++}.gguf`);
  await writeConverterMmproj(file, parts.encoder, hf, options);
  return file;
}

/** The adapter the HF projector is, in vlmkit's terms: norm.weight = 1 + w, proj.weight = Wᵀ (F16-rounded as stored). */
async function referenceAdapter(): Promise<string> {
  const w = roundF16(hf.inputProjection); // [Dv, Dl]
  const proj = new Float32Array(DL * DV);
  for (let i = 0; i < DV; i++) for (let o = 0; o < DL; o++) proj[o * DV + i] = w[i * DL + o];
  const adapter = initAdapter("avgpool", { inputSize: DV, outputSize: DL, factor: 4 });
  const t = adapter.toTensors();
  t.get("norm.weight")!.data.set(hf.softEmbNorm.map((x) => x + 1));
  t.get("proj.weight")!.data.set(proj);
  const out = path.join(dir, "reference-adapter");
  await saveAdapter(out, adapter, fixtureCard("x", 4, true));
  await adapter.dispose();
  return out;
}

describe("import of a converter-written Gemma 3 mmproj", () => {
  it("reproduces the HF projector's embeddings (+1 norm, F16 projection, default pool 4)", async () => {
    const file = await converterFile();
    const m = await readMmproj(file);
    expect({ projector: m.projector, factor: m.factor, layers: m.layers }).toEqual({
      projector: "gemma3",
      factor: 4,
      layers: 2,
    });
    const imported = await importMmproj(file, { out: path.join(dir, "imp-converter"), llm: parts.llm });
    expect((await readAdapterCard(imported.adapterDir)).prompt).toEqual({
      style: "gemma-chat",
      image_tokens: 4,
    });
    const image = testImage();
    const expected = await vlmkitEmbeddings(parts.encoder, await referenceAdapter(), image);
    const got = await vlmkitEmbeddings(imported.encoderDir, imported.adapterDir, image);
    const d = difference(expected.data, got.data);
    console.log(`converter layout import: max |Δ| ${d.max.toExponential(2)} (rms ${d.rms.toFixed(3)})`);
    // Same weights (F16 values decode exactly), same graph: identical.
    expect(d.max).toBe(0);
  });

  it("reads old files with fc1/fc2 stored as ffn_down/ffn_up as llama.cpp does", async () => {
    const image = testImage();
    const [plain, legacy] = [await converterFile(), await converterFile({ legacyFfnNames: true })];
    const a = await importMmproj(plain, { out: path.join(dir, "imp-plain"), llm: parts.llm });
    const b = await importMmproj(legacy, { out: path.join(dir, "imp-legacy"), llm: parts.llm });
    const d = difference(
      (await vlmkitEmbeddings(a.encoderDir, a.adapterDir, image)).data,
      (await vlmkitEmbeddings(b.encoderDir, b.adapterDir, image)).data,
    );
    expect(d.max).toBe(0);
  });

  it("takes the LLM identity from a model GGUF that carries v.*/mm.* itself", async () => {
    const file = await converterFile({ withLlm: true });
    const imported = await importMmproj(file, { out: path.join(dir, "imp-model") });
    const card = await readAdapterCard(imported.adapterDir);
    expect(card.llm.name).toBe("tiny gemma3 with vision");
    expect(card.llm.vocab_fingerprint).toBe(vocabFingerprint(tinyGemma3Vocab().tokens));
  });

  it("asks for --llm when a bare mmproj names no vocabulary", async () => {
    const error = await importMmproj(await converterFile(), { out: path.join(dir, "imp-nollm") }).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toMatch(/--llm/);
  });

  it("works from the CLI", async () => {
    const out = path.join(dir, "imp-cli");
    const args = ["import", "mmproj", await converterFile(), "--out", out, "--llm", parts.llm];
    const r = await spawnCli([...args, "--json"]).exited;
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      projector: "gemma3",
      kind: "avgpool",
      factor: 4,
      imageTokens: 4,
    });
    expect(fs.existsSync(path.join(out, "encoder", "onnx", "vision_model.onnx"))).toBe(true);
    const again = await spawnCli(args).exited;
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists/);
  });
});

describe("malformed and unsupported files are refused by name", () => {
  const f16 = (name: string, dims: number[]) => ({
    name,
    dims,
    type: "F32" as const,
    data: new Float32Array(dims.reduce((a, b) => a * b, 1)),
  });
  const cases: [string, ConverterOptions, RegExp][] = [
    [
      "an unsupported projector type",
      { metadata: { "clip.projector_type": kv.str("qwen2vl") } },
      /"qwen2vl" is not supported; vlmkit imports "gemma3", "idefics3", "mlp"/,
    ],
    ["no projector type", { metadata: { "clip.projector_type": undefined } }, /no "clip.projector_type"/],
    [
      "a missing tensor",
      { tensors: { "v.blk.1.attn_k.weight": null } },
      /tensor "v.blk.1.attn_k.weight" is missing/,
    ],
    [
      "wrong dims",
      { tensors: { "v.blk.0.attn_q.bias": f16("v.blk.0.attn_q.bias", [31]) } },
      /"v.blk.0.attn_q.bias" is \[31\]; expected \[32\]/,
    ],
    [
      "a huge block count",
      { metadata: { "clip.vision.block_count": kv.u32(4_000_000) } },
      /block_count" is 4000000; expected an integer in 1..256/,
    ],
    [
      "heads that do not divide the width",
      { metadata: { "clip.vision.attention.head_count": kv.u32(5) } },
      /not divisible by head_count 5/,
    ],
    ["gelu_quick", { metadata: { "clip.use_gelu": undefined } }, /gelu_quick or silu/],
    ["a pre-layernorm", { tensors: { "v.pre_ln.weight": f16("v.pre_ln.weight", [32]) } }, /pre-layernorm/],
    [
      "a pool that does not divide the grid",
      { metadata: { "clip.vision.projector.scale_factor": kv.u32(3) } },
      /pools 3×3 patches/,
    ],
    [
      "a projection_dim that disagrees",
      { metadata: { "clip.vision.projection_dim": kv.u32(65) } },
      /projection_dim" is 65 but the projector outputs 64/,
    ],
    [
      "NaN weights",
      {
        tensors: {
          "v.post_ln.bias": {
            name: "v.post_ln.bias",
            dims: [32],
            type: "F32",
            data: new Float32Array(32).fill(Number.NaN),
          },
        },
      },
      /"v.post_ln.bias" holds a non-finite value/,
    ],
  ];
  for (const [what, options, message] of cases) {
    it(what, async () => {
      const file = await converterFile(options);
      const error = await importMmproj(file, { out: path.join(dir, `bad-${n}`), llm: parts.llm }).catch(
        (e) => e,
      );
      expect(error).toBeInstanceOf(ModelFormatError);
      expect(error.message).toMatch(message);
      expect(fs.existsSync(path.join(dir, `bad-${n}`, "encoder"))).toBe(false);
    });
  }

  it("a truncated file", async () => {
    const file = await converterFile();
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const error = await readMmproj(file).catch((e) => e);
    expect(error).toBeInstanceOf(ModelFormatError);
  });

  it("a file that is not GGUF", async () => {
    const file = path.join(dir, "not.gguf");
    fs.writeFileSync(file, "hello, this is not a model");
    expect(await readMmproj(file).catch((e) => e)).toBeInstanceOf(ModelFormatError);
  });
});

// Found by `npm run fuzz -- --format mmproj`: errors quoted a file's values whole (a 100 000-character
// string, every element of an array), and a 64-bit feature layer made the message itself throw.
describe("errors quote a file's values briefly", () => {
  const long = "x".repeat(100_000);
  const cases: [string, ConverterOptions, RegExp][] = [
    [
      "a 64-bit feature layer out of range",
      {
        metadata: {
          "clip.projector_type": kv.str("mlp"),
          "clip.vision.feature_layer": kv.u64(5_000_000_000n),
        },
      },
      /"clip.vision.feature_layer" is 5000000000; vlmkit takes one feature layer in 1..2/,
    ],
    [
      "an array of 64-bit feature layers",
      {
        metadata: {
          "clip.projector_type": kv.str("mlp"),
          "clip.vision.feature_layer": kv.arr(
            "int64",
            Array.from({ length: 50_000 }, (_, i) => BigInt(i)),
          ),
        },
      },
      /"clip.vision.feature_layer" is \[0, 1, 2, .*\(50000 values\)/,
    ],
    [
      "a long string for a boolean",
      { metadata: { "clip.use_gelu": kv.str(long) } },
      /"clip.use_gelu" is "xxx/,
    ],
    [
      "a long projector type",
      { metadata: { "clip.projector_type": kv.str(long) } },
      /projector type "xxx.*is not supported/,
    ],
    [
      "an array for an integer",
      {
        metadata: {
          "clip.vision.block_count": kv.arr(
            "uint32",
            Array.from({ length: 100_000 }, (_, i) => i),
          ),
        },
      },
      /"clip.vision.block_count" is \[0, 1, 2, .*\(100000 values\)\]; expected an integer/,
    ],
    [
      "a long architecture in a model GGUF",
      { withLlm: true, metadata: { "general.architecture": kv.str(long) } },
      /metadata "xxx.*is missing/,
    ],
  ];
  for (const [what, options, message] of cases) {
    it(what, async () => {
      const error = await readMmproj(await converterFile(options)).catch((e) => e);
      expect(error).toBeInstanceOf(ModelFormatError);
      expect(error.message).toMatch(message);
      expect(error.message.length).toBeLessThan(400);
    });
  }
});
