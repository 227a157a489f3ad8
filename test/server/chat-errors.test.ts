// Bad chat requests, OpenAI and Ollama: each gets its status and a message naming the field, in the
// family's format, and the server still answers a good request afterwards.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/server/app.js";
import { type DemoServer, demoModels } from "./demo.js";
import { captureLogger, noisyPng, pngBase64, post } from "./helpers.js";

let server: DemoServer;
let red: string;

beforeAll(async () => {
  server = await demoModels({}, { encoder: true });
  red = await pngBase64(40, 30, { r: 220, g: 20, b: 20 });
});
afterAll(() => server?.cleanup());

const url = (b64: string) => `data:image/png;base64,${b64}`;

interface Case {
  name: string;
  route: string;
  body: unknown;
  status: number;
  /** OpenAI `error.code`; Ollama errors carry only a message. */
  code?: string;
  message: string | RegExp;
}

describe("bad chat requests", () => {
  it("answers each with the right status and message, then still serves a good chat request", async () => {
    const { app } = createApp({
      models: server.models,
      logger: captureLogger().logger,
      limits: { maxImagesPerRequest: 3, maxImageBytes: 4000, maxImagePixels: 5000 },
    });
    const big = (await noisyPng(60, 60)).toString("base64"); // ≈ 10 KB > 4000 bytes
    const huge = await pngBase64(100, 100); // 10 000 pixels > 5000
    const text = Buffer.from("just some text").toString("base64");
    const user = (...parts: unknown[]) => ({ role: "user", content: parts });
    const image = (u: string) => ({ type: "image_url", image_url: { url: u } });
    const say = (t: string) => ({ type: "text", text: t });
    const good = { model: "chat", messages: [user(image(url(red)), say("what is this?"))], max_tokens: 4 };
    const ollama = {
      model: "chat",
      messages: [{ role: "user", content: "what?", images: [red] }],
      stream: false,
    };
    const O = "/v1/chat/completions";
    const cases: Case[] = [
      {
        name: "malformed JSON",
        route: O,
        body: '{"model":',
        status: 400,
        code: "INVALID_ARGUMENT",
        message: /^request body is not valid JSON: /,
      },
      {
        name: "messages of the wrong type",
        route: O,
        body: { ...good, messages: "hi" },
        status: 400,
        code: "INVALID_ARGUMENT",
        message: "messages: expected array, received string",
      },
      {
        name: "empty messages",
        route: O,
        body: { ...good, messages: [] },
        status: 400,
        code: "INVALID_ARGUMENT",
        message: "messages: expected at least one message",
      },
      {
        name: "unknown role",
        route: O,
        body: { ...good, messages: [{ role: "robot", content: "hi" }] },
        status: 400,
        code: "INVALID_ARGUMENT",
        message: /^messages\[0\]\.role: expected one of "system"\|"developer"\|"user"\|"assistant"/,
      },
      {
        name: "unknown model",
        route: O,
        body: { ...good, model: "nope" },
        status: 404,
        code: "NOT_FOUND",
        message: 'model "nope" is not served here; models: "enc", "chat", "pali"',
      },
      {
        name: "an encoder used for chat",
        route: O,
        body: { ...good, model: "enc" },
        status: 400,
        code: "INVALID_ARGUMENT",
        message:
          'model "enc" is an image encoder and cannot chat; chat needs a vision-language model (served: "chat", "pali")',
      },
      {
        name: "an image placeholder with no image",
        route: O,
        body: { ...good, messages: [{ role: "user", content: "what is in <image>?" }] },
        status: 400,
        code: "PROMPT_MISMATCH",
        message:
          'number of image placeholders "<image>" in messages[0] (1) does not match the number of images (0)',
      },
      {
        name: "corrupt base64",
        route: O,
        body: { ...good, messages: [user(image("data:image/png;base64,@@@"))] },
        status: 400,
        code: "INVALID_ARGUMENT",
        message: "messages[0].content[0].image_url.url: expected a data: or http(s) URL",
      },
      {
        name: "non-image bytes",
        route: O,
        body: { ...good, messages: [user(image(`data:image/png;base64,${text}`))] },
        status: 400,
        code: "IMAGE_UNSUPPORTED",
        message:
          /^messages\[0\]\.content\[0\]\.image_url\.url: image data: URL is not in a recognised image format/,
      },
      {
        name: "image over the byte limit",
        route: O,
        body: { ...good, messages: [user(image(url(big)))] },
        status: 413,
        code: "IMAGE_TOO_LARGE",
        message: /^messages\[0\]\.content\[0\]\.image_url\.url: .*4000/,
      },
      {
        name: "image over the pixel limit",
        route: O,
        body: { ...good, messages: [user(image(url(huge)))] },
        status: 413,
        code: "IMAGE_TOO_LARGE",
        message:
          /^messages\[0\]\.content\[0\]\.image_url\.url: image data: URL is 100×100 = 10000 pixels; the limit is maxPixels = 5000/,
      },
      {
        name: "too many images",
        route: O,
        body: { ...good, messages: [user(...Array(4).fill(image(url(red))))] },
        status: 400,
        code: "INVALID_ARGUMENT",
        message: "request holds 4 images; at most 3 are allowed per request",
      },
      {
        name: "remote URL while remote images are off",
        route: O,
        body: { ...good, messages: [user(image("http://127.0.0.1:9/cat.png"))] },
        status: 403,
        code: "IMAGE_SOURCE_NOT_ALLOWED",
        message:
          /^messages\[0\]\.content\[0\]\.image_url\.url: remote image URLs are disabled on this server/,
      },
      {
        name: "an image in an assistant message",
        route: O,
        body: { ...good, messages: [good.messages[0], { role: "assistant", content: [image(url(red))] }] },
        status: 400,
        code: "INVALID_ARGUMENT",
        message:
          "messages[1].content[0]: images are accepted in user messages only, not in assistant messages",
      },
      {
        name: "max_tokens beyond the context",
        route: O,
        body: { ...good, max_tokens: 5000 },
        status: 400,
        code: "CONTEXT_OVERFLOW",
        message:
          "max_tokens: 5000 tokens do not fit; a request may use at most 2048 positions (prompt and answer together)",
      },
      {
        name: "max_completion_tokens that fit alone but not with the prompt",
        route: O,
        body: { ...good, max_tokens: undefined, max_completion_tokens: 2040 },
        status: 400,
        code: "CONTEXT_OVERFLOW",
        message:
          /^max_completion_tokens: 2040 plus a \d+-position prompt exceeds the 2048 positions a request may use/,
      },
      {
        name: "max_tokens 0",
        route: O,
        body: { ...good, max_tokens: 0 },
        status: 400,
        code: "INVALID_ARGUMENT",
        message: /^max_tokens: expected number to be >=1/,
      },
      {
        name: "temperature -1",
        route: O,
        body: { ...good, temperature: -1 },
        status: 400,
        code: "INVALID_ARGUMENT",
        message: /^temperature: expected number to be >=0/,
      },
      {
        name: "top_p 2",
        route: O,
        body: { ...good, top_p: 2 },
        status: 400,
        code: "INVALID_ARGUMENT",
        message: /^top_p: expected number to be <=1/,
      },
      {
        name: "n = 2",
        route: O,
        body: { ...good, n: 2 },
        status: 400,
        code: "INVALID_ARGUMENT",
        message: "n: only n = 1 is supported (one choice per request)",
      },
      {
        name: "stream of the wrong type",
        route: O,
        body: { ...good, stream: "yes" },
        status: 400,
        code: "INVALID_ARGUMENT",
        message: "stream: expected boolean, received string",
      },
      {
        name: "Ollama: unknown model",
        route: "/api/chat",
        body: { ...ollama, model: "nope" },
        status: 404,
        message: 'model "nope" is not served here; models: "enc", "chat", "pali"',
      },
      {
        name: "Ollama: corrupt base64 image",
        route: "/api/chat",
        body: { ...ollama, messages: [{ role: "user", content: "hi", images: ["not base64!!"] }] },
        status: 400,
        message: "messages[0].images[0]: expected base64-encoded image bytes",
      },
      {
        name: "Ollama: non-image bytes",
        route: "/api/generate",
        body: { model: "pali", prompt: "hi", images: [text], stream: false },
        status: 400,
        message: /^images\[0\]: image data: URL is not in a recognised image format/,
      },
      {
        name: "Ollama: num_predict beyond the context",
        route: "/api/generate",
        body: { model: "pali", prompt: "hi", stream: false, options: { num_predict: 9000 } },
        status: 400,
        message: /^options\.num_predict: 9000 tokens do not fit/,
      },
      {
        name: "Ollama: top_p 2",
        route: "/api/chat",
        body: { ...ollama, options: { top_p: 2 } },
        status: 400,
        message: /^options\.top_p: expected number to be <=1/,
      },
      {
        name: "Ollama: images in a system message",
        route: "/api/chat",
        body: { ...ollama, messages: [{ role: "system", content: "x", images: [red] }] },
        status: 400,
        message: "messages[0].images: images are accepted in user messages only, not in system messages",
      },
      {
        name: "Ollama: an encoder used for generate",
        route: "/api/generate",
        body: { model: "enc", prompt: "hi" },
        status: 400,
        message: /^model "enc" is an image encoder and cannot chat/,
      },
    ];
    expect(cases.length).toBeGreaterThanOrEqual(25);
    for (const c of cases) {
      const res = await post(app, c.route, c.body);
      expect(res.status, c.name).toBe(c.status);
      const message = c.route.startsWith("/api/") ? res.body.error : res.body.error.message;
      if (c.route.startsWith("/api/")) expect(Object.keys(res.body), c.name).toEqual(["error"]);
      else expect(res.body.error.code, c.name).toBe(c.code);
      if (typeof c.message === "string") expect(message, c.name).toBe(c.message);
      else expect(message, c.name).toMatch(c.message);
    }
    const ok = await post(app, O, good);
    expect(ok.status).toBe(200);
    expect(ok.body.choices[0].message.role).toBe("assistant");
    const okOllama = await post(app, "/api/chat", ollama);
    expect(okOllama.status).toBe(200);
    expect(okOllama.body.done).toBe(true);
    // Nothing was left holding a sequence.
    expect(server.models.engineLoads()).toEqual([{ llm: "gemma3.gguf", active: 0, queued: 0 }]);
  });

  it("names the request's own field in `param` when max_tokens does not fit, early or with the prompt", async () => {
    const { app } = createApp({ models: server.models, logger: captureLogger().logger });
    const ask = (extra: Record<string, unknown>) =>
      post(app, "/v1/chat/completions", {
        model: "chat",
        messages: [{ role: "user", content: "hi" }],
        ...extra,
      });
    const early = await ask({ max_tokens: 5000 });
    expect(early.body.error).toMatchObject({ code: "CONTEXT_OVERFLOW", param: "max_tokens" });
    const withPrompt = await ask({ max_completion_tokens: 2040 });
    expect(withPrompt.status).toBe(400);
    expect(withPrompt.body.error).toMatchObject({ code: "CONTEXT_OVERFLOW", param: "max_completion_tokens" });
    const mismatch = await ask({ messages: [{ role: "user", content: "<image>?" }] });
    expect(mismatch.body.error).toMatchObject({ code: "PROMPT_MISMATCH", param: "messages[0]" });
  });

  it("refuses a private image address even when remote images are on", async () => {
    const { app } = createApp({
      models: server.models,
      logger: captureLogger().logger,
      allowRemoteImages: true,
    });
    const res = await post(app, "/v1/chat/completions", {
      model: "chat",
      messages: [
        { role: "user", content: [{ type: "image_url", image_url: { url: "http://127.0.0.1:9/cat.png" } }] },
      ],
    });
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({
      code: "IMAGE_SOURCE_NOT_ALLOWED",
      param: "messages[0].content[0].image_url.url",
    });
    expect(res.body.error.message).toMatch(/image address 127\.0\.0\.1 is loopback; only public addresses/);
  });

  it("reports an error after the stream began in-band, in each family's format", async () => {
    // A deadline that passes mid-generation: the headers are out, so the error is the last event.
    const { app } = createApp({
      models: server.models,
      logger: captureLogger().logger,
      limits: { requestTimeoutMs: 300 },
    });
    const slow = {
      model: "chat",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 1500,
      temperature: 0,
    };
    const engine = server.models.vlm("chat").vlm.llm.engine;
    {
      const sse = await app.request("/v1/chat/completions", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ...slow, stream: true }),
      });
      expect(sse.status).toBe(200);
      const events = (await sse.text()).trim().split("\n\n");
      const last = JSON.parse(events.at(-1)!.slice("data: ".length));
      expect(last.error).toMatchObject({ code: "TIMEOUT", type: "timeout_error" });
      expect(events.at(-1)).not.toContain("[DONE]");
      const nd = await app.request("/api/chat", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ...slow, options: { num_predict: 1500 } }),
      });
      const lines = (await nd.text()).trim().split("\n");
      expect(JSON.parse(lines.at(-1)!)).toEqual({
        error: "request took longer than 300 ms (the server's request timeout)",
      });
    }
    await expect.poll(() => engine.load.active, { timeout: 5000 }).toBe(0);
  });
});
