import { describe, expect, it } from "vitest";
import { VlmkitError } from "../../src/errors.js";
import {
  formatPlan,
  gemmaChatPrompt,
  gemmaChatTrainingLayout,
  type PromptPlan,
  paligemmaPrompt,
  paligemmaTrainingLayout,
  resolveTokenLayout,
} from "../../src/prompt/index.js";

/** The string the reference processor would hand its tokenizer: images expanded to `token`×N. */
function render(plan: PromptPlan, imageToken: string): string {
  return plan.segments.map((s) => (s.kind === "text" ? s.text : imageToken.repeat(s.tokens))).join("");
}

function mismatch(fn: () => unknown): VlmkitError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(VlmkitError);
    expect((error as VlmkitError).code).toBe("PROMPT_MISMATCH");
    return error as VlmkitError;
  }
  throw new Error("expected a PROMPT_MISMATCH error");
}

// As llama.cpp's mtmd wraps a gemma3 image: no newlines around.
const BOI = "<start_of_image>";
const EOI = "<end_of_image>";
const img = (n: number) => `${BOI}${"<image_soft_token>".repeat(n)}${EOI}`;

describe("paligemmaPrompt", () => {
  it("single image", () => {
    const plan = paligemmaPrompt({ prefix: "caption en", imageTokens: [4] });
    expect(render(plan, "<image>")).toBe("<image><image><image><image><bos>caption en\n");
    expect(plan.bidirectional).toEqual([{ start: 0, end: plan.segments.length }]);
    expect(plan.generationStart).toBe(plan.segments.length);
    expect(formatPlan(plan)).toMatchSnapshot();
  });

  it("two images", () => {
    const plan = paligemmaPrompt({ prefix: "answer en which is bigger?", imageTokens: [2, 3] });
    expect(render(plan, "<image>")).toBe(`${"<image>".repeat(5)}<bos>answer en which is bigger?\n`);
    expect(plan.segments.filter((s) => s.kind === "image").map((s) => s.kind === "image" && s.image)).toEqual(
      [0, 1],
    );
    expect(formatPlan(plan)).toMatchSnapshot();
  });

  it("empty prefix", () => {
    const plan = paligemmaPrompt({ imageTokens: [3] });
    expect(render(plan, "<image>")).toBe("<image><image><image><bos>\n");
    expect(formatPlan(plan)).toMatchSnapshot();
  });

  it("placeholders in the prefix must match the images and are removed", () => {
    const plan = paligemmaPrompt({ prefix: "<image>\ncaption en", imageTokens: [2] });
    expect(render(plan, "<image>")).toBe("<image><image><bos>caption en\n");
    const error = mismatch(() => paligemmaPrompt({ prefix: "<image><image> caption", imageTokens: [2] }));
    expect(error.message).toBe(
      'number of image placeholders "<image>" in the prompt (2) does not match the number of images (1)',
    );
    expect(error.details).toEqual({ placeholders: 2, images: 1 });
  });

  it("attention modes", () => {
    expect(
      paligemmaPrompt({ prefix: "x", imageTokens: [2, 2], attention: "bidirectional-image" }).bidirectional,
    ).toEqual([
      { start: 0, end: 1 },
      { start: 1, end: 2 },
    ]);
    expect(paligemmaPrompt({ prefix: "x", imageTokens: [2], attention: "causal" }).bidirectional).toEqual([]);
  });

  it("training layout labels only the suffix and <eos>", () => {
    const layout = paligemmaTrainingLayout({
      prefix: "caption en",
      suffix: "a cat on a mat",
      imageTokens: [4],
    });
    expect(render(layout, "<image>")).toBe(
      "<image><image><image><image><bos>caption en\na cat on a mat<eos>",
    );
    expect(layout.segments.slice(layout.labels.start, layout.labels.end)).toEqual([
      { kind: "text", text: "a cat on a mat", special: false },
      { kind: "text", text: "<eos>", special: true },
    ]);
    expect(layout.generationStart).toBe(layout.labels.start);
    expect(layout.bidirectional).toEqual([{ start: 0, end: layout.labels.start }]);
    expect(formatPlan(layout)).toMatchSnapshot();
    // Tokens: 4 image rows, <bos> 1, "caption en\n" 3, suffix 5, <eos> 1.
    const tokens = resolveTokenLayout(layout, [4, 1, 3, 5, 1]);
    expect(tokens).toEqual({
      length: 14,
      segmentStarts: [0, 4, 5, 8, 13],
      bidirectional: [{ start: 0, end: 8 }],
      generationStart: 8,
      labels: { start: 8, end: 14 },
    });
  });
});

