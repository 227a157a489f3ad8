// The whole VLM on the tiny demo set: encoder → adapter → prompt → gemma3, through the native path.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adapterWithCard, LinearAdapter, readAdapterCard, saveAdapter } from "../src/adapter/index.js";
import { isVlmkitError } from "../src/errors.js";
import { Llm } from "../src/llm/llm.js";
import { type TinyDemo, writeTinyDemo } from "../src/tiny/demo.js";
import { Vlm } from "../src/vlm.js";

let demo: TinyDemo;
let llm: Llm;
let red: Buffer;
let blue: Buffer;

async function solid(r: number, g: number, b: number, w = 48, h = 40): Promise<Buffer> {
  return sharp({ create: { width: w, height: h, channels: 3, background: { r, g, b } } })
    .png()
    .toBuffer();
}

beforeAll(async () => {
  demo = await writeTinyDemo(fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-vlm-")), { seed: 3 });
  llm = await Llm.load(demo.parts.llm, { gpu: false, contextSize: 1024, sequences: 2 });
  red = await solid(230, 20, 20);
  blue = await solid(20, 20, 230, 30, 70);
});

afterAll(async () => {
  await llm?.dispose();
  fs.rmSync(demo.dir, { recursive: true, force: true });
});

const sampled = { maxTokens: 16, sampling: { temperature: 1.5, seed: 42 } };

describe("Vlm", () => {
  it("answers about an image (PaliGemma prompt, prefix-LM) deterministically for a seed", async () => {
    const vlm = await Vlm.load({ encoder: demo.parts.siglip2, adapter: demo.parts.adapter, llm });
    const a = await vlm.ask([red], "what color is this?", sampled);
    const b = await vlm.ask([red], "what color is this?", sampled);
    expect(a.text).toBe(b.text);
    expect(a.usage.promptTokens).toBeGreaterThan(16); // 16 image rows + <bos> + question + \n
    expect(["stop", "length"]).toContain(a.finishReason);
    await vlm.dispose();
  });

  it("the image reaches the LLM: different images or a different adapter change the answer", async () => {
    const vlm = await Vlm.load({ encoder: demo.parts.siglip2, adapter: demo.parts.adapter, llm });
    const answers = new Set<string>();
    for (const img of [red, blue])
      answers.add((await vlm.ask([img], "describe", { ...sampled, maxTokens: 24 })).text);
    expect(answers.size).toBe(2);
    // A zero adapter maps every image to the same embeddings: the answers then coincide.
    const zeroDir = path.join(demo.dir, "zero-adapter");
    const card = await readAdapterCard(demo.parts.adapter);
    const zero = LinearAdapter.init({
      inputSize: card.encoder.hidden,
      outputSize: card.llm.n_embd,
      targetRms: 1e-30,
    });
    await saveAdapter(zeroDir, zero, card);
    const flat = await Vlm.load({ encoder: demo.parts.siglip2, adapter: zeroDir, llm });
    const same = new Set<string>();
    for (const img of [red, blue])
      same.add((await flat.ask([img], "describe", { ...sampled, maxTokens: 24 })).text);
    expect(same.size).toBe(1);
    await vlm.dispose();
    await flat.dispose();
  });

  it("answers the same with an adapter in memory as with the directory it is saved to", async () => {
    const card = await readAdapterCard(demo.parts.adapter);
    const weights = LinearAdapter.init({
      inputSize: card.encoder.hidden,
      outputSize: card.llm.n_embd,
      seed: 11,
    });
    const dir = path.join(demo.dir, "saved-adapter");
    await saveAdapter(dir, weights, card);
    const fromDir = await Vlm.load({ encoder: demo.parts.siglip2, adapter: dir, llm });
    const inMemory = await Vlm.load({
      encoder: demo.parts.siglip2,
      adapter: adapterWithCard(weights, card, "in-memory"),
      llm,
    });
    expect(inMemory.adapter.card).toEqual(fromDir.adapter.card);
    const a = await fromDir.ask([red], "describe", sampled);
    const b = await inMemory.ask([red], "describe", sampled);
    expect(b.text).toBe(a.text);
    expect(b.usage).toEqual(a.usage);
    await fromDir.dispose();
    await inMemory.dispose();
    // The card of an adapter in memory is checked too, naming it.
    const err = await Vlm.load({
      encoder: demo.parts.siglip,
      adapter: adapterWithCard(weights, card, "in-memory"),
      llm,
    }).catch((e) => e);
    expect(isVlmkitError(err) && err.code).toBe("MODEL_INCOMPATIBLE");
    expect(err.message).toMatch(/^adapter in-memory was trained for encoder "siglip2"/);
  });

  it("streams deltas that add up to the answer", async () => {
    const vlm = await Vlm.load({ encoder: demo.parts.siglip2, adapter: demo.parts.adapter, llm });
    const gen = vlm.stream([red], "what is this?", sampled);
    let text = "";
    for await (const d of gen) text += d;
    expect(text).toBe((await gen.result).text);
    await vlm.dispose();
  });

  it("holds a multi-turn chat with several images (Gemma chat prompt, NaFlex encoder)", async () => {
    const vlm = await Vlm.load({
      encoder: demo.parts["siglip2-naflex"],
      adapter: demo.parts["adapter-chat"],
      llm,
    });
    const r = await vlm.chat(
      [
        {
          role: "user",
          content: [
            { type: "image", image: red },
            { type: "text", text: "what is this?" },
          ],
        },
        { role: "assistant", content: "a red square" },
        {
          role: "user",
          content: [
            { type: "text", text: "and this?" },
            { type: "image", image: blue },
          ],
        },
      ],
      sampled,
    );
    expect(r.usage.promptTokens).toBeGreaterThan(20);
    const placed = await vlm.ask([red, blue], "is <image> darker than <image>?", sampled);
    expect(placed.usage.promptTokens).toBeGreaterThan(10);
    await expect(vlm.ask([red, blue], "only <image> one placeholder", sampled)).rejects.toThrow(
      /placeholders "<image>" in the prompt \(1\) does not match the number of images \(2\)/,
    );
    await vlm.dispose();
  });

  it("PaliGemma adapters refuse multi-turn history instead of dropping it", async () => {
    const vlm = await Vlm.load({ encoder: demo.parts.siglip2, adapter: demo.parts.adapter, llm });
    await expect(
      vlm.chat([
        { role: "user", content: "hi" },
        { role: "assistant", content: "hello" },
        { role: "user", content: "and?" },
      ]),
    ).rejects.toThrow(/PaliGemma prompt, which answers single questions/);
    await vlm.dispose();
  });

  it("refuses an adapter made for another encoder, naming both", async () => {
    const err = await Vlm.load({ encoder: demo.parts.siglip, adapter: demo.parts.adapter, llm }).catch(
      (e) => e,
    );
    expect(isVlmkitError(err) && err.code).toBe("MODEL_INCOMPATIBLE");
    expect(err.message).toMatch(
      /trained for encoder "siglip2" \(Dv 32\) but the loaded encoder is "siglip" \(Dv 16\)/,
    );
  });

  it("refuses an adapter made for another LLM, naming both", async () => {
    const other = path.join(demo.dir, "other.gguf");
    const { writeTinyGemma3Gguf } = await import("../src/tiny/gemma3.js");
    await writeTinyGemma3Gguf(other, { seed: 1, dims: { embedding: 48, heads: 4, kvHeads: 2, headDim: 12 } });
    const err = await Vlm.load({
      encoder: demo.parts.siglip2,
      adapter: demo.parts.adapter,
      llm: other,
    }).catch((e) => e);
    expect(err.message).toMatch(/with n_embd 64 but the loaded LLM .*has n_embd 48/);
  });

  it("aborts while encoding or generating", async () => {
    const vlm = await Vlm.load({ encoder: demo.parts.siglip2, adapter: demo.parts.adapter, llm });
    const controller = new AbortController();
    controller.abort();
    await expect(vlm.ask([red], "x", { signal: controller.signal })).rejects.toMatchObject({
      code: "ABORTED",
    });
    await vlm.dispose();
  });
});

describe("Vlm prompt limits", () => {
  it("refuses a question longer than the context before building embedding rows", async () => {
    const vlm = await Vlm.load({ encoder: demo.parts.siglip2, adapter: demo.parts.adapter, llm });
    const t0 = performance.now();
    const err = await vlm.ask([red], "red ".repeat(50_000)).catch((e) => e);
    expect(err.code).toBe("CONTEXT_OVERFLOW");
    expect(err.message).toMatch(/positions but a request may use at most 1024/);
    expect(performance.now() - t0).toBeLessThan(5000);
    await vlm.dispose();
  });

  it("refuses a PaliGemma block larger than the batch size, naming both numbers", async () => {
    const small = await Llm.load(demo.parts.llm, { gpu: false, contextSize: 2048, batchSize: 64 });
    const vlm = await Vlm.load({ encoder: demo.parts.siglip2, adapter: demo.parts.adapter, llm: small });
    const err = await vlm.ask([red], "red ".repeat(100)).catch((e) => e);
    expect(err.message).toMatch(/bidirectional block of \d+ positions .* exceeds the LLM's batch size 64/);
    await vlm.dispose();
    await small.dispose();
  });
});
