import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Siglip } from "../../src/encoders/index.js";
import { createApp } from "../../src/server/app.js";
import { ServedModels } from "../../src/server/models.js";
import { captureLogger, json, noisyPng, pngBase64, post, tempDir, tinyEncoder } from "./helpers.js";

const root = tempDir("vlmkit-server-");
let dir: string;
let models: ServedModels;
let red: string;
let blue: string;

beforeAll(async () => {
  dir = await tinyEncoder(root);
  models = new ServedModels();
  await models.loadEncoders({ tiny: dir });
  red = await pngBase64(40, 30, { r: 220, g: 20, b: 20 });
  blue = await pngBase64(30, 50, { r: 10, g: 40, b: 230 });
});
afterAll(async () => {
  await models.dispose();
  fs.rmSync(root, { recursive: true, force: true });
});

const quiet = () => captureLogger().logger;

describe("POST /v1/classify", () => {
  it("scores every label for every image, as the library does", async () => {
    const { app } = createApp({ models, logger: quiet() });
    const labels = ["cat", "dog", "a red square"];
    const res = await post(app, "/v1/classify", {
      model: "tiny",
      images: [`data:image/png;base64,${red}`, blue],
      labels,
      template: "a photo of {}",
    });
    expect(res.status).toBe(200);
    expect(res.body.object).toBe("list");
    expect(res.body.model).toBe("tiny");
    expect(res.body.data.map((d: { index: number }) => d.index)).toEqual([0, 1]);

    const reference = await Siglip.load(dir);
    try {
      const expected = await reference.classify(
        [Buffer.from(red, "base64"), Buffer.from(blue, "base64")],
        labels,
        { template: "a photo of {}" },
      );
      for (let i = 0; i < 2; i++) {
        const got = res.body.data[i].results as { label: string; score: number }[];
        expect(got.map((r) => r.label)).toEqual(expected[i].map((r) => r.label));
        for (const [j, r] of got.entries()) expect(r.score).toBeCloseTo(expected[i][j].score, 6);
        for (let j = 1; j < got.length; j++) expect(got[j - 1].score).toBeGreaterThanOrEqual(got[j].score);
        for (const r of got) expect(r.score > 0 && r.score < 1).toBe(true);
      }
      // Different images give different scores: the images really reached the encoder.
      expect(res.body.data[0].results[0].score).not.toBe(res.body.data[1].results[0].score);
    } finally {
      await reference.dispose();
    }
  });
});

describe("POST /v1/images/embeddings", () => {
  it("returns unit-norm embeddings in OpenAI's list format, as floats or base64", async () => {
    const { app } = createApp({ models, logger: quiet() });
    const res = await post(app, "/v1/images/embeddings", { model: "tiny", images: [red, blue] });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      object: "list",
      model: "tiny",
      usage: { prompt_tokens: 32, total_tokens: 32 },
    });
    const [a, b] = res.body.data;
    expect(a).toMatchObject({ object: "embedding", index: 0 });
    expect(a.embedding).toHaveLength(32);
    expect(Math.hypot(...a.embedding)).toBeCloseTo(1, 5);

    const reference = await Siglip.load(dir);
    try {
      const [ea, eb] = await reference.embedImages([Buffer.from(red, "base64"), Buffer.from(blue, "base64")]);
      for (const [i, x] of (a.embedding as number[]).entries()) expect(x).toBeCloseTo(ea[i], 6);
      for (const [i, x] of (b.embedding as number[]).entries()) expect(x).toBeCloseTo(eb[i], 6);
    } finally {
      await reference.dispose();
    }

    // OpenAI clients send `input` and ask for base64 (little-endian float32 bytes).
    const b64 = await post(app, "/v1/images/embeddings", {
      model: "tiny",
      input: red,
      encoding_format: "base64",
    });
    expect(b64.status).toBe(200);
    const bytes = Buffer.from(b64.body.data[0].embedding, "base64");
    const floats = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    expect(Array.from(floats)).toEqual(a.embedding.map((x: number) => Math.fround(x)));

    const wrongDims = await post(app, "/v1/images/embeddings", {
      model: "tiny",
      input: [red],
      dimensions: 16,
    });
    expect(wrongDims.status).toBe(400);
    expect(wrongDims.body.error.message).toBe(
      'dimensions: 16 is not supported; model "tiny" gives 32-dimensional embeddings',
    );
  });
});

