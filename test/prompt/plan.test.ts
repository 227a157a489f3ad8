// buildPrompt / buildTrainingLayout: the one place where `<image>` placeholders are matched with images
// and where the prompt style decides the attention, for inference, the server and training alike.
import { describe, expect, it } from "vitest";
import { VlmkitError } from "../../src/errors.js";
import {
  buildPrompt,
  buildTrainingLayout,
  checkPrompt,
  defaultAttention,
  formatPlan,
  gemmaChatPrompt,
  gemmaChatTrainingLayout,
  type PromptRequest,
  paligemmaPrompt,
  paligemmaTrainingLayout,
  styleAttention,
} from "../../src/prompt/index.js";

function thrown(fn: () => unknown): VlmkitError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(VlmkitError);
    return error as VlmkitError;
  }
  throw new Error("expected an error");
}

const user = (content: string, images?: number): PromptRequest["messages"][number] =>
  images === undefined ? { role: "user", content } : { role: "user", content, images };

describe("marker count against image count", () => {
  for (const style of ["paligemma", "gemma-chat"] as const) {
    it(`${style}: too many and too few placeholders give one PROMPT_MISMATCH with both counts`, () => {
      const more = thrown(() =>
        buildPrompt({ style, messages: [user("<image> and <image>?")], imageTokens: [4] }),
      );
      expect(more.code).toBe("PROMPT_MISMATCH");
      expect(more.message).toBe(
        'number of image placeholders "<image>" in the prompt (2) does not match the number of images (1)',
      );
      expect(more.details).toEqual({ placeholders: 2, images: 1 });
      const fewer = thrown(() =>
        buildPrompt({ style, messages: [user("one <image> here")], imageTokens: [4, 4, 4] }),
      );
      expect(fewer.message).toBe(
        'number of image placeholders "<image>" in the prompt (1) does not match the number of images (3)',
      );
      const none = thrown(() =>
        buildPrompt({ style, messages: [user("what is <image>?")], imageTokens: [] }),
      );
      expect(none.details).toEqual({ placeholders: 1, images: 0 });
    });

    it(`${style}: a message that carries its own images is checked on its own, naming it`, () => {
      const error = thrown(() =>
        buildPrompt({
          style,
          messages: [{ role: "system", content: "be brief" }, user("<image> vs <image>", 1)],
          imageTokens: [2],
        }),
      );
      expect(error.code).toBe("PROMPT_MISMATCH");
      expect(error.message).toBe(
        'number of image placeholders "<image>" in messages[1] (2) does not match the number of images (1)',
      );
      expect(error.details).toEqual({ param: "messages[1]", placeholders: 2, images: 1 });
      // The same check runs before the images are encoded, with only their number.
      expect(() => checkPrompt({ style, messages: [user("<image> vs <image>", 1)] }, 1)).toThrow(
        /in messages\[0\] \(2\) does not match the number of images \(1\)/,
      );
      expect(() => checkPrompt({ style, messages: [user("<image> vs <image>", 2)] }, 2)).not.toThrow();
    });

    it(`${style}: without placeholders the images go first`, () => {
      const plan = buildPrompt({ style, messages: [user("what is this?")], imageTokens: [2, 3] });
      const first = plan.segments.findIndex((s) => s.kind === "image");
      const question = plan.segments.findIndex((s) => s.kind === "text" && s.text.includes("what is this?"));
      expect(first).toBeGreaterThanOrEqual(0);
      expect(first).toBeLessThan(question);
      expect(plan.imageCount).toBe(2);
    });
  }

  it("gemma-chat: a message's images without placeholders go before that message's text", () => {
    const plan = buildPrompt({
      style: "gemma-chat",
      messages: [user("first", 0), { role: "assistant", content: "ok" }, user("second", 1)],
      imageTokens: [2],
    });
    const image = plan.segments.findIndex((s) => s.kind === "image");
    const texts = (pred: (t: string) => boolean) =>
      plan.segments.findIndex((s) => s.kind === "text" && pred(s.text));
    expect(image).toBeGreaterThan(texts((t) => t.includes("first")));
    expect(image).toBeLessThan(texts((t) => t.includes("second")));
    // A system message that says it carries no image cannot mark one.
    expect(
      thrown(() =>
        buildPrompt({
          style: "gemma-chat",
          messages: [{ role: "system", content: "<image>", images: 0 }, user("hi", 0)],
          imageTokens: [],
        }),
      ).code,
    ).toBe("PROMPT_MISMATCH");
  });
});

