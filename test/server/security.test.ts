import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createApp, readApiKeyFile } from "../../src/server/app.js";
import { DEFAULT_LIMITS, resolveLimits } from "../../src/server/limits.js";
import { ServedModels } from "../../src/server/models.js";
import { WorkQueue } from "../../src/server/queue.js";
import { spawnCli } from "../helpers/spawn-cli.js";
import { captureLogger, json, pngBase64, post, tempDir, tinyEncoder } from "./helpers.js";

const root = tempDir("vlmkit-server-sec-");
let models: ServedModels;
let red: string;
const quiet = () => captureLogger().logger;

beforeAll(async () => {
  models = new ServedModels();
  await models.loadEncoders({ tiny: await tinyEncoder(root) });
  red = await pngBase64();
});
afterAll(async () => {
  await models.dispose();
  fs.rmSync(root, { recursive: true, force: true });
});
afterEach(() => {
  delete process.env.VLMKIT_API_KEY;
});

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe("API key", () => {
  it("requires the bearer token everywhere but /health, in each family's error format", async () => {
    const { app } = createApp({ models, logger: quiet(), apiKey: "s3cret-key" });
    const body = { model: "tiny", images: [red], labels: ["cat"] };
    const missing = await post(app, "/v1/classify", body);
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(missing.body.error).toMatchObject({ type: "authentication_error", code: "UNAUTHORIZED" });
    expect(missing.body.error.message).toBe("missing or invalid API key: send `Authorization: Bearer <key>`");
    const wrong = await post(app, "/v1/classify", body, { authorization: "Bearer wrong-key" });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe("UNAUTHORIZED");
    const ollama = await post(app, "/api/chat", {}, { authorization: "Bearer wrong-key" });
    expect(ollama.status).toBe(401);
    expect(ollama.body).toEqual({ error: "missing or invalid API key: send `Authorization: Bearer <key>`" });
    const malformed = await post(app, "/v1/classify", body, { authorization: "Basic dXNlcjpwYXNz" });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.message).toBe("malformed Authorization header: expected `Bearer <key>`");
    expect((await app.request("/metrics")).status).toBe(401);
    expect((await app.request("/health")).status).toBe(200);
    const ok = await post(app, "/v1/classify", body, { authorization: "Bearer s3cret-key" });
    expect(ok.status).toBe(200);
  });

  it("takes the key from VLMKIT_API_KEY unless told otherwise", async () => {
    process.env.VLMKIT_API_KEY = "from-env";
    const fromEnv = createApp({ models, logger: quiet() }).app;
    expect((await fromEnv.request("/v1/models")).status).toBe(401);
    expect(
      (await fromEnv.request("/v1/models", { headers: { authorization: "Bearer from-env" } })).status,
    ).toBe(200);
    const off = createApp({ models, logger: quiet(), apiKey: false }).app;
    expect((await off.request("/v1/models")).status).toBe(200);
  });
});

describe("API key from a file (a flag's value is visible in ps)", () => {
  it("reads the key without its trailing newline; an empty or missing file is a named error", () => {
    const file = path.join(root, "key.txt");
    fs.writeFileSync(file, "from-file-key\n");
    expect(readApiKeyFile(file)).toBe("from-file-key");
    fs.writeFileSync(file, "\n");
    expect(() => readApiKeyFile(file)).toThrow(`--api-key-file ${file} is empty`);
    expect(() => readApiKeyFile(path.join(root, "none.txt"))).toThrow(
      /^cannot read --api-key-file .*none\.txt/,
    );
  });

  it("vlmkit serve takes --api-key-file and refuses it together with --api-key", async () => {
    const file = path.join(root, "serve-key.txt");
    fs.writeFileSync(file, "k3y\n");
    const both = await spawnCli(["serve", "--api-key", "k3y", "--api-key-file", file, "--encoder", "x"])
      .exited;
    expect(both.code).not.toBe(0);
    expect(both.stderr).toContain("give the API key once: --api-key-file or --api-key");
    const missing = await spawnCli(["serve", "--api-key-file", `${file}.missing`, "--encoder", "x"]).exited;
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("cannot read --api-key-file");
  });
});

describe("API key checks at startup", () => {
  it("refuses an empty key instead of turning auth off, even with VLMKIT_API_KEY set", () => {
    process.env.VLMKIT_API_KEY = "from-env";
    expect(() => createApp({ models, logger: quiet(), apiKey: "" })).toThrow(
      "the API key is empty; give a non-empty key, or leave it unset to serve without authentication",
    );
    process.env.VLMKIT_API_KEY = "";
    expect(createApp({ models, logger: quiet() }).context).toBeDefined(); // an empty variable is unset
  });

  it("refuses keys a Bearer header cannot carry, naming the characters", async () => {
    expect(() => createApp({ models, logger: quiet(), apiKey: "k!ey:1" })).toThrow(
      'the API key holds characters a Bearer token cannot carry ("!:"); use letters, digits and . _ ~ + / - (then = padding only at the end)',
    );
    process.env.VLMKIT_API_KEY = "a b";
    expect(() => createApp({ models, logger: quiet() })).toThrow(
      /^\$VLMKIT_API_KEY holds characters .*\(" "\)/,
    );
    expect(() => createApp({ models, logger: quiet(), apiKey: "ab=c" })).toThrow('("=")');
    const { app } = createApp({ models, logger: quiet(), apiKey: "a.b_c~d+e/f-g==" });
    expect(
      (await app.request("/v1/models", { headers: { authorization: "Bearer a.b_c~d+e/f-g==" } })).status,
    ).toBe(200);
  });
});

