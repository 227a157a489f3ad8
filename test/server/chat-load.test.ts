// Chat under load on a real listening server: concurrent streams batched together give the same texts
// as one at a time, and a client that disconnects frees its sequence (429s: admission.test.ts).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/server/app.js";
import { listen, type RunningServer } from "../../src/server/listen.js";
import { type DemoServer, demoModels, sseEvents } from "./demo.js";
import { captureLogger, pngBase64 } from "./helpers.js";

let server: DemoServer;
let running: RunningServer;
const images: string[] = [];

beforeAll(async () => {
  server = await demoModels({ sequences: 8 });
  for (let i = 0; i < 8; i++)
    images.push(await pngBase64(24 + 4 * i, 40 - 2 * i, { r: 30 * i, g: 200 - 20 * i, b: 90 }));
  const { app } = createApp({ models: server.models, logger: captureLogger().logger });
  running = await listen(app, { port: 0 });
});
afterAll(async () => {
  await running?.close(1000);
  await server?.cleanup();
});

function chatBody(i: number, extra: Record<string, unknown> = {}) {
  return {
    model: i % 2 === 0 ? "chat" : "pali",
    messages: [
      {
        role: "user",
        content: [
          { type: "image_url", image_url: { url: `data:image/png;base64,${images[i]}` } },
          { type: "text", text: `question ${i}: what is this?` },
        ],
      },
    ],
    temperature: 0,
    max_tokens: 24,
    stream: true,
    ...extra,
  };
}

async function streamText(i: number): Promise<string> {
  const res = await fetch(`${running.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(chatBody(i)),
  });
  expect(res.status).toBe(200);
  const events = sseEvents(await res.text());
  expect(events.at(-1)).toBe("[DONE]");
  return (events.slice(1, -2) as { choices: { delta: { content: string } }[] }[])
    .map((e) => e.choices[0].delta.content)
    .join("");
}

/** Generations of "chat" that ran to their end (stop or length), from /metrics. */
async function finishedChats(): Promise<number> {
  const text = await (await fetch(`${running.url}/metrics`)).text();
  const counts = [
    ...text.matchAll(/vlmkit_generation_duration_seconds_count\{model="chat",finish="\w+"\} (\d+)/g),
  ];
  return counts.reduce((n, m) => n + Number(m[1]), 0);
}

describe("concurrent streams", () => {
  it("8 greedy streams at once equal the same requests one at a time, and were decoded together", async () => {
    const sequential: string[] = [];
    for (let i = 0; i < 8; i++) sequential.push(await streamText(i));
    expect(new Set(sequential).size).toBeGreaterThan(1); // the requests really differ

    const engine = server.models.vlm("chat").vlm.llm.engine;
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, engine.load.active);
    }, 1);
    try {
      const concurrent = await Promise.all(sequential.map((_, i) => streamText(i)));
      expect(concurrent).toEqual(sequential);
    } finally {
      clearInterval(sampler);
    }
    expect(peak).toBeGreaterThanOrEqual(2);
    expect(engine.load).toEqual({ active: 0, queued: 0 });
  });
});

describe("disconnects and a full queue", () => {
  it("a client that disconnects mid-stream frees its sequence; the next request is served", async () => {
    const engine = server.models.vlm("chat").vlm.llm.engine;
    const finishedBefore = await finishedChats();
    const controller = new AbortController();
    const res = await fetch(`${running.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(chatBody(0, { max_tokens: 1500 })),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain('"role":"assistant"');
    expect(engine.load.active).toBe(1);
    controller.abort();
    await expect.poll(() => engine.load.active, { timeout: 5000, interval: 5 }).toBe(0);
    // It was stopped, not run to its end: no finished generation was counted.
    expect(await finishedChats()).toBe(finishedBefore);
    await streamText(1);
    expect(engine.load).toEqual({ active: 0, queued: 0 });
  });
});
