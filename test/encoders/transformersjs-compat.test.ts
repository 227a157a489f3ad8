/**
 * transformers.js loading the files vlmkit's graph builder writes is a compatibility check on the export
 * layout (file names, input/output names, configs), and its embeddings must match vlmkit's.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { AutoImageProcessor, env, RawImage, SiglipVisionModel } from "@huggingface/transformers";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VisionEncoder } from "../../src/encoders/index.js";
import { cosine } from "../../src/encoders/vectors.js";
import { writeTinySiglip } from "../../src/tiny/siglip.js";

let root: string;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-tjs-"));
  await writeTinySiglip(path.join(root, "tiny-siglip2"), { variant: "siglip2", seed: 5, towers: ["vision"] });
  env.allowRemoteModels = false;
  env.localModelPath = root;
});

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

async function writePng(file: string, width: number, height: number, smooth = false): Promise<void> {
  const px = Buffer.alloc(width * height * 3);
  for (let i = 0; i < px.length; i++) {
    const x = (i / 3) % width;
    const y = Math.floor(i / 3 / width);
    px[i] = smooth ? (x * 200) / width + (y * 50) / height + (i % 3) * 10 : (i * 37 + (i % 11) * 13) & 255;
  }
  await sharp(px, { raw: { width, height, channels: 3 } })
    .png()
    .toFile(file);
}

describe("transformers.js on vlmkit-written files", () => {
  it("loads the vision tower and gives the same embedding for an image at the model's resolution", async () => {
    const file = path.join(root, "at-size.png");
    await writePng(file, 32, 32); // no resize: both sides see identical pixels
    const processor = await AutoImageProcessor.from_pretrained("tiny-siglip2");
    const model = await SiglipVisionModel.from_pretrained("tiny-siglip2", { dtype: "fp32", device: "cpu" });
    const out = await model(await processor(await RawImage.read(file)));
    const theirs = out.pooler_output.data as Float32Array;

    const enc = await VisionEncoder.load(path.join(root, "tiny-siglip2"));
    const [ours] = await enc.encode([file]);
    expect(ours.pooled.length).toBe(theirs.length);
    let maxDiff = 0;
    for (let i = 0; i < theirs.length; i++) maxDiff = Math.max(maxDiff, Math.abs(theirs[i] - ours.pooled[i]));
    expect(maxDiff).toBeLessThan(1e-4);
    expect(Array.from(out.last_hidden_state.dims)).toEqual([1, ...ours.patches.dims]);
    await enc.dispose();
  });

  it("stays close when the image must be resized (different resize kernels)", async () => {
    const file = path.join(root, "large.png");
    await writePng(file, 200, 120, true); // smooth: resize kernels agree on low frequencies
    const processor = await AutoImageProcessor.from_pretrained("tiny-siglip2");
    const model = await SiglipVisionModel.from_pretrained("tiny-siglip2", { dtype: "fp32", device: "cpu" });
    const theirs = (await model(await processor(await RawImage.read(file)))).pooler_output
      .data as Float32Array;
    const enc = await VisionEncoder.load(path.join(root, "tiny-siglip2"));
    const [ours] = await enc.encode([file]);
    // transformers.js resizes with an affine (no antialiasing), vlmkit with an antialiased kernel closer
    // to PIL: on a smooth image the embeddings stay highly similar, not identical.
    expect(cosine(theirs, ours.pooled)).toBeGreaterThan(0.98);
    await enc.dispose();
  });
});
