// Chat routes through app.request() on the tiny demo set: OpenAI and Ollama formats, streaming and not.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeImage } from "../../src/image/decode.js";
import { createApp } from "../../src/server/app.js";
import { type DemoServer, demoModels, ndjsonLines, sseEvents } from "./demo.js";
import { captureLogger, json, pngBase64, post } from "./helpers.js";

let server: DemoServer;
let red: string;
let blue: string;

beforeAll(async () => {
  server = await demoModels({}, { encoder: true });
  red = await pngBase64(40, 30, { r: 220, g: 20, b: 20 });
  blue = await pngBase64(30, 50, { r: 10, g: 40, b: 230 });
});
afterAll(() => server?.cleanup());

const quiet = () => captureLogger().logger;
const dataUrl = (b64: string) => `data:image/png;base64,${b64}`;
const GREEDY = { temperature: 0, max_tokens: 10 };

/** The same question asked through the library, to compare with what the routes answer. */
async function libraryAnswer(model: string, image: string, text: string, maxTokens: number) {
  const decoded = await decodeImage(Buffer.from(image, "base64"), "test image", { maxPixels: 1 << 24 });
  const { vlm } = server.models.vlm(model);
  return vlm.chat(
    [
      {
        role: "user",
        content: [
          { type: "image", image: decoded },
          { type: "text", text },
        ],
      },
    ],
    { maxTokens, sampling: { temperature: 0 } },
  );
}

function openAiBody(extra: Record<string, unknown> = {}, image = red) {
  return {
    model: "chat",
    messages: [
      {
        role: "user",
        content: [
          { type: "image_url", image_url: { url: dataUrl(image) } },
          { type: "text", text: "what is this?" },
        ],
      },
    ],
    ...GREEDY,
    ...extra,
  };
}

describe("POST /v1/chat/completions", () => {
  it("answers as the library does, in OpenAI's chat.completion shape", async () => {
    const { app } = createApp({ models: server.models, logger: quiet() });
    const res = await post(app, "/v1/chat/completions", openAiBody());
    expect(res.status).toBe(200);
    const expected = await libraryAnswer("chat", red, "what is this?", 10);
    expect(res.body).toMatchObject({
      object: "chat.completion",
      model: "chat",
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: expected.text },
          finish_reason: expected.finishReason,
        },
      ],
      usage: {
        prompt_tokens: expected.usage.promptTokens,
        completion_tokens: expected.usage.completionTokens,
        total_tokens: expected.usage.totalTokens,
      },
    });
    expect(res.body.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    expect(Math.abs(res.body.created - Date.now() / 1000)).toBeLessThan(60);
    // Another image gives another answer: the image reached the model.
    const other = await post(app, "/v1/chat/completions", openAiBody({}, blue));
    expect(other.body.choices[0].message.content).not.toBe(expected.text);
  });

  it("streams role, deltas, finish reason, usage and [DONE]", async () => {
    const { app } = createApp({ models: server.models, logger: quiet() });
    const plain = await post(app, "/v1/chat/completions", openAiBody());
    const res = await app.request("/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(openAiBody({ stream: true, stream_options: { include_usage: true } })),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    // biome-ignore lint/suspicious/noExplicitAny: chunks are inspected field by field
    const events = sseEvents(await res.text()) as any[];
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events.slice(0, -1);
    const id = chunks[0].id;
    for (const c of chunks) expect(c).toMatchObject({ id, object: "chat.completion.chunk", model: "chat" });
    expect(chunks[0].choices).toEqual([
      { index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null },
    ]);
    const usage = chunks.at(-1);
    expect(usage.choices).toEqual([]);
    expect(usage.usage).toEqual(plain.body.usage);
    const last = chunks.at(-2);
    expect(last.choices).toEqual([
      { index: 0, delta: {}, logprobs: null, finish_reason: plain.body.choices[0].finish_reason },
    ]);
    const deltas = chunks.slice(1, -2);
    expect(deltas.length).toBeGreaterThan(0);
    for (const c of deltas) expect(c.usage).toBeNull();
    const text = deltas.map((c) => c.choices[0].delta.content).join("");
    expect(text).toBe(plain.body.choices[0].message.content);
  });

  it("serves a PaliGemma adapter with the image marked by <image>, stop strings and max_completion_tokens", async () => {
    const { app } = createApp({ models: server.models, logger: quiet() });
    const body = {
      model: "pali",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "<image> caption en" },
            { type: "image_url", image_url: { url: dataUrl(red) } },
          ],
        },
      ],
      temperature: 0,
      max_completion_tokens: 6,
    };
    const res = await post(app, "/v1/chat/completions", body);
    expect(res.status).toBe(200);
    expect(res.body.usage.completion_tokens).toBeLessThanOrEqual(6);
    const text: string = res.body.choices[0].message.content;
    if (text.length > 1) {
      // A stop string cuts the answer before it and is not part of it.
      const stop = text.slice(1, 2);
      const cut = await post(app, "/v1/chat/completions", { ...body, stop: [stop] });
      expect(cut.body.choices[0]).toMatchObject({ finish_reason: "stop" });
      expect(cut.body.choices[0].message.content).toBe(text.slice(0, text.indexOf(stop)));
    }
  });

  it("samples reproducibly with a seed", async () => {
    const { app } = createApp({ models: server.models, logger: quiet() });
    const body = openAiBody({ temperature: 1.5, top_p: 0.95, seed: 7, max_tokens: 12 });
    const a = await post(app, "/v1/chat/completions", body);
    const b = await post(app, "/v1/chat/completions", body);
    expect(a.status).toBe(200);
    expect(a.body.choices[0].message.content).toBe(b.body.choices[0].message.content);
  });
});

