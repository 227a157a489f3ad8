import { describe, expect, it } from "vitest";
import {
  fromOllamaChat,
  fromOllamaGenerate,
  fromOpenAiChat,
  requestImages,
} from "../../src/server/chat-request.js";
import { parseServeConfig } from "../../src/server/config-file.js";
import {
  OllamaChatRequest,
  OllamaGenerateRequest,
  OpenAiChatRequest,
  parseWith,
} from "../../src/server/schemas/index.js";

const PNG_B64 =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

function rejects(schema: Parameters<typeof parseWith>[0], body: unknown): string {
  try {
    parseWith(schema, body);
  } catch (error) {
    expect((error as { code: string }).code).toBe("INVALID_ARGUMENT");
    return (error as Error).message;
  }
  throw new Error("expected the body to be refused");
}

describe("OpenAI chat requests", () => {
  it("become the internal request: turns with text and image refs, sampling, limits", () => {
    const body = parseWith(OpenAiChatRequest, {
      model: "demo",
      messages: [
        { role: "developer", content: "Be brief." },
        {
          role: "user",
          content: [
            { type: "text", text: "What is this?" },
            { type: "image_url", image_url: { url: `data:image/png;base64,${PNG_B64}`, detail: "low" } },
            { type: "text", text: "And this?" },
            { type: "image_url", image_url: { url: "https://example.com/cat.jpg" } },
          ],
        },
        { role: "assistant", content: "A dot." },
        { role: "user", content: "Thanks" },
      ],
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 50,
      max_completion_tokens: 40,
      temperature: 0.2,
      top_p: 0.9,
      top_k: 40,
      min_p: 0.05,
      frequency_penalty: 0.5,
      seed: 7,
      stop: "END",
      n: 1,
      user: "ignored-field",
    });
    const req = fromOpenAiChat(body);
    expect(req).toEqual({
      model: "demo",
      turns: [
        { role: "system", text: "Be brief.", images: [] },
        {
          role: "user",
          text: "What is this?\nAnd this?",
          images: [
            {
              kind: "data",
              url: `data:image/png;base64,${PNG_B64}`,
              param: "messages[1].content[1].image_url.url",
            },
            {
              kind: "remote",
              url: "https://example.com/cat.jpg",
              param: "messages[1].content[3].image_url.url",
            },
          ],
        },
        { role: "assistant", text: "A dot.", images: [] },
        { role: "user", text: "Thanks", images: [] },
      ],
      sampling: { temperature: 0.2, topK: 40, topP: 0.9, minP: 0.05, frequencyPenalty: 0.5, seed: 7 },
      maxTokens: 40,
      stop: ["END"],
      stream: true,
      includeUsage: true,
    });
    expect(requestImages(req)).toHaveLength(2);
  });

  it("defaults: no stream, no usage chunk, no stop, engine sampling", () => {
    const req = fromOpenAiChat(
      parseWith(OpenAiChatRequest, { model: "m", messages: [{ role: "user", content: "hi" }] }),
    );
    expect(req).toEqual({
      model: "m",
      turns: [{ role: "user", text: "hi", images: [] }],
      sampling: {},
      stop: [],
      stream: false,
      includeUsage: false,
    });
    expect("maxTokens" in req).toBe(false);
  });

  it("refuses bad bodies with the field path in the message", () => {
    const user = (content: unknown) => ({ model: "m", messages: [{ role: "user", content }] });
    expect(
      rejects(
        OpenAiChatRequest,
        user([
          { type: "text", text: "x" },
          { type: "image_url", image_url: { url: "ftp://host/cat.png" } },
        ]),
      ),
    ).toBe("messages[0].content[1].image_url.url: expected a data: or http(s) URL");
    expect(rejects(OpenAiChatRequest, user([{ type: "image_url", image_url: { url: PNG_B64 } }]))).toBe(
      "messages[0].content[0].image_url.url: expected a data: or http(s) URL",
    );
    expect(rejects(OpenAiChatRequest, { ...user("hi"), n: 2 })).toBe(
      "n: only n = 1 is supported (one choice per request)",
    );
    expect(rejects(OpenAiChatRequest, { ...user("hi"), stop: ["a", "b", "c", "d", "e"] })).toBe(
      "stop: expected at most 4 stop sequences",
    );
    expect(rejects(OpenAiChatRequest, user(42))).toBe(
      "messages[0].content: expected string or array, received number",
    );
    expect(rejects(OpenAiChatRequest, user([{ type: "audio", data: "" }]))).toMatch(
      /^messages\[0\]\.content\[0\]\.type: /,
    );
    expect(rejects(OpenAiChatRequest, { model: "m", messages: [{ role: "robot", content: "hi" }] })).toMatch(
      /^messages\[0\]\.role: expected one of /,
    );
    expect(rejects(OpenAiChatRequest, { model: "m", messages: [] })).toBe(
      "messages: expected at least one message",
    );
    expect(rejects(OpenAiChatRequest, { ...user("hi"), temperature: 3 })).toMatch(/^temperature: /);
    expect(rejects(OpenAiChatRequest, { ...user("hi"), max_tokens: 0 })).toMatch(/^max_tokens: /);
    expect(
      rejects(OpenAiChatRequest, {
        model: "m",
        messages: [
          { role: "assistant", content: [{ type: "image_url", image_url: { url: "https://x.org/a.png" } }] },
        ],
      }),
    ).toBe("messages[0].content[0]: images are accepted in user messages only, not in assistant messages");
    // model may be left out (the server then uses its only VLM), but not be something else.
    expect(
      parseWith(OpenAiChatRequest, { messages: [{ role: "user", content: "hi" }] }).model,
    ).toBeUndefined();
    expect(rejects(OpenAiChatRequest, { model: 5, messages: [{ role: "user", content: "hi" }] })).toBe(
      "model: expected string, received number",
    );
  });
});

