// Admission before decoding: encoder and chat requests take an encoder-queue slot before any image is
// decoded (a full queue answers 429 without decoding), a request's images share one pixel budget, and
// a chat request is refused before its images are loaded when its LLM's queue is full.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/server/app.js";
import { listen } from "../../src/server/listen.js";
import { WorkQueue } from "../../src/server/queue.js";
import { type DemoServer, demoModels } from "./demo.js";
import { captureLogger, json, pngBase64, post } from "./helpers.js";

let server: DemoServer;
let red: string;

beforeAll(async () => {
  server = await demoModels({}, { encoder: true });
  red = await pngBase64(40, 30, { r: 220, g: 20, b: 20 });
});
afterAll(() => server?.cleanup());

const quiet = () => captureLogger().logger;
const url = (b64: string) => `data:image/png;base64,${b64}`;
/** Bytes that start like a PNG but are not one: decoding them fails at once with 400. */
const corrupt = Buffer.from("\x89PNG\r\n\x1a\n not really a png").toString("base64");

/** A queue whose only slot is held until `release()`. */
function heldQueue(maxQueued: number) {
  const queue = new WorkQueue({ name: "encoder", concurrency: 1, maxQueued });
  let release!: () => void;
  const held = queue.run(() => new Promise<void>((resolve) => (release = resolve)));
  return {
    queue,
    release: () => {
      release();
      return held;
    },
  };
}

