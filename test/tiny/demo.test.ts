// models/demo: what `vlmkit tiny` writes (checked byte for byte against the generators), and the bundle
// adapters/shapes trained by scripts/train-demo-adapter.ts (adapter, encoder, LLM), which must still answer colours.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Llm } from "../../src/llm/llm.js";
import { writeTinyDemo } from "../../src/tiny/demo.js";
import { writeTinyGemma3Gguf } from "../../src/tiny/gemma3.js";
import { writeShapesDataset } from "../../src/train/data/synthetic.js";
import { Vlm } from "../../src/vlm.js";

const bundled = path.join(import.meta.dirname, "..", "..", "models", "demo");
const shapes = path.join(import.meta.dirname, "..", "..", "adapters", "shapes");
const fresh = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-demo-"));
afterAll(() => fs.rmSync(fresh, { recursive: true, force: true }));

function files(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

describe("bundled demo models", () => {
  it("equal, byte for byte, a fresh `vlmkit tiny` (regenerate with `vlmkit tiny models/demo`)", async () => {
    await writeTinyDemo(path.join(fresh, "tiny"));
    const tinyFiles = files(path.join(fresh, "tiny"));
    expect(files(bundled)).toEqual(tinyFiles);
    for (const f of tinyFiles) {
      expect(
        fs.readFileSync(path.join(bundled, f)).equals(fs.readFileSync(path.join(fresh, "tiny", f))),
        f,
      ).toBe(true);
    }
  });

  it("the shapes bundle's LLM is what its generator writes, its encoder the tiny siglip2", async () => {
    const file = path.join(fresh, "shapes-gemma3.gguf");
    await writeTinyGemma3Gguf(file, { seed: 0, type: "f32", dims: { embedding: 128, headDim: 32, ff: 256 } });
    expect(fs.readFileSync(file).equals(fs.readFileSync(path.join(shapes, "gemma3.gguf")))).toBe(true);
    const encoder = files(path.join(bundled, "siglip2"));
    expect(files(path.join(shapes, "siglip2"))).toEqual(encoder);
    for (const f of encoder) {
      const a = fs.readFileSync(path.join(bundled, "siglip2", f));
      expect(a.equals(fs.readFileSync(path.join(shapes, "siglip2", f))), f).toBe(true);
    }
  });

  it("the trained shapes adapter names the colour of new images and of the example images", async () => {
    const data = await writeShapesDataset(path.join(fresh, "shapes"), {
      count: 24,
      seed: 99,
      size: 32,
      tasks: ["color"],
    });
    const rows = fs
      .readFileSync(data.file, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { image: string; prompt: string; answer: string });
    const llm = await Llm.load(path.join(shapes, "gemma3.gguf"), {
      gpu: false,
      contextSize: 512,
      threads: 1,
    });
    const vlm = await Vlm.load({
      encoder: path.join(shapes, "siglip2"),
      adapter: shapes,
      llm,
    });
    try {
      let correct = 0;
      for (const r of rows) {
        const { text } = await vlm.ask([path.join(path.dirname(data.file), r.image)], r.prompt, {
          maxTokens: 6,
        });
        if (text.trim().toLowerCase() === r.answer) correct++;
      }
      expect(correct / rows.length).toBeGreaterThanOrEqual(0.75); // 4 colours: chance is 25 %
      const examples = path.join(import.meta.dirname, "..", "..", "examples", "images");
      for (const [file, colour] of [
        ["red-circle.png", "red"],
        ["blue-square.png", "blue"],
        ["green-triangle.png", "green"],
      ]) {
        const { text } = await vlm.ask([path.join(examples, file)], "what color is the shape?", {
          maxTokens: 6,
        });
        expect(text.trim()).toBe(colour);
      }
    } finally {
      await vlm.dispose();
      await llm.dispose();
    }
  });
});
