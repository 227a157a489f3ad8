import { afterAll, describe, expect, it } from "vitest";
import { VlmkitError } from "../../src/errors.js";
import { createApp } from "../../src/server/app.js";
import { listen, type RunningServer } from "../../src/server/listen.js";
import { ServedModels } from "../../src/server/models.js";
import { ndjsonResponse, type StreamWriter, sseResponse } from "../../src/server/streaming.js";
import { captureLogger } from "./helpers.js";

const servers: RunningServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.close(1000);
});

/** An app with test routes that stream through the real writers. */
function streamingApp(timeoutMs = 10_000) {
  const models = new ServedModels();
  models.markReady();
  const { app } = createApp({
    models,
    logger: captureLogger().logger,
    limits: { requestTimeoutMs: timeoutMs },
  });
  const seen: { stopped?: unknown; sendAfterStop?: boolean } = {};
  const produce =
    (mode: "ok" | "fail" | "slow" | "endless") =>
    async (w: StreamWriter): Promise<void> => {
      await w.send({ n: 1 });
      await w.send({ n: 2 });
      if (mode === "fail") throw new VlmkitError("CONTEXT_OVERFLOW", "prompt of 900 tokens does not fit 512");
      if (mode === "slow")
        await new Promise((_, reject) => w.signal.addEventListener("abort", () => reject(w.signal.reason)));
      if (mode === "endless") {
        for (let i = 3; ; i++) {
          if (!(await w.send({ n: i }))) break;
          await new Promise((r) => setTimeout(r, 5));
        }
        seen.stopped = w.signal.reason;
        seen.sendAfterStop = await w.send({ n: -1 });
      }
    };
  for (const mode of ["ok", "fail", "slow", "endless"] as const) {
    app.get(`/v1/test/${mode}`, (c) => sseResponse(c, produce(mode)));
    app.get(`/api/test/${mode}`, (c) => ndjsonResponse(c, produce(mode)));
  }
  return { app, seen };
}

describe("SSE writer", () => {
  it("writes data: events and ends with [DONE]", async () => {
    const res = await streamingApp().app.request("/v1/test/ok");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(await res.text()).toBe('data: {"n":1}\n\ndata: {"n":2}\n\ndata: [DONE]\n\n');
  });

  it("sends an error mid-stream as a data: event holding `error`, without [DONE]", async () => {
    const text = await (await streamingApp().app.request("/v1/test/fail")).text();
    expect(text).toBe(
      'data: {"n":1}\n\ndata: {"n":2}\n\n' +
        'data: {"error":{"message":"prompt of 900 tokens does not fit 512","type":"invalid_request_error","param":null,"code":"CONTEXT_OVERFLOW"}}\n\n',
    );
  });

  it("reports the request deadline in-band", async () => {
    const text = await (await streamingApp(100).app.request("/v1/test/slow")).text();
    const events = text.trim().split("\n\n");
    expect(events).toHaveLength(3);
    expect(JSON.parse(events[2].slice("data: ".length)).error).toMatchObject({
      code: "TIMEOUT",
      type: "timeout_error",
    });
  });
});

describe("NDJSON writer", () => {
  it("writes one JSON object per line, and an error as a last {error} line", async () => {
    const { app } = streamingApp();
    const ok = await app.request("/api/test/ok");
    expect(ok.headers.get("content-type")).toBe("application/x-ndjson");
    expect(await ok.text()).toBe('{"n":1}\n{"n":2}\n');
    expect(await (await app.request("/api/test/fail")).text()).toBe(
      '{"n":1}\n{"n":2}\n{"error":"prompt of 900 tokens does not fit 512"}\n',
    );
  });
});

describe("client disconnect", () => {
  it.each(["/v1/test/endless", "/api/test/endless"])("stops the producer of %s", async (route) => {
    const { app, seen } = streamingApp();
    const server = await listen(app, { port: 0 });
    servers.push(server);
    const abort = new AbortController();
    const res = await fetch(`${server.url}${route}`, { signal: abort.signal });
    const reader = res.body!.getReader();
    let received = "";
    while (!received.includes('"n":5')) received += new TextDecoder().decode((await reader.read()).value);
    abort.abort();
    await expect.poll(() => seen.stopped, { timeout: 3000 }).toBeDefined();
    expect((seen.stopped as VlmkitError).code).toBe("ABORTED");
    expect(seen.sendAfterStop).toBe(false);
  });
});
