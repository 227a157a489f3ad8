// How a server stops: each wait is woken by its event (a response ending, the engines' last request
// ending) and bounded by one deadline timer. Timers are faked, so anything that polled would never wake.
import { Hono } from "hono";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { AppEnv } from "../../src/server/context.js";
import { type Drainable, ServerLifecycle } from "../../src/server/lifecycle.js";
import { listen, type RunningServer } from "../../src/server/listen.js";
import { type DemoServer, demoModels } from "./demo.js";
import { captureLogger } from "./helpers.js";

/** A server with a route that answers only when the test says, and one that never answers. */
async function holdingServer() {
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let arrived!: () => void;
  const arrival = new Promise<void>((resolve) => {
    arrived = resolve;
  });
  const app = new Hono<AppEnv>();
  app.get("/held", async (c) => {
    arrived();
    await released;
    return c.text("done");
  });
  app.get("/never", () => {
    arrived();
    return new Promise<Response>(() => {});
  });
  const server = await listen(app, { port: 0 });
  return { server, release, arrival };
}

const settled = <T>(p: Promise<T>) => {
  const state = { done: false, value: undefined as T | undefined };
  p.then((v) => {
    state.done = true;
    state.value = v;
  });
  return state;
};

/** Lets I/O callbacks run (real setImmediate; only timers are faked). */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Waits in real time until `condition` holds (vi.waitUntil would advance the fake timers, waking a
 * poller too); throws after `ms`.
 */
async function until(condition: () => boolean, ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > end) throw new Error(`not within ${ms} ms`);
    await turn();
  }
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("listen().close", () => {
  it("closes a kept-alive connection as soon as its response ends", async () => {
    const { server, release, arrival } = await holdingServer();
    const response = fetch(`${server.url}/held`); // undici keeps the connection alive
    await arrival;
    const closed = settled(server.close(30_000));
    await turn();
    expect(closed.done).toBe(false);
    // Fake timers never fire here: only the response's end can wake `close`.
    release();
    expect(await (await response).text()).toBe("done");
    // (Node itself would keep the connection open for its 5 s keep-alive timeout.)
    await until(() => closed.done, 2000);
    expect(closed.value).toBe(true);
  });
});

describe("ServerLifecycle", () => {
  let demo: DemoServer;
  let server: RunningServer;
  beforeAll(async () => {
    vi.useRealTimers();
    demo = await demoModels({ sequences: 2 });
    server = await listen(new Hono<AppEnv>(), { port: 0 });
  }, 120_000);
  afterAll(async () => {
    await demo?.cleanup();
  });

  it("frees the models once the engines' last generation ends, woken by that event", async () => {
    const { models } = demo;
    const { llm } = models.vlm("pali").vlm;
    const controller = new AbortController();
    const generation = llm.engine.submit([{ kind: "tokens", tokens: llm.model.tokenize("red green blue") }], {
      maxTokens: 512,
      signal: controller.signal,
    });
    generation.result.catch(() => {});
    const { logger, lines } = captureLogger();
    const lifecycle = new ServerLifecycle(server, models, {
      logger,
      drainTimeoutMs: 1000,
      engineStopMs: 60_000,
    });
    const idle = vi.spyOn(models, "idle");
    const stopped = settled(lifecycle.stop("SIGTERM"));
    expect(lifecycle.stop("SIGINT")).toBe(lifecycle.stopping); // once, whoever asks first
    // The HTTP side drained; the lifecycle now waits for the engines, with its deadline as only timer.
    await until(() => idle.mock.calls.length === 1, 5000);
    expect(vi.getTimerCount()).toBe(1);
    expect(models.state).toBe("draining");
    expect(stopped.done).toBe(false);
    // A cut connection aborts its generation; the engine's release wakes the lifecycle.
    controller.abort();
    await until(() => stopped.done, 10_000);
    expect(stopped.value).toBe(true);
    expect(models.list()).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
    expect(lines.map((l) => l.msg)).toEqual(["shutting down: draining requests", "stopped"]);
    await expect(generation.result).rejects.toMatchObject({ code: "ABORTED" });
  });

  it("cuts connections at the drain deadline and frees models whose engines do not settle", async () => {
    const { server: held, arrival } = await holdingServer();
    const response = fetch(`${held.url}/never`).catch((e: Error) => e);
    await arrival;
    let disposed = false;
    const models: Drainable = {
      markDraining() {},
      idle: () => new Promise<void>(() => {}), // a generation that never stops
      async dispose() {
        disposed = true;
      },
    };
    const { logger, lines } = captureLogger();
    const lifecycle = new ServerLifecycle(held, models, { logger, drainTimeoutMs: 2000, engineStopMs: 3000 });
    const stopped = settled(lifecycle.stop("SIGTERM"));
    await vi.advanceTimersByTimeAsync(1999);
    expect(stopped.done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await response).toBeInstanceOf(Error); // the connection was cut
    await vi.advanceTimersByTimeAsync(2999);
    expect(disposed).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await until(() => stopped.done, 5000);
    expect(stopped.value).toBe(false);
    expect(disposed).toBe(true);
    expect(lines.map((l) => l.msg)).toEqual([
      "shutting down: draining requests",
      "generations still decoding; freeing the models",
      "stopped: connections cut at the drain deadline",
    ]);
  });
});
