// Parity with llama.cpp itself (not with vlmkit's own writer): an adapter exported as an mmproj, run by
// llama.cpp's libmtmd (vlmkit-mtmd-embed, built from the llama.cpp source node-llama-cpp bundles), gives
// the image embeddings vlmkit computes, per exported kind; llama.cpp's resize is measured against
// vlmkit's; and llama-mtmd-cli answers greedily with the text `Vlm.ask` gives.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RgbImage } from "../../src/image/index.js";
import { exportMmproj, importMmproj } from "../../src/interop/index.js";
import { GEMMA3_CHAT_TEMPLATE, writeTinyGemma3Gguf } from "../../src/tiny/gemma3.js";
import { writeTinySiglip } from "../../src/tiny/siglip.js";
import { Vlm } from "../../src/vlm.js";
import { llamaTool } from "../helpers/llama-tools.js";
import { randomHfProjector, writeConverterMmproj } from "./converter-fixture.js";
import {
  DL,
  difference,
  IMAGE_SIZE,
  type Parts,
  readF32,
  testImage,
  vlmkitEmbeddings,
  writeAdapter,
  writeParts,
} from "./fixtures.js";

const run = promisify(execFile);

let dir: string;
let parts: Parts;
let embedTool: string;
let cliTool: string;

const KINDS = [
  ["avgpool", 4, 4],
  ["pixel-shuffle", 2, 16],
  ["mlp", 1, 64],
] as const;
/** Adapter directory and exported f32 mmproj of each kind. */
const exported: Record<string, { adapter: string; mmproj: string }> = {};

beforeAll(async () => {
  [embedTool, cliTool] = [await llamaTool("vlmkit-mtmd-embed"), await llamaTool("llama-mtmd-cli")];
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-interop-llama-"));
  parts = await writeParts(dir);
  for (const [kind, factor] of KINDS) {
    const adapter = await writeAdapter(path.join(dir, `adapter-${kind}`), kind, factor);
    const mmproj = path.join(dir, `${kind}.gguf`);
    await exportMmproj({ encoder: parts.encoder, adapter, out: mmproj });
    exported[kind] = { adapter, mmproj };
  }
}, 3_600_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** llama.cpp's image embeddings for `image` (raw RGB, so only mtmd's resize and normalisation apply, or a file). */
async function mtmdEmbeddings(
  mmproj: string,
  image: RgbImage | string,
): Promise<{ data: Float32Array; tokens: number }> {
  const out = path.join(dir, `embd-${process.hrtime.bigint()}.f32`);
  const args = [parts.llm, mmproj];
  if (typeof image === "string") args.push(image, out);
  else {
    const raw = `${out}.rgb`;
    fs.writeFileSync(raw, image.data);
    args.push(raw, out, "--rgb", `${image.width}x${image.height}`);
  }
  const { stdout } = await run(embedTool, [...args, "--threads", "1"]);
  const info = JSON.parse(stdout) as { tokens: number; width: number };
  expect(info.width).toBe(DL);
  const data = readF32(out);
  expect(data.length).toBe(info.tokens * DL);
  return { data, tokens: info.tokens };
}

async function writePng(image: RgbImage, file: string): Promise<string> {
  await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .png()
    .toFile(file);
  return file;
}

function report(what: string, d: { max: number; mean: number; rms: number }): void {
  console.log(
    `${what}: max |Δ| ${d.max.toExponential(2)}, mean |Δ| ${d.mean.toExponential(2)} (embedding rms ${d.rms.toFixed(3)})`,
  );
}