describe("work queue and deadlines", () => {
  it("answers 429 when the encoder queue is full and serves the waiting request when a slot frees", async () => {
    const queue = new WorkQueue({ name: "encoder", concurrency: 1, maxQueued: 1 });
    const { app } = createApp({ models, logger: quiet(), encoderQueue: queue });
    const gate = deferred();
    const blocker = queue.run(() => gate.promise); // holds the only slot
    const body = { model: "tiny", images: [red], labels: ["cat"] };
    const waiting = post(app, "/v1/classify", body);
    await expect.poll(() => queue.waiting).toBe(1);
    const metrics = await (await app.request("/metrics")).text();
    expect(metrics).toContain('vlmkit_queue_depth{queue="encoder"} 1');
    expect(metrics).toContain('vlmkit_queue_running{queue="encoder"} 1');
    const refused = await post(app, "/v1/classify", body);
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ type: "rate_limit_error", code: "BUSY" });
    expect(refused.body.error.message).toBe("the encoder queue is full (1 running, 1 waiting); retry later");
    gate.resolve();
    await blocker;
    expect((await waiting).status).toBe(200);
    expect(queue.running).toBe(0);
  });

  it("answers 408 when a request outlives its deadline, and frees its queue place", async () => {
    const queue = new WorkQueue({ name: "encoder", concurrency: 1, maxQueued: 4 });
    const { app } = createApp({
      models,
      logger: quiet(),
      encoderQueue: queue,
      limits: { requestTimeoutMs: 150 },
    });
    const gate = deferred();
    const blocker = queue.run(() => gate.promise);
    const started = Date.now();
    const res = await post(app, "/v1/classify", { model: "tiny", images: [red], labels: ["cat"] });
    expect(res.status).toBe(408);
    expect(res.body.error.code).toBe("TIMEOUT");
    expect(res.body.error.message).toBe("request took longer than 150 ms (the server's request timeout)");
    expect(Date.now() - started).toBeLessThan(2000);
    expect(queue.waiting).toBe(0);
    gate.resolve();
    await blocker;
  });
});

describe("body deadline", () => {
  it("answers 408 when the body does not arrive before the request deadline", async () => {
    const { app } = createApp({ models, logger: quiet(), limits: { requestTimeoutMs: 150 } });
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"model": "tiny", '));
      }, // and never more: a trickling client
    });
    const started = Date.now();
    const res = await app.request("/v1/classify", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(408);
    expect((await json(res)).error.message).toBe(
      "request took longer than 150 ms (the server's request timeout)",
    );
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe("WorkQueue", () => {
  it("runs at most `concurrency` jobs, in order, and removes an aborted waiter", async () => {
    const queue = new WorkQueue({ concurrency: 2, maxQueued: 2 });
    const gates = [deferred(), deferred(), deferred()];
    const order: number[] = [];
    const job = (i: number) => () => gates[i].promise.then(() => order.push(i));
    const p0 = queue.run(job(0));
    const p1 = queue.run(job(1));
    const abort = new AbortController();
    const p2 = queue.run(job(2), abort.signal);
    const p3 = queue.run(async () => order.push(3));
    expect([queue.running, queue.waiting]).toEqual([2, 2]);
    await expect(queue.run(async () => 0)).rejects.toMatchObject({ code: "BUSY" });
    abort.abort();
    await expect(p2).rejects.toMatchObject({ code: "ABORTED" });
    expect(queue.waiting).toBe(1);
    gates[1].resolve();
    await p1;
    await p3; // took the freed slot
    gates[0].resolve();
    await p0;
    expect(order).toEqual([1, 3, 0]);
    expect([queue.running, queue.waiting]).toEqual([0, 0]);
  });
});

describe("limits", () => {
  it("fills defaults and refuses nonsense", () => {
    expect(resolveLimits()).toEqual(DEFAULT_LIMITS);
    expect(resolveLimits({ maxImagesPerRequest: 2, maxQueuedJobs: 0 })).toMatchObject({
      maxImagesPerRequest: 2,
      maxQueuedJobs: 0,
      maxBodyBytes: 32 * 1024 * 1024,
    });
    expect(() => resolveLimits({ maxBodyBytes: -1 })).toThrow(
      "server limit maxBodyBytes must be an integer ≥ 1, got -1",
    );
    expect(() => resolveLimits({ requestTimeoutMs: 1.5 })).toThrow("requestTimeoutMs");
  });
});