describe("style and attention", () => {
  it("each style has its default attention", () => {
    expect(defaultAttention("paligemma")).toBe("prefix-lm");
    expect(defaultAttention("gemma-chat")).toBe("bidirectional-image");
    expect(buildPrompt({ style: "paligemma", messages: [user("x")], imageTokens: [1] }).attention).toBe(
      "prefix-lm",
    );
    expect(buildPrompt({ style: "gemma-chat", messages: [user("x")], imageTokens: [1] }).attention).toBe(
      "bidirectional-image",
    );
  });

  it("gemma-chat cannot use prefix-lm; unknown styles and modes are refused, naming them", () => {
    expect(() => styleAttention("gemma-chat", "prefix-lm")).toThrow(
      'the gemma-chat style supports "bidirectional-image" or "causal" attention, got "prefix-lm"',
    );
    for (const build of [buildPrompt, buildTrainingLayout]) {
      const error = thrown(() =>
        build({
          style: "gemma-chat",
          attention: "prefix-lm",
          messages: [user("x"), { role: "assistant", content: "y" }],
          imageTokens: [1],
        }),
      );
      expect(error.code).toBe("INVALID_ARGUMENT");
    }
    expect(() => styleAttention("paligemma", "sideways" as "causal")).toThrow(
      'the paligemma style supports "prefix-lm", "bidirectional-image" or "causal" attention, got "sideways"',
    );
    expect(() => styleAttention("llava" as "paligemma")).toThrow(
      'prompt style "llava"; expected "paligemma" or "gemma-chat"',
    );
    for (const mode of ["prefix-lm", "bidirectional-image", "causal"] as const) {
      expect(styleAttention("paligemma", mode)).toBe(mode);
    }
  });

  it("PaliGemma answers one question: history is refused, not dropped", () => {
    expect(() =>
      buildPrompt({
        style: "paligemma",
        messages: [user("hi"), { role: "assistant", content: "hello" }, user("and?")],
        imageTokens: [],
      }),
    ).toThrow(/PaliGemma prompt, which answers single questions/);
  });
});

describe("the builders behind it", () => {
  it("give what the style's own builder gives, for inference and training", () => {
    const prompt = "<image>\ncaption en";
    expect(buildPrompt({ style: "paligemma", messages: [user(prompt)], imageTokens: [3] })).toEqual(
      paligemmaPrompt({ prefix: prompt, imageTokens: [3] }),
    );
    const chat = [user("What is in <image> this picture?")];
    expect(
      buildPrompt({ style: "gemma-chat", attention: "causal", messages: chat, imageTokens: [2] }),
    ).toEqual(gemmaChatPrompt({ messages: chat, imageTokens: [2], attention: "causal" }));
    const pair = [user(prompt), { role: "assistant" as const, content: "a red square" }];
    expect(buildTrainingLayout({ style: "paligemma", messages: pair, imageTokens: [3] })).toEqual(
      paligemmaTrainingLayout({ prefix: prompt, suffix: "a red square", imageTokens: [3] }),
    );
    expect(buildTrainingLayout({ style: "gemma-chat", messages: pair, imageTokens: [3] })).toEqual(
      gemmaChatTrainingLayout({ messages: pair, imageTokens: [3] }),
    );
  });

  it("inference lays a question out as training did: the prompt part of the layout is the plan", () => {
    for (const style of ["paligemma", "gemma-chat"] as const) {
      for (const question of ["<image> caption en", "<image>\nWhat is it?", "what color?"]) {
        const plan = buildPrompt({ style, messages: [user(question)], imageTokens: [4] });
        const layout = buildTrainingLayout({
          style,
          messages: [user(question), { role: "assistant", content: "red" }],
          imageTokens: [4],
        });
        expect(layout.segments.slice(0, layout.generationStart), `${style} ${question}`).toEqual(
          plan.segments,
        );
      }
    }
    expect(
      formatPlan(
        buildPrompt({ style: "paligemma", messages: [user("<image> caption en")], imageTokens: [2] }),
      ),
    ).toContain('"caption en\\n"');
  });

  it("training needs the answer last", () => {
    for (const style of ["paligemma", "gemma-chat"] as const) {
      expect(() => buildTrainingLayout({ style, messages: [user("hi")], imageTokens: [1] })).toThrow(
        /must end with an assistant message/,
      );
    }
  });
});