describe("image embeddings: vlmkit vs llama.cpp's mtmd on the exported mmproj", () => {
  // llama.cpp runs the tower in float32 on the CPU, but its GELU rounds inputs and outputs to half
  // precision (ggml's GGML_GELU_FP16 table), its flash attention casts K and V to float16 (clip.cpp,
  // build_attn) and its kernels sum in another order: through two layers and the projector that leaves
  // differences of a few 1e-3 on unit-RMS embeddings (measured: ≤ 7e-3). 2e-2 bounds that with room and
  // is far below what any layout or convention error gives (a wrong transpose, a missing +1, swapped
  // fc1/fc2 or a wrong block order move the embeddings by O(1)).
  const TOLERANCE = 2e-2;
  for (const [kind, , tokens] of KINDS) {
    it(`${kind}: image at image_size`, async () => {
      const { adapter, mmproj } = exported[kind];
      const image = testImage();
      const ours = await vlmkitEmbeddings(parts.encoder, adapter, image);
      const theirs = await mtmdEmbeddings(mmproj, image);
      expect(theirs.tokens).toBe(tokens);
      expect(ours.dims).toEqual([tokens, DL]);
      const d = difference(ours.data, theirs.data);
      report(`${kind} (f32 mmproj)`, d);
      expect(d.max).toBeLessThan(TOLERANCE);
    });
  }

  it("an mmproj written as llama.cpp's converter writes it, imported, gives mtmd's embeddings", async () => {
    const file = path.join(dir, "converter-style.gguf");
    await writeConverterMmproj(file, parts.encoder, randomHfProjector(21));
    const imported = await importMmproj(file, { out: path.join(dir, "imported-converter"), llm: parts.llm });
    const image = testImage();
    const d = difference(
      (await vlmkitEmbeddings(imported.encoderDir, imported.adapterDir, image)).data,
      (await mtmdEmbeddings(file, image)).data,
    );
    report("converter-style gemma3 mmproj, imported", d);
    expect(d.max).toBeLessThan(TOLERANCE);
  });

  it("a tower whose FFN width equals its width (llama.cpp then swaps ffn_up/ffn_down back)", async () => {
    const encoder = path.join(dir, "siglip2-square-ffn");
    await writeTinySiglip(encoder, {
      variant: "siglip2",
      towers: ["vision"],
      seed: 9,
      sizes: { imageSize: IMAGE_SIZE, patch: 8, mlp: 32 },
    });
    const { adapter } = exported.avgpool;
    const mmproj = path.join(dir, "square-ffn.gguf");
    await exportMmproj({ encoder, adapter, out: mmproj });
    const image = testImage();
    const d = difference(
      (await vlmkitEmbeddings(encoder, adapter, image)).data,
      (await mtmdEmbeddings(mmproj, image)).data,
    );
    report("avgpool, F = D tower", d);
    expect(d.max).toBeLessThan(TOLERANCE);
  });

  it("avgpool with an f16 mmproj (as llama.cpp's converter writes)", async () => {
    const { adapter } = exported.avgpool;
    const mmproj = path.join(dir, "avgpool-f16.gguf");
    await exportMmproj({ encoder: parts.encoder, adapter, out: mmproj, type: "f16" });
    const image = testImage();
    const d = difference(
      (await vlmkitEmbeddings(parts.encoder, adapter, image)).data,
      (await mtmdEmbeddings(mmproj, image)).data,
    );
    report("avgpool (f16 mmproj)", d);
    // Half-precision weights (and activations rounded to f16 in ggml's f16 matmuls): ~1e-3 relative per layer.
    expect(d.max).toBeLessThan(5e-2);
  });

  it("measures llama.cpp's resize against vlmkit's (PIL-style) on files that need one", async () => {
    const { adapter, mmproj } = exported.avgpool;
    const baseline = difference(
      (await vlmkitEmbeddings(parts.encoder, adapter, testImage())).data,
      (await mtmdEmbeddings(mmproj, testImage())).data,
    );
    // A square image of another size: both resize bilinear to 64×64 (llama.cpp: its port of Pillow's
    // resampler in fixed point; vlmkit: libvips when shrinking, Pillow's arithmetic when enlarging).
    for (const side of [100, 48]) {
      const png = await writePng(testImage(side, side), path.join(dir, `square-${side}.png`));
      const d = difference(
        (await vlmkitEmbeddings(parts.encoder, adapter, png)).data,
        (await mtmdEmbeddings(mmproj, png)).data,
      );
      report(`resize ${side}×${side} → ${IMAGE_SIZE}×${IMAGE_SIZE}`, d);
      expect(d.max).toBeLessThan(TOLERANCE + 5e-2);
    }
    // A non-square image: llama.cpp's gemma3 preprocessing keeps the aspect ratio and pads with black
    // (PAD_CEIL), while vlmkit (as transformers' Gemma 3 processor) stretches to the square.
    const wide = await writePng(testImage(128, 64), path.join(dir, "wide.png"));
    const d = difference(
      (await vlmkitEmbeddings(parts.encoder, adapter, wide)).data,
      (await mtmdEmbeddings(mmproj, wide)).data,
    );
    report("non-square 128×64 (letterbox vs stretch)", d);
    expect(d.max).toBeGreaterThan(10 * baseline.max);
  });
});

describe("greedy answers: vlmkit ask vs llama-mtmd-cli with the exported mmproj", () => {
  it("gives identical text, and different text for different images", async () => {
    const { adapter, mmproj } = exported.avgpool;
    // A tiny gemma3 whose greedy answers depend visibly on the image (most random tiny models repeat
    // one token whatever they see); the same vocabulary as the adapter's card.
    const llm = path.join(dir, "gemma3-seed5.gguf");
    await writeTinyGemma3Gguf(llm, { seed: 5, chatTemplate: GEMMA3_CHAT_TEMPLATE });
    const blue: RgbImage = {
      width: IMAGE_SIZE,
      height: IMAGE_SIZE,
      data: new Uint8Array(IMAGE_SIZE * IMAGE_SIZE * 3).map((_, i) => (i % 3 === 2 ? 250 : 10)),
    };
    const question = "describe the image";
    const maxTokens = 16;
    const answers: string[] = [];
    for (const [name, image] of [
      ["shapes", testImage()],
      ["blue", blue],
    ] as const) {
      const png = await writePng(image, path.join(dir, `ask-${name}.png`)); // at image_size: no resize on either side
      const vlm = await Vlm.load({ encoder: parts.encoder, adapter, llm, llmOptions: { contextSize: 256 } });
      let ours: string;
      try {
        ours = (await vlm.ask([png], question, { maxTokens })).text; // greedy by default
      } finally {
        await vlm.dispose();
      }
      const args = ["-m", llm, "--mmproj", mmproj, "--image", png, "-p", question];
      args.push("--temp", "0", "-n", String(maxTokens), "-t", "1", "-c", "256", "--no-warmup");
      // llama-mtmd-cli prints the answer through llama.cpp's asynchronous logger, whose last lines can
      // be lost when the process exits (a race in llama.cpp's common_log): rerun while the output is
      // shorter than a complete one would be ("\n", the answer, "\n\n").
      let stdout = "";
      for (let attempt = 0; attempt < 8 && stdout.length < ours.length + 3; attempt++) {
        stdout = (await run(cliTool, args)).stdout;
      }
      console.log(`${name}: vlmkit ${JSON.stringify(ours)}, llama-mtmd-cli ${JSON.stringify(stdout)}`);
      expect(stdout).toBe(`\n${ours}\n\n`);
      answers.push(ours);
    }
    expect(answers[0]).not.toBe(answers[1]);
  });
});
