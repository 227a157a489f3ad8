// Ollama's model-information routes with the official `ollama` client (show, ps, list, embed), and
// `vlmkit serve --adapter` serving the adapter's encoder too, with `model` left out where one model
// of the kind is served.
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Ollama } from "ollama";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/server/app.js";
import { listen, type RunningServer } from "../../src/server/listen.js";
import { spawnCli } from "../helpers/spawn-cli.js";
import { type DemoServer, demoModels } from "./demo.js";
import { captureLogger, json } from "./helpers.js";

const ROOT = path.join(import.meta.dirname, "..", "..");
let server: DemoServer;
let running: RunningServer;

beforeAll(async () => {
  server = await demoModels({}, { encoder: true });
  const { app } = createApp({ models: server.models, apiKey: false, logger: captureLogger().logger });
  running = await listen(app, { port: 0 });
});
afterAll(async () => {
  await running?.close(1000);
  await server?.cleanup();
});

describe("ollama client: show, ps, list", () => {
  it("shows a VLM's and an encoder's details and capabilities", async () => {
    const ollama = new Ollama({ host: running.url });
    const chat = await ollama.show({ model: "chat" });
    expect(chat.capabilities).toEqual(["completion", "vision"]);
    expect(chat.details).toMatchObject({ format: "gguf", family: "gemma3", families: ["gemma3"] });
    const info = chat.model_info as unknown as Record<string, unknown>;
    expect(info["general.architecture"]).toBe("gemma3");
    expect(info["gemma3.context_length"]).toBeGreaterThan(0);
    expect(info["gemma3.embedding_length"]).toBeGreaterThan(0);
    expect(typeof chat.modelfile).toBe("string");

    const enc = await ollama.show({ model: "enc:latest" });
    expect(enc.capabilities).toEqual(["embedding"]);
    // Fixed-resolution SigLIP 2 checkpoints use the SigLIP architecture (model_type "siglip").
    expect(enc.details).toMatchObject({ format: "onnx", family: "siglip" });

    await expect(ollama.show({ model: "nope" })).rejects.toThrow(/model "nope" is not served here/);
    // Three models are served: which one must be said.
    await expect(ollama.show({} as { model: string })).rejects.toThrow(
      /model: required when several models are served/,
    );
  });

  it("lists every loaded model in ps, and the VLMs in list", async () => {
    const ollama = new Ollama({ host: running.url });
    const ps = await ollama.ps();
    expect(ps.models.map((m) => m.name)).toEqual(["chat", "pali", "enc"]);
    for (const m of ps.models) {
      expect(m.size).toBeGreaterThan(0);
      expect(new Date(m.expires_at).getTime()).toBeGreaterThan(Date.now());
      expect(m.size_vram).toBe(0);
      expect(m.digest).toMatch(/^[0-9a-f]{64}$/);
    }
    expect((await ollama.list()).models.map((m) => m.name)).toEqual(["chat", "pali"]);
  });

  it("embeds with the served encoder", async () => {
    const ollama = new Ollama({ host: running.url });
    const { embeddings } = await ollama.embed({ model: "enc", input: ["a cat", "a dog"] });
    expect(embeddings).toHaveLength(2);
    expect(Math.hypot(...embeddings[0])).toBeCloseTo(1, 4);
    // A VLM cannot embed: the error says which models can.
    await expect(ollama.embed({ model: "chat", input: "a cat" })).rejects.toThrow(
      /model "chat" is a vision-language model; this route needs an encoder \(served: "enc"\)/,
    );
  });
});

describe("vlmkit serve --adapter serves its encoder too", () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
  });

  it("answers chat, classify, embeddings and show without a model name", async () => {
    const demo = path.join(ROOT, "models", "demo");
    const run = spawnCli(
      [
        "serve",
        "--port",
        "0",
        "--encoder",
        path.join(demo, "siglip2"),
        "--adapter",
        path.join(ROOT, "adapters", "shapes"),
        "--llm",
        path.join(demo, "shapes", "gemma3.gguf"),
        "--ctx",
        "1024",
        "--parallel",
        "1",
        "--threads",
        "1",
      ],
      { VLMKIT_LOG_LEVEL: "info", VLMKIT_CACHE: path.join(server.demo.dir, "cache") },
    );
    child = run.child;
    await expect.poll(() => /"msg":"ready"/.test(run.stdout()), { timeout: 60_000, interval: 50 }).toBe(true);
    const url = `http://127.0.0.1:${/"port":(\d+)/.exec(run.stdout())![1]}`;
    const post = async (route: string, body: unknown) => {
      const res = await fetch(`${url}${route}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: await json(res) };
    };
    const blue = fs.readFileSync(path.join(ROOT, "examples", "images", "blue-square.png")).toString("base64");

    const models = await json(await fetch(`${url}/v1/models`));
    expect(models.data.map((m: { id: string; kind: string }) => [m.id, m.kind])).toEqual([
      ["siglip2", "encoder"],
      ["shapes", "vlm"],
    ]);
    const chat = await post("/v1/chat/completions", {
      max_tokens: 6,
      messages: [
        {
          role: "user",
          content: [
            { type: "image_url", image_url: { url: `data:image/png;base64,${blue}` } },
            { type: "text", text: "what color is the shape?" },
          ],
        },
      ],
    });
    expect(chat.status).toBe(200);
    expect(chat.body.model).toBe("shapes");
    expect(chat.body.choices[0].message.content.trim()).toBe("blue");

    const generated = await post("/api/generate", {
      prompt: "what color is the shape?",
      images: [blue],
      stream: false,
      options: { num_predict: 6 },
    });
    expect(generated.body).toMatchObject({ model: "shapes", done: true });
    expect(generated.body.response.trim()).toBe("blue");

    const classify = await post("/v1/classify", { images: [blue], labels: ["blue square", "red circle"] });
    expect(classify.status).toBe(200);
    expect(classify.body.model).toBe("siglip2");
    const embedded = await post("/v1/embeddings", { input: "a blue square" });
    expect(embedded.body.model).toBe("siglip2");

    const ollama = new Ollama({ host: url });
    expect((await ollama.show({ model: "shapes" })).capabilities).toEqual(["completion", "vision"]);
    expect((await ollama.ps()).models.map((m) => m.name)).toEqual(["shapes", "siglip2"]);

    run.child.kill("SIGTERM");
    expect((await run.exited).code).toBe(0);
  });
});