describe("GET /v1/models, /health, /metrics", () => {
  it("lists the served encoders in OpenAI's format", async () => {
    const { app } = createApp({ models, logger: quiet() });
    const list = await json(await app.request("/v1/models"));
    expect(list).toMatchObject({
      object: "list",
      data: [{ id: "tiny", object: "model", owned_by: "vlmkit", kind: "encoder" }],
    });
    expect(typeof list.data[0].created).toBe("number");
    expect((await app.request("/v1/models/tiny")).status).toBe(200);
    const missing = await app.request("/v1/models/nope");
    expect(missing.status).toBe(404);
    expect((await json(missing)).error.message).toBe('model "nope" is not served here; models: "tiny"');
  });

  it("refuses huge templates and labels with 400 and keeps serving", async () => {
    const { app } = createApp({ models, logger: quiet() });
    // 8 MB of "{}" with 1000 labels would build ~400 M characters per prompt if it were expanded.
    const template = await post(app, "/v1/classify", {
      model: "tiny",
      images: [red],
      labels: Array.from({ length: 1000 }, (_, i) => `label ${i}`),
      template: "{}".repeat(4_000_000),
    });
    expect(template.status).toBe(400);
    expect(template.body.error.message).toMatch(/template is 8000000 characters long; at most 1024/);
    const label = await post(app, "/v1/classify", {
      model: "tiny",
      images: [red],
      labels: ["x".repeat(4_000_000)],
    });
    expect(label.status).toBe(400);
    expect(label.body.error.message).toMatch(/label is 4000000 characters long; at most 1024/);
    const twice = await post(app, "/v1/classify", {
      model: "tiny",
      images: [red],
      labels: ["a"],
      template: "{} {}",
    });
    expect(twice.status).toBe(400);
    const ok = await post(app, "/v1/classify", { model: "tiny", images: [red], labels: ["cat"] });
    expect(ok.status).toBe(200);
  });

  it("answers 503 while models load and 200 once they are ready", async () => {
    const loading = new ServedModels();
    const { app } = createApp({ models: loading, logger: quiet() });
    const before = await app.request("/health");
    expect(before.status).toBe(503);
    expect(await before.json()).toEqual({ status: "loading" });
    const early = await post(app, "/v1/classify", { model: "tiny", images: [red], labels: ["cat"] });
    expect(early.status).toBe(503);
    expect(early.body.error.code).toBe("UNAVAILABLE");

    const done = loading.loadEncoders({ tiny: dir });
    expect((await app.request("/health")).status).toBe(503);
    await done;
    const after = await app.request("/health");
    expect(after.status).toBe(200);
    expect(await after.json()).toEqual({ status: "ok" });
    expect((await post(app, "/v1/classify", { model: "tiny", images: [red], labels: ["cat"] })).status).toBe(
      200,
    );
    loading.markDraining();
    expect(await (await app.request("/health")).json()).toEqual({ status: "draining" });
    await loading.dispose();
  });

  it("reports a model that failed to load without its paths (the detail goes to the log, once)", async () => {
    const broken = new ServedModels();
    const { logger, lines } = captureLogger();
    const { app } = createApp({ models: broken, logger });
    await expect(broken.loadEncoders({ bad: `${root}/does-not-exist` })).rejects.toThrow();
    const res = await app.request("/health");
    expect(res.status).toBe(503);
    const body = await json(res);
    expect(body).toEqual({ status: "error", error: "loading models failed; the server log has the details" });
    expect(JSON.stringify(body)).not.toContain(root);
    await app.request("/health");
    const logged = lines.filter((l) => l.msg === "loading models failed");
    expect(logged).toHaveLength(1);
    expect(JSON.stringify(logged[0])).toContain("does-not-exist");
  });

  it("counts requests by route and status in its own registry", async () => {
    const { app } = createApp({ models, logger: quiet() });
    const other = createApp({ models, logger: quiet() });
    await post(app, "/v1/classify", { model: "tiny", images: [red], labels: ["cat"] });
    await post(app, "/v1/classify", { model: "tiny", images: [red], labels: ["cat"] });
    await post(app, "/v1/classify", { model: "tiny", images: [], labels: ["cat"] });
    await app.request("/no/such/route/123");
    const text = await (await app.request("/metrics")).text();
    expect(text).toContain('vlmkit_http_requests_total{method="POST",route="/v1/classify",status="200"} 2');
    expect(text).toContain('vlmkit_http_requests_total{method="POST",route="/v1/classify",status="400"} 1');
    // Unknown paths share one label instead of creating one per path.
    expect(text).toContain('vlmkit_http_requests_total{method="GET",route="unmatched",status="404"} 1');
    expect(text).toContain(
      'vlmkit_http_request_duration_seconds_count{method="POST",route="/v1/classify"} 3',
    );
    expect(text).toContain('vlmkit_queue_depth{queue="encoder"} 0');
    expect(text).toMatch(/# TYPE vlmkit_tokens_total counter/);
    // A second app counts separately.
    const otherText = await (await other.app.request("/metrics")).text();
    expect(otherText).not.toContain('route="/v1/classify"');
  });

  it("echoes x-request-id and logs one JSON line per request", async () => {
    const { logger, lines } = captureLogger();
    const { app } = createApp({ models, logger });
    const res = await post(
      app,
      "/v1/classify",
      { model: "tiny", images: [red], labels: ["cat"] },
      { "x-request-id": "req-42" },
    );
    expect(res.headers.get("x-request-id")).toBe("req-42");
    const generated = await app.request("/health");
    expect(generated.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const requestLines = lines.filter((l) => l.msg === "request");
    expect(requestLines).toHaveLength(2);
    expect(requestLines[0]).toMatchObject({
      reqId: "req-42",
      method: "POST",
      route: "/v1/classify",
      status: 200,
    });
    expect(typeof requestLines[0].ms).toBe("number");
    expect(requestLines[1]).toMatchObject({ reqId: generated.headers.get("x-request-id"), route: "/health" });
  });
});

describe("bad requests", () => {
  it("answers each with the right status and message, then still serves a good request", async () => {
    const { app } = createApp({
      models,
      logger: quiet(),
      limits: { maxImagesPerRequest: 3, maxImageBytes: 4000, maxImagePixels: 5000, maxBodyBytes: 64 * 1024 },
    });
    const big = (await noisyPng(60, 60)).toString("base64"); // ≈ 10 KB > 4000 bytes
    const huge = await pngBase64(100, 100); // 10 000 pixels > 5000, but few bytes
    const truncated = Buffer.from(red, "base64").subarray(0, 40).toString("base64");
    const good = { model: "tiny", images: [red], labels: ["cat", "dog"] };
    const cases: { name: string; body: unknown; status: number; code: string; message: string | RegExp }[] = [
      {
        name: "malformed JSON",
        body: '{"model": "tiny",',
        status: 400,
        code: "INVALID_ARGUMENT",
        message: /^request body is not valid JSON: /,
      },
      {
        name: "empty body",
        body: "",
        status: 400,
        code: "INVALID_ARGUMENT",
        message: "request body is empty; expected a JSON object",
      },
      {
        name: "not an object",
        body: "[1,2]",
        status: 400,
        code: "INVALID_ARGUMENT",
        message: "body: expected object, received array",
      },
      {
        name: "labels of the wrong type",
        body: { ...good, labels: "cat" },
        status: 400,
        code: "INVALID_ARGUMENT",
        message: "labels: expected array, received string",
      },
      {
        name: "model not a string",
        body: { model: 5, images: [red], labels: ["cat"] },
        status: 400,
        code: "INVALID_ARGUMENT",
        message: "model: expected string, received number",
      },
      {
        name: "unknown model",
        body: { ...good, model: "nope" },
        status: 404,
        code: "NOT_FOUND",
        message: 'model "nope" is not served here; models: "tiny"',
      },
      {
        name: "missing images",
        body: { model: "tiny", labels: ["cat"] },
        status: 400,
        code: "INVALID_ARGUMENT",
        message: "images: required (expected array)",
      },
      {
        name: "no images",
        body: { ...good, images: [] },
        status: 400,
        code: "INVALID_ARGUMENT",
        message: "images: expected at least one image",
      },
      {
        name: "empty label",
        body: { ...good, labels: ["cat", " "] },
        status: 400,
        code: "INVALID_ARGUMENT",
        message: "labels[1]: expected a non-empty label",
      },
      {
        name: "template without {}",
        body: { ...good, template: "a photo" },
        status: 400,
        code: "INVALID_ARGUMENT",
        message: 'template: the template must hold exactly one "{}" where the label goes; it holds 0',
      },
      {
        name: "corrupt base64",
        body: { ...good, images: [red, "not base64!!"] },
        status: 400,
        code: "INVALID_ARGUMENT",
        message: "images[1]: expected a data: URL, an http(s) URL or base64-encoded image bytes",
      },
      {
        name: "corrupt base64 in a data: URL",
        body: { ...good, images: ["data:image/png;base64,@@@@"] },
        status: 400,
        code: "INVALID_ARGUMENT",
        message: "images[0]: expected a data: URL, an http(s) URL or base64-encoded image bytes",
      },
      {
        name: "non-image bytes",
        body: { ...good, images: [Buffer.from("just some text").toString("base64")] },
        status: 400,
        code: "IMAGE_UNSUPPORTED",
        message: /^images\[0\]: image data: URL is not in a recognised image format/,
      },
      {
        name: "truncated PNG",
        body: { ...good, images: [truncated] },
        status: 400,
        code: "IMAGE_CORRUPT",
        message: /^images\[0\]: image data: URL/,
      },
      {
        name: "image over the byte limit",
        body: { ...good, images: [big] },
        status: 413,
        code: "IMAGE_TOO_LARGE",
        message: /^images\[0\]: .*4000/,
      },
      {
        name: "image over the pixel limit",
        body: { ...good, images: [huge] },
        status: 413,
        code: "IMAGE_TOO_LARGE",
        message: /^images\[0\]: image data: URL is 100×100 = 10000 pixels; the limit is maxPixels = 5000/,
      },
      {
        name: "too many images",
        body: { ...good, images: [red, red, red, red] },
        status: 400,
        code: "INVALID_ARGUMENT",
        message: "request holds 4 images; at most 3 are allowed per request",
      },
      {
        name: "remote URL while remote images are off",
        body: { ...good, images: ["http://127.0.0.1:9/cat.png"] },
        status: 403,
        code: "IMAGE_SOURCE_NOT_ALLOWED",
        message:
          /^images\[0\]: remote image URLs are disabled on this server \(start it with --allow-remote-images\)/,
      },
      {
        name: "a file path",
        body: { ...good, images: ["file:///etc/passwd"] },
        status: 400,
        code: "INVALID_ARGUMENT",
        message: /^images\[0\]: expected a data: URL/,
      },
      {
        name: "body over the limit",
        body: { ...good, images: ["A".repeat(70 * 1024)] },
        status: 413,
        code: "PAYLOAD_TOO_LARGE",
        message: "request body is larger than the server's limit of 65536 bytes",
      },
    ];
    for (const c of cases) {
      const res = await post(app, "/v1/classify", c.body);
      expect(res.status, c.name).toBe(c.status);
      expect(res.body.error.code, c.name).toBe(c.code);
      expect(typeof res.body.error.type, c.name).toBe("string");
      if (typeof c.message === "string") expect(res.body.error.message, c.name).toBe(c.message);
      else expect(res.body.error.message, c.name).toMatch(c.message);
    }
    const ok = await post(app, "/v1/classify", good);
    expect(ok.status).toBe(200);
    expect(ok.body.data[0].results).toHaveLength(2);
  });

  it("names the offending field in `param`", async () => {
    const { app } = createApp({ models, logger: quiet() });
    const res = await post(app, "/v1/classify", { model: "tiny", images: [red, 7], labels: ["cat"] });
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({
      message: "images[1]: expected string, received number",
      type: "invalid_request_error",
      param: "images[1]",
      code: "INVALID_ARGUMENT",
    });
  });

  it("answers unknown routes in the family's format", async () => {
    const { app } = createApp({ models, logger: quiet() });
    const openai = await post(app, "/v1/nothing", {});
    expect(openai.status).toBe(404);
    expect(openai.body.error).toMatchObject({ code: "NOT_FOUND", message: "no route for POST /v1/nothing" });
    const ollama = await post(app, "/api/nothing", {});
    expect(ollama.status).toBe(404);
    expect(ollama.body).toEqual({ error: "no route for POST /api/nothing" });
  });
});
