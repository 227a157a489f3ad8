// Text embeddings over HTTP with the official clients against a listening server: the `openai`
// client's embeddings.create (base64 by default, floats on request) and the `ollama` client's embed
// and embeddings. The vectors are the library's SigLIP text-tower vectors; inputs are bounded.
import path from "node:path";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/server/app.js";
import { listen, type RunningServer } from "../../src/server/listen.js";
import { ServedModels } from "../../src/server/models.js";
import { captureLogger, post, tempDir } from "./helpers.js";

const ENCODER = path.join(import.meta.dirname, "..", "..", "models", "demo", "siglip2");
let models: ServedModels;
let running: RunningServer;
let app: ReturnType<typeof createApp>["app"];
let url: string;
let expected: Float32Array[];

beforeAll(async () => {
  process.env.VLMKIT_CACHE = path.join(tempDir("vlmkit-embeddings-"), "cache");
  models = new ServedModels();
  await models.loadEncoders({ siglip2: ENCODER }, { siglip: { threads: 1 } });
  expected = await models.encoder("siglip2").model.embedTexts(["a red circle", "a blue square"]);
  ({ app } = createApp({ models, apiKey: false, logger: captureLogger().logger }));
  running = await listen(app, { port: 0 });
  url = running.url;
});
afterAll(async () => {
  await running?.close(1000);
  await models?.dispose();
});

const close = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i], 5);
};

describe("POST /v1/embeddings", () => {
  it("gives the text tower's unit vectors to the openai client, base64 and float", async () => {
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "x", maxRetries: 0 });
    const one = await client.embeddings.create({ model: "siglip2", input: "a red circle" });
    expect(one.object).toBe("list");
    expect(one.model).toBe("siglip2");
    close(one.data[0].embedding, expected[0]);
    expect(one.usage.prompt_tokens).toBe(64); // the tower reads every text as 64 tokens

    const two = await client.embeddings.create({
      model: "siglip2",
      input: ["a red circle", "a blue square"],
      encoding_format: "float",
    });
    expect(two.data.map((d) => d.index)).toEqual([0, 1]);
    close(two.data[1].embedding, expected[1]);
    expect(two.usage).toEqual({ prompt_tokens: 128, total_tokens: 128 });
  });

  it("takes model from the only served encoder", async () => {
    const res = await post(app, "/v1/embeddings", { input: "a blue square" });
    expect(res.status).toBe(200);
    expect(res.body.model).toBe("siglip2");
    close(res.body.data[0].embedding, expected[1]);
  });

  it("refuses unbounded or unsupported input with a 400 naming the field", async () => {
    const cases: [unknown, RegExp][] = [
      [{ input: "x".repeat(1025) }, /^input: the text is 1025 characters long; at most 1024/],
      [{ input: Array(2049).fill("a") }, /^input: expected at most 2048 texts/],
      [{ input: [] }, /^input: expected at least one text/],
      [{ input: [[1, 2, 3]] }, /^input\[0\]: expected string/],
      [{ input: 5 }, /^input: expected string or array/],
      [{ input: " " }, /^input: the text is empty/],
      [
        { input: "a", dimensions: 8 },
        /^dimensions: 8 is not supported; model "siglip2" gives \d+-dimensional/,
      ],
      [{ model: "nope", input: "a" }, /model "nope" is not served here/],
    ];
    for (const [body, message] of cases) {
      const res = await post(app, "/v1/embeddings", body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBeGreaterThanOrEqual(400);
      expect(res.body.error.message).toMatch(message);
    }
  });

  it("needs model when several encoders are served", async () => {
    const two = new ServedModels();
    const model = models.encoder("siglip2").model;
    two.addEncoder("a", model);
    two.addEncoder("b", model);
    two.markReady();
    const other = createApp({ models: two, apiKey: false, logger: captureLogger().logger });
    const res = await post(other.app, "/v1/embeddings", { input: "a" });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe(
      'model: required when several encoders are served (served: "a", "b")',
    );
    expect(res.body.error.param).toBe("model");
  });
});

describe("Ollama /api/embed", () => {
  it("embeds one text or several with the ollama client", async () => {
    const ollama = new Ollama({ host: url });
    const one = await ollama.embed({ model: "siglip2", input: "a red circle" });
    expect(one.model).toBe("siglip2");
    expect(one.embeddings).toHaveLength(1);
    close(one.embeddings[0], expected[0]);
    expect(one.prompt_eval_count).toBe(64);
    const two = await ollama.embed({ model: "siglip2:latest", input: ["a red circle", "a blue square"] });
    close(two.embeddings[1], expected[1]);
    const legacy = await ollama.embeddings({ model: "siglip2", prompt: "a blue square" });
    close(legacy.embedding, expected[1]);
    await expect(ollama.embed({ model: "siglip2", input: "x".repeat(2000) })).rejects.toThrow(
      /at most 1024 are accepted/,
    );
  });
});