describe("gemmaChatPrompt", () => {
  it("single image, no placeholder: the image goes first", () => {
    const plan = gemmaChatPrompt({
      messages: [{ role: "user", content: "  Describe this image. " }],
      imageTokens: [3],
    });
    expect(render(plan, "<image_soft_token>")).toBe(
      `<bos><start_of_turn>user\n${img(3)}Describe this image.<end_of_turn>\n<start_of_turn>model\n`,
    );
    const image = plan.segments.findIndex((s) => s.kind === "image");
    expect(plan.bidirectional).toEqual([{ start: image, end: image + 1 }]);
    expect(plan.generationStart).toBe(plan.segments.length);
    expect(formatPlan(plan)).toMatchSnapshot();
  });

  it("image in the middle of text", () => {
    const plan = gemmaChatPrompt({
      messages: [{ role: "user", content: "What is in <image> this picture?" }],
      imageTokens: [2],
    });
    expect(render(plan, "<image_soft_token>")).toBe(
      `<bos><start_of_turn>user\nWhat is in ${img(2)} this picture?<end_of_turn>\n<start_of_turn>model\n`,
    );
    expect(formatPlan(plan)).toMatchSnapshot();
  });

  it("two images, as content parts", () => {
    const plan = gemmaChatPrompt({
      messages: [
        {
          role: "user",
          content: [
            { type: "image" },
            { type: "text", text: " Compare with " },
            { type: "image" },
            { type: "text", text: "." },
          ],
        },
      ],
      imageTokens: [2, 3],
    });
    expect(render(plan, "<image_soft_token>")).toBe(
      `<bos><start_of_turn>user\n${img(2)}Compare with${img(3)}.<end_of_turn>\n<start_of_turn>model\n`,
    );
    expect(plan.bidirectional).toHaveLength(2);
    for (const r of plan.bidirectional) expect(plan.segments[r.start].kind).toBe("image");
    expect(formatPlan(plan)).toMatchSnapshot();
  });

  it("multi-turn with an image in the first turn only, and a system message", () => {
    const plan = gemmaChatPrompt({
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "<image>\nWhat animal is this?" },
        { role: "assistant", content: "A cat." },
        { role: "user", content: "What colour is it?" },
      ],
      imageTokens: [2],
    });
    expect(render(plan, "<image_soft_token>")).toBe(
      `<bos><start_of_turn>user\nBe brief.\n\n${img(2)}\nWhat animal is this?<end_of_turn>\n` +
        "<start_of_turn>model\nA cat.<end_of_turn>\n" +
        "<start_of_turn>user\nWhat colour is it?<end_of_turn>\n<start_of_turn>model\n",
    );
    expect(formatPlan(plan)).toMatchSnapshot();
  });

  it("keeps control-token look-alikes in user text literal", () => {
    const plan = gemmaChatPrompt({ messages: [{ role: "user", content: "say <end_of_turn>" }] });
    const user = plan.segments.find((s) => s.kind === "text" && s.text.includes("say"));
    expect(user).toEqual({ kind: "text", text: "user\nsay <end_of_turn>", special: false });
    for (const s of plan.segments) {
      if (s.kind === "text" && s.special) expect(s.text).toMatch(/^(<[a-z_]+>)+$/);
    }
  });

  it("mismatch errors give both counts", () => {
    const one = mismatch(() =>
      gemmaChatPrompt({ messages: [{ role: "user", content: "<image> and <image>" }], imageTokens: [4] }),
    );
    expect(one.message).toBe(
      'number of image placeholders "<image>" in the prompt (2) does not match the number of images (1)',
    );
    const none = mismatch(() =>
      gemmaChatPrompt({ messages: [{ role: "user", content: [{ type: "image" }] }] }),
    );
    expect(none.message).toContain("(1) does not match the number of images (0)");
    expect(none).toMatchSnapshot();
  });

  it("rejects roles that do not alternate and prefix-lm attention", () => {
    expect(() =>
      gemmaChatPrompt({
        messages: [
          { role: "user", content: "a" },
          { role: "user", content: "b" },
        ],
      }),
    ).toThrow(/message 1 has role "user" but roles must alternate/);
    expect(() => gemmaChatPrompt({ messages: [] })).toThrow(/at least one user message/);
    expect(() =>
      gemmaChatPrompt({ messages: [{ role: "user", content: "a" }], attention: "prefix-lm" as "causal" }),
    ).toThrow(/supports "bidirectional-image" or "causal"/);
    expect(() => gemmaChatPrompt({ messages: [{ role: "user", content: "a" }], imageTokens: [0] })).toThrow(
      /imageTokens\[0\] must be a positive integer, got 0/,
    );
  });

  it("training layout labels the last answer and its <end_of_turn>", () => {
    const layout = gemmaChatTrainingLayout({
      messages: [
        { role: "user", content: "<image>Caption this." },
        { role: "assistant", content: "A red bus." },
      ],
      imageTokens: [2],
    });
    expect(render(layout, "<image_soft_token>")).toBe(
      `<bos><start_of_turn>user\n${img(2)}Caption this.<end_of_turn>\n<start_of_turn>model\nA red bus.<end_of_turn>`,
    );
    expect(layout.segments.slice(layout.labels.start, layout.labels.end)).toEqual([
      { kind: "text", text: "A red bus.", special: false },
      { kind: "text", text: "<end_of_turn>", special: true },
    ]);
    expect(layout.generationStart).toBe(layout.labels.start);
    // The prompt part of the training layout is exactly the inference prompt.
    const prompt = gemmaChatPrompt({
      messages: [{ role: "user", content: "<image>Caption this." }],
      imageTokens: [2],
    });
    expect(layout.segments.slice(0, layout.labels.start)).toEqual(prompt.segments);
    expect(() => gemmaChatTrainingLayout({ messages: [{ role: "user", content: "hi" }] })).toThrow(
      /must end with an assistant message/,
    );
  });
});

describe("resolveTokenLayout", () => {
  it("checks counts against the segments", () => {
    const plan = paligemmaPrompt({ prefix: "x", imageTokens: [4] });
    expect(() => resolveTokenLayout(plan, [4, 1])).toThrow(/2 entries but the prompt has 3 segments/);
    expect(() => resolveTokenLayout(plan, [5, 1, 2])).toThrow(
      /tokenCounts\[0\] is 5 but image segment 0 holds 4/,
    );
    expect(resolveTokenLayout(plan, [4, 1, 2])).toEqual({
      length: 7,
      segmentStarts: [0, 4, 5],
      bidirectional: [{ start: 0, end: 7 }],
      generationStart: 7,
    });
  });
});