describe("Ollama requests", () => {
  it("/api/chat becomes the internal request; streaming is the default", () => {
    const req = fromOllamaChat(
      parseWith(OllamaChatRequest, {
        model: "demo",
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: "What is this?", images: [PNG_B64] },
        ],
        options: {
          temperature: 0,
          top_k: 1,
          num_predict: 20,
          stop: ["\n\n"],
          repeat_penalty: 1.1,
          seed: 3,
          num_ctx: 4096,
        },
        keep_alive: "5m",
      }),
    );
    expect(req).toEqual({
      model: "demo",
      turns: [
        { role: "system", text: "Be brief.", images: [] },
        {
          role: "user",
          text: "What is this?",
          images: [
            {
              kind: "data",
              url: `data:application/octet-stream;base64,${PNG_B64}`,
              param: "messages[1].images[0]",
            },
          ],
        },
      ],
      sampling: { temperature: 0, topK: 1, repeatPenalty: 1.1, seed: 3 },
      maxTokens: 20,
      stop: ["\n\n"],
      stream: true,
      includeUsage: true,
    });
  });

  it("/api/generate: system, prompt and images; num_predict -1 means no limit", () => {
    const req = fromOllamaGenerate(
      parseWith(OllamaGenerateRequest, {
        model: "demo",
        prompt: "caption",
        system: "You caption images.",
        images: [PNG_B64],
        stream: false,
        options: { num_predict: -1 },
      }),
    );
    expect(req.turns).toEqual([
      { role: "system", text: "You caption images.", images: [] },
      {
        role: "user",
        text: "caption",
        images: [
          { kind: "data", url: `data:application/octet-stream;base64,${PNG_B64}`, param: "images[0]" },
        ],
      },
    ]);
    expect(req.stream).toBe(false);
    expect("maxTokens" in req).toBe(false);
  });

  it("refuses bad bodies with the field path", () => {
    expect(
      rejects(OllamaChatRequest, {
        model: "m",
        messages: [{ role: "user", content: "x", images: ["http://a/b.png"] }],
      }),
    ).toBe("messages[0].images[0]: expected base64-encoded image bytes");
    expect(rejects(OllamaGenerateRequest, { model: "m", prompt: 5 })).toBe(
      "prompt: expected string, received number",
    );
    expect(rejects(OllamaGenerateRequest, { model: "m", options: { top_p: 2 } })).toMatch(
      /^options\.top_p: /,
    );
  });
});

describe("serve config", () => {
  it("reads encoders and VLM entries, and checks that a VLM's encoder exists", () => {
    const config = parseServeConfig(
      {
        encoders: { siglip2: "siglip2-base-patch16-224" },
        vlms: { demo: { encoder: "siglip2", adapter: "adapters/demo", llm: "gemma.gguf" } },
      },
      "/nonexistent",
    );
    expect(config.encoders).toEqual({ siglip2: "siglip2-base-patch16-224" });
    expect(config.vlms.demo).toEqual({ encoder: "siglip2", adapter: "adapters/demo", llm: "gemma.gguf" });
    expect(() => parseServeConfig({ vlms: { demo: { encoder: "x", adapter: "a", llm: "l" } } })).toThrow(
      'serve config: vlms.demo.encoder: "x" is not among the encoders (none)',
    );
    expect(() => parseServeConfig({ encoder: {} })).toThrow(/^serve config: body: /);
  });
});
