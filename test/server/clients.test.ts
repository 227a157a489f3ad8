// The contract, checked with the official clients against a real listening server: the `openai` npm
// client (chat.completions, streaming and not, an image as a data: URL) and the `ollama` npm client
// (chat with base64 images, generate, list), streaming and not. Then `vlmkit serve` with a VLM.
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/server/app.js";
import { listen, type RunningServer } from "../../src/server/listen.js";
import { spawnCli } from "../helpers/spawn-cli.js";
import { type DemoServer, demoModels, sseEvents } from "./demo.js";
import { captureLogger, json, pngBase64 } from "./helpers.js";

let server: DemoServer;
let running: RunningServer;
let red: string;

beforeAll(async () => {
  server = await demoModels();
  red = await pngBase64(40, 30, { r: 220, g: 20, b: 20 });
  const { app } = createApp({ models: server.models, logger: captureLogger().logger });
  running = await listen(app, { port: 0 });
});
afterAll(async () => {
  await running?.close(1000);
  await server?.cleanup();
});

describe("openai client", () => {
  const messages = (): OpenAI.Chat.ChatCompletionMessageParam[] => [
    {
      role: "user",
      content: [
        { type: "text", text: "what is this?" },
        { type: "image_url", image_url: { url: `data:image/png;base64,${red}` } },
      ],
    },
  ];

  it("creates a chat completion and streams the same text with usage", async () => {
    const client = new OpenAI({ baseURL: `${running.url}/v1`, apiKey: "x" });
    const completion = await client.chat.completions.create({
      model: "chat",
      messages: messages(),
      max_tokens: 12,
      temperature: 0,
    });
    expect(completion.object).toBe("chat.completion");
    expect(completion.choices[0].message.role).toBe("assistant");
    expect(["stop", "length"]).toContain(completion.choices[0].finish_reason);
    expect(completion.usage!.completion_tokens).toBeGreaterThan(0);

    const stream = await client.chat.completions.create({
      model: "chat",
      messages: messages(),
      max_tokens: 12,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(completion.choices[0].message.content);
    expect(finish).toBe(completion.choices[0].finish_reason);
    expect(usage).toEqual(completion.usage);

    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(["chat", "pali"]);
  });

  it("turns a 400 into the client's BadRequestError with the field", async () => {
    const client = new OpenAI({ baseURL: `${running.url}/v1`, apiKey: "x", maxRetries: 0 });
    const error = await client.chat.completions
      .create({ model: "chat", messages: messages(), max_tokens: 100_000 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("max_tokens");
  });
});

describe("ollama client", () => {
  it("chats with a base64 image, streaming and not", async () => {
    const ollama = new Ollama({ host: running.url });
    const request = {
      model: "chat",
      messages: [{ role: "user", content: "what is this?", images: [red] }],
      options: { temperature: 0, num_predict: 12 },
    };
    const one = await ollama.chat({ ...request, stream: false });
    expect(one.done).toBe(true);
    expect(one.message.role).toBe("assistant");
    expect(one.eval_count).toBeGreaterThan(0);
    expect(["stop", "length"]).toContain(one.done_reason);

    let text = "";
    let last: Awaited<ReturnType<typeof ollama.chat>> | undefined;
    for await (const part of await ollama.chat({ ...request, stream: true })) {
      text += part.message.content;
      last = part;
    }
    expect(text).toBe(one.message.content);
    expect(last).toMatchObject({ done: true, done_reason: one.done_reason, eval_count: one.eval_count });
  });

  it("generates, streaming and not, and lists the models", async () => {
    const ollama = new Ollama({ host: running.url });
    const request = {
      model: "pali",
      prompt: "caption en",
      images: [red],
      options: { temperature: 0, num_predict: 8 },
    };
    const one = await ollama.generate({ ...request, stream: false });
    expect(one.done).toBe(true);
    let text = "";
    for await (const part of await ollama.generate({ ...request, stream: true })) text += part.response;
    expect(text).toBe(one.response);
    const list = await ollama.list();
    expect(list.models.map((m) => m.name)).toEqual(["chat", "pali"]);
    expect((await ollama.version()).version).toMatch(/^\d+\.\d+\.\d+/);
    await expect(ollama.chat({ model: "nope", messages: [{ role: "user", content: "hi" }] })).rejects.toThrow(
      /model "nope" is not served here/,
    );
  });
});

describe("vlmkit serve with a VLM", () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
  });

  it("serves --adapter/--encoder/--llm and lets an in-flight stream finish on SIGTERM", async () => {
    const { parts } = server.demo;
    // --ctx 4096 across 2 sequences (one shared KV budget); --threads 1 keeps the small test box responsive.
    const args = [
      "serve",
      "--port",
      "0",
      "--encoder",
      parts["siglip2-naflex"],
      "--adapter",
      parts["adapter-chat"],
    ];
    args.push("--llm", parts.llm, "--name", "demo", "--parallel", "2", "--ctx", "4096", "--threads", "1");
    const run = spawnCli(args, { VLMKIT_LOG_LEVEL: "info" });
    child = run.child;
    await expect.poll(() => /"msg":"ready"/.test(run.stdout()), { timeout: 60_000, interval: 50 }).toBe(true);
    const url = `http://127.0.0.1:${/"port":(\d+)/.exec(run.stdout())![1]}`;
    // The VLM's encoder is served too, for classify and embeddings.
    expect((await json(await fetch(`${url}/v1/models`))).data.map((m: { id: string }) => m.id)).toEqual([
      "siglip2-naflex",
      "demo",
    ]);

    const res = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "demo",
        messages: [
          {
            role: "user",
            content: [{ type: "image_url", image_url: { url: `data:image/png;base64,${red}` } }],
          },
        ],
        max_tokens: 200,
        temperature: 0,
        stream: true,
      }),
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let body = new TextDecoder().decode((await reader.read()).value);
    child.kill("SIGTERM");
    for (let r = await reader.read(); !r.done; r = await reader.read())
      body += new TextDecoder().decode(r.value);
    const events = sseEvents(body);
    expect(events.at(-1)).toBe("[DONE]"); // the stream ran to its end
    const end = await run.exited;
    expect(end.code).toBe(0);
    expect(end.stdout).toContain("shutting down: draining requests");
    expect(end.stdout).toMatch(/"msg":"stopped"/);
    expect(end.stderr).toBe("");
  });

  it("serves the config file's vlms next to its encoders", async () => {
    const { dir } = server.demo;
    const config = path.join(dir, "serve.json");
    fs.writeFileSync(
      config,
      JSON.stringify({
        encoders: { enc: "./siglip2-naflex" },
        vlms: { demo: { encoder: "enc", adapter: "./adapter-chat", llm: "./gemma3.gguf" } },
      }),
    );
    const run = spawnCli(["serve", "--port", "0", "--config", config, "--threads", "1"], {
      VLMKIT_LOG_LEVEL: "info",
    });
    child = run.child;
    await expect.poll(() => /"msg":"ready"/.test(run.stdout()), { timeout: 60_000, interval: 50 }).toBe(true);
    const url = `http://127.0.0.1:${/"port":(\d+)/.exec(run.stdout())![1]}`;
    const list = await json(await fetch(`${url}/v1/models`));
    expect(list.data.map((m: { id: string; kind: string }) => [m.id, m.kind])).toEqual([
      ["enc", "encoder"],
      ["demo", "vlm"],
    ]);
    const res = await fetch(`${url}/api/chat`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "demo",
        messages: [{ role: "user", content: "hi", images: [red] }],
        stream: false,
        options: { num_predict: 4 },
      }),
    });
    expect(res.status).toBe(200);
    expect((await json(res)).done).toBe(true);
    run.child.kill("SIGTERM");
    expect((await run.exited).code).toBe(0);
  });
});
