// The page's routes without a browser: static files open without the API key (and nothing else),
// the gallery routes bounded, and the Host/Origin guard letting the server's own page through.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/server/app.js";
import { Gallery } from "../../src/server/gallery.js";
import { DEFAULT_LIMITS } from "../../src/server/limits.js";
import { ServedModels } from "../../src/server/models.js";
import { captureLogger, json, post, tempDir } from "./helpers.js";

const ROOT = path.join(import.meta.dirname, "..", "..");
const EXAMPLES = path.join(ROOT, "examples", "images");
const KEY = "k3y";
let models: ServedModels;
let gallery: Gallery;

beforeAll(async () => {
  process.env.VLMKIT_CACHE = path.join(tempDir("vlmkit-web-routes-"), "cache");
  models = new ServedModels();
  await models.loadEncoders(
    { siglip2: path.join(ROOT, "models", "demo", "siglip2") },
    { siglip: { threads: 1 } },
  );
  gallery = new Gallery(EXAMPLES);
  await gallery.embed(models.servedEncoders(), DEFAULT_LIMITS);
});
afterAll(async () => {
  await models?.dispose();
});

const app = (options: Parameters<typeof createApp>[0] = {}) =>
  createApp({ models, gallery, apiKey: KEY, logger: captureLogger().logger, ...options }).app;
const auth = { authorization: `Bearer ${KEY}` };

describe("static files", () => {
  it("serves the page and its files without the key, under a strict CSP", async () => {
    const res = await app().request("/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("content-security-policy")).toMatch(/script-src 'self'/);
    expect(await res.text()).toContain('<script type="module" src="/web/main.js">');
    for (const [file, type] of [
      ["main.js", "text/javascript"],
      ["style.css", "text/css"],
      ["markdown-it.min.js", "text/javascript"],
    ]) {
      const r = await app().request(`/web/${file}`);
      expect(r.status, file).toBe(200);
      expect(r.headers.get("content-type")).toMatch(type);
    }
    // Only the page's own files: no path leads out of the folder.
    expect((await app().request("/web/..%2F..%2Fpackage.json")).status).toBe(404);
    expect((await app().request("/web/nope.js")).status).toBe(404);
    // Everything else still needs the key.
    expect((await app().request("/v1/models")).status).toBe(401);
    expect((await app().request("/v1/gallery")).status).toBe(401);
  });
});

describe("gallery routes", () => {
  it("lists, ranks by a text query and serves the images", async () => {
    const list = await json(await app().request("/v1/gallery", { headers: auth }));
    expect(list.data).toEqual([
      { index: 0, name: "blue-square.png" },
      { index: 1, name: "green-triangle.png" },
      { index: 2, name: "red-circle.png" },
    ]);
    const res = await post(app(), "/v1/gallery/search", { query: "a blue square", top_k: 2 }, auth);
    expect(res.status).toBe(200);
    expect(res.body.model).toBe("siglip2");
    expect(res.body.data).toHaveLength(2);
    expect(res.body.data[0].score).toBeGreaterThanOrEqual(res.body.data[1].score);
    // The score is the cosine of the text and image vectors, as /v1/embeddings and /v1/images/embeddings give them.
    const [query] = await models.encoder("siglip2").model.embedTexts(["a blue square"]);
    const [image] = await models
      .encoder("siglip2")
      .model.embedImages([path.join(EXAMPLES, res.body.data[0].name)]);
    expect(res.body.data[0].score).toBeCloseTo(
      query.reduce((s, x, i) => s + x * image[i], 0),
      5,
    );
    const img = await app().request("/v1/gallery/images/2", { headers: auth });
    expect(img.headers.get("content-type")).toBe("image/png");
    expect(
      Buffer.from(await img.arrayBuffer())
        .subarray(1, 4)
        .toString(),
    ).toBe("PNG");
  });

  it("refuses unbounded searches and unknown images", async () => {
    let res = await post(app(), "/v1/gallery/search", { query: "a", top_k: 101 }, auth);
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe("top_k");
    res = await post(app(), "/v1/gallery/search", { query: "x".repeat(1025) }, auth);
    expect(res.body.error.message).toMatch(/^query: the text is 1025 characters long/);
    const missing = await app().request("/v1/gallery/images/3", { headers: auth });
    expect(missing.status).toBe(404);
    const none = createApp({ models, apiKey: false, logger: captureLogger().logger }).app;
    res = await post(none, "/v1/gallery/search", { query: "a" });
    expect(res.status).toBe(404);
    expect(res.body.error.message).toBe("this server has no gallery; start it with --gallery <dir>");
    expect(() => new Gallery(path.join(EXAMPLES, "nope"))).toThrow(/nope: no such directory/);
  });
});

describe("the page's own requests pass the Host/Origin guard", () => {
  const embed = (a: ReturnType<typeof app>, host: string, origin: string, headers = {}) =>
    a.request("/v1/embeddings", {
      method: "POST",
      body: JSON.stringify({ input: "a" }),
      headers: { host, origin, "content-type": "application/json", ...headers },
    });

  it("accepts the page's origin when its Host is checked or a key is required", async () => {
    const lan = app({ apiKey: false, host: "192.168.1.5" });
    expect((await embed(lan, "192.168.1.5:8080", "http://192.168.1.5:8080")).status).toBe(200);
    expect((await embed(lan, "192.168.1.5:8080", "http://evil.example:8080")).status).toBe(403);
    const keyed = app({ host: "0.0.0.0" });
    expect((await embed(keyed, "box.lan:8080", "http://box.lan:8080", auth)).status).toBe(200);
    expect((await embed(keyed, "box.lan:8080", "http://other.lan:8080", auth)).status).toBe(403);
  });

  it("keeps refusing a rebinding page on a wildcard bind without a key", async () => {
    const open = app({ apiKey: false, host: "0.0.0.0" });
    const res = await embed(open, "evil.example:8080", "http://evil.example:8080");
    expect(res.status).toBe(403);
    expect((await json(res)).error.param).toBe("Origin");
  });
});