describe("encoder routes", () => {
  it("answer 429 from a full queue without decoding the images", async () => {
    const { queue, release } = heldQueue(0);
    const { app } = createApp({ models: server.models, logger: quiet(), encoderQueue: queue });
    const huge = await pngBase64(200, 200);
    const limits = { maxImagePixels: 100 };
    const { app: strict } = createApp({
      models: server.models,
      logger: quiet(),
      encoderQueue: queue,
      limits,
    });
    for (const [route, body] of [
      ["/v1/classify", { model: "enc", images: [corrupt], labels: ["cat"] }],
      ["/v1/images/embeddings", { model: "enc", images: [corrupt] }],
    ] as const) {
      const res = await post(app, route, body);
      expect(res.status).toBe(429);
      expect(res.body.error.code).toBe("BUSY");
    }
    // Over the pixel limit, too: the queue answers first, the header is never read.
    const res = await post(strict, "/v1/classify", { model: "enc", images: [huge], labels: ["cat"] });
    expect(res.status).toBe(429);
    await release();
    expect(
      (await post(strict, "/v1/classify", { model: "enc", images: [huge], labels: ["cat"] })).status,
    ).toBe(413);
  });

  it("leave a waiting request's images undecoded until its slot comes", async () => {
    const { queue, release } = heldQueue(4);
    const { app } = createApp({ models: server.models, logger: quiet(), encoderQueue: queue });
    let settled = false;
    const pending = post(app, "/v1/classify", { model: "enc", images: [corrupt], labels: ["cat"] }).finally(
      () => (settled = true),
    );
    await expect.poll(() => queue.waiting).toBe(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(settled).toBe(false); // decoding would have failed at once
    await release();
    const res = await pending;
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("IMAGE_UNSUPPORTED");
  });

  it("bound the pixels of all a request's images together, naming the budget", async () => {
    const { app } = createApp({
      models: server.models,
      logger: quiet(),
      limits: { maxImagePixels: 1500, maxRequestPixels: 2500 },
    });
    const a = await pngBase64(40, 30); // 1200 pixels each: one fits either limit, three do not
    const ok = await post(app, "/v1/images/embeddings", { model: "enc", images: [a, a] });
    expect(ok.status).toBe(200);
    const res = await post(app, "/v1/images/embeddings", { model: "enc", images: [a, a, a] });
    expect(res.status).toBe(413);
    expect(res.body.error).toMatchObject({ code: "IMAGE_TOO_LARGE", param: "images[2]" });
    expect(res.body.error.message).toBe(
      "images[2]: image is 40×30 = 1200 pixels, but the request's earlier images already take 2400 of the 2500 pixels a request may decode (maxRequestPixels); send smaller or fewer images",
    );
  });
});

describe("chat routes", () => {
  const chat = (image: string, extra: Record<string, unknown> = {}) => ({
    model: "chat",
    messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: url(image) } }] }],
    max_tokens: 4,
    ...extra,
  });

  it("load and encode images under the encoder queue: full → 429 before decoding; text-only chats go on", async () => {
    const { queue, release } = heldQueue(0);
    const { app } = createApp({ models: server.models, logger: quiet(), encoderQueue: queue });
    const busy = await post(app, "/v1/chat/completions", chat(corrupt));
    expect(busy.status).toBe(429);
    expect(busy.body.error.code).toBe("BUSY");
    const ollama = await post(app, "/api/chat", {
      model: "chat",
      messages: [{ role: "user", content: "what?", images: [corrupt] }],
      stream: false,
    });
    expect(ollama.status).toBe(429);
    expect(ollama.body.error).toMatch(/encoder queue is full/);
    const text = await post(app, "/v1/chat/completions", {
      model: "chat",
      messages: [{ role: "user", content: "hello" }],
      max_tokens: 2,
    });
    expect(text.status).toBe(200);
    await release();
    expect((await post(app, "/v1/chat/completions", chat(red))).status).toBe(200);
    expect(queue.running).toBe(0);
  });

  it("release the encoder slot once the request is queued for generation, not when it ends", async () => {
    const queue = new WorkQueue({ name: "encoder", concurrency: 1, maxQueued: 0 });
    const { app } = createApp({ models: server.models, logger: quiet(), encoderQueue: queue });
    const srv = await listen(app, { port: 0 });
    const engine = server.models.vlm("chat").vlm.llm.engine;
    try {
      const holder = new AbortController();
      const streaming = await fetch(`${srv.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(chat(red, { max_tokens: 1500, stream: true })),
        signal: holder.signal,
      });
      expect(streaming.status).toBe(200);
      await streaming.body!.getReader().read(); // generating now
      expect(engine.load.active).toBe(1);
      expect(queue.running).toBe(0); // the only slot is free again: another image request gets it
      expect((await post(app, "/v1/chat/completions", chat(red, { max_tokens: 2 }))).status).toBe(200);
      holder.abort();
      await expect.poll(() => engine.load.active, { timeout: 5000, interval: 5 }).toBe(0);
    } finally {
      await srv.close(1000);
    }
  });

  it("answer 429 before loading images when the LLM's queue is full", async () => {
    const small = await demoModels({ sequences: 1, maxQueue: 1 });
    const { app } = createApp({ models: small.models, logger: quiet() });
    const srv = await listen(app, { port: 0 });
    const engine = small.models.vlm("chat").vlm.llm.engine;
    const send = (body: unknown, signal?: AbortSignal) =>
      fetch(`${srv.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        signal,
      });
    try {
      const holder = new AbortController();
      const a = await send(chat(red, { max_tokens: 1500, stream: true }), holder.signal);
      await a.body!.getReader().read(); // holds the only sequence
      const b = send(chat(red)); // waits for the sequence
      await expect.poll(() => engine.load.queued, { timeout: 5000, interval: 5 }).toBe(1);
      const c = await send(chat(corrupt)); // would be 400 if its image were decoded
      expect(c.status).toBe(429);
      const body = await json(c);
      expect(body.error).toMatchObject({ code: "BUSY", type: "rate_limit_error" });
      expect(body.error.message).toBe(
        'model "chat": 1 requests are already waiting for a sequence (the limit is 1); try again later',
      );
      holder.abort();
      const served = await b; // the waiting request is served once the sequence frees
      expect(served.status).toBe(200);
      expect((await json(served)).object).toBe("chat.completion");
    } finally {
      await srv.close(1000);
      await small.cleanup();
    }
  });
});