describe("Ollama routes", () => {
  it("/api/chat streams NDJSON ending in a done object, and answers in one object with stream:false", async () => {
    const { app } = createApp({ models: server.models, logger: quiet() });
    const body = {
      model: "chat",
      messages: [{ role: "user", content: "what is this?", images: [red] }],
      options: { temperature: 0, num_predict: 10 },
    };
    const res = await app.request("/api/chat", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-ndjson");
    const lines = ndjsonLines(await res.text());
    const done = lines.at(-1)!;
    expect(lines.slice(0, -1).every((l) => l.done === false && l.model === "chat")).toBe(true);
    const text = lines.map((l) => (l.message as { content: string }).content).join("");
    const expected = await libraryAnswer("chat", red, "what is this?", 10);
    expect(text).toBe(expected.text);
    expect(done).toMatchObject({
      model: "chat",
      message: { role: "assistant", content: "" },
      done: true,
      done_reason: expected.finishReason,
      prompt_eval_count: expected.usage.promptTokens,
      eval_count: expected.usage.completionTokens,
      load_duration: 0,
    });
    expect(done.total_duration).toBeGreaterThan(0);
    expect(Number.isNaN(Date.parse(done.created_at as string))).toBe(false);

    const one = await post(app, "/api/chat", { ...body, stream: false });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({
      message: { role: "assistant", content: expected.text },
      done: true,
      eval_count: expected.usage.completionTokens,
    });
  });

  it("/api/generate answers a prompt with images; model:latest finds the model", async () => {
    const { app } = createApp({ models: server.models, logger: quiet() });
    const res = await post(app, "/api/generate", {
      model: "pali:latest",
      prompt: "caption en",
      images: [red],
      stream: false,
      options: { temperature: 0, num_predict: 5 },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ model: "pali:latest", done: true });
    expect(typeof res.body.response).toBe("string");
    expect(res.body.eval_count).toBeLessThanOrEqual(5);
    expect(res.body.prompt_eval_count).toBeGreaterThan(16); // 16 image rows + <bos> + prefix
  });

  it("/api/tags lists the VLMs, /api/version answers", async () => {
    const { app } = createApp({ models: server.models, logger: quiet() });
    const tags = await json(await app.request("/api/tags"));
    expect(tags.models.map((m: { name: string }) => m.name)).toEqual(["chat", "pali"]);
    expect(tags.models[0]).toMatchObject({ model: "chat", details: { format: "gguf", family: "gemma3" } });
    expect(tags.models[0].size).toBeGreaterThan(1000);
    expect((await json(await app.request("/api/version"))).version).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe("models and metrics", () => {
  it("shares one LLM between adapters on the same GGUF, and a served encoder with the VLM on it", () => {
    const chat = server.models.vlm("chat").vlm;
    const pali = server.models.vlm("pali").vlm;
    expect(chat.llm).toBe(pali.llm);
    expect(pali.encoder).toBe(server.models.encoder("enc").model.vision);
    expect(chat.encoder).not.toBe(pali.encoder);
    expect(server.models.engineLoads()).toHaveLength(1);
  });

  it("lists VLMs next to encoders and counts tokens, time to first token and engine load", async () => {
    const { app } = createApp({ models: server.models, logger: quiet() });
    const list = await json(await app.request("/v1/models"));
    expect(list.data.map((m: { id: string; kind: string }) => [m.id, m.kind])).toEqual([
      ["enc", "encoder"],
      ["chat", "vlm"],
      ["pali", "vlm"],
    ]);
    const res = await post(app, "/v1/chat/completions", openAiBody());
    const metrics = await (await app.request("/metrics")).text();
    const count = (re: RegExp) => Number(re.exec(metrics)?.[1]);
    expect(count(/vlmkit_tokens_total\{model="chat",kind="completion"\} (\d+)/)).toBe(
      res.body.usage.completion_tokens,
    );
    expect(count(/vlmkit_tokens_total\{model="chat",kind="prompt"\} (\d+)/)).toBe(
      res.body.usage.prompt_tokens,
    );
    expect(count(/vlmkit_time_to_first_token_seconds_count\{model="chat"\} (\d+)/)).toBe(1);
    expect(metrics).toMatch(/vlmkit_generation_duration_seconds_count\{model="chat",finish="\w+"\} 1/);
    expect(metrics).toContain('vlmkit_generation_requests{llm="gemma3.gguf",state="active"} 0');
    expect(metrics).toContain('vlmkit_generation_requests{llm="gemma3.gguf",state="queued"} 0');
  });
});
