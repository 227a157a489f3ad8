// A client that stops reading a stream must not keep its socket, stream and buffered text: the server
// drops it when a write waits too long or the request deadline passes, caps connections, closes idle
// sockets, and keeps serving everyone else. Real listening servers and raw sockets that never read.
import net from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/server/app.js";
import { resolveLimits, type ServerLimits } from "../../src/server/limits.js";
import { listen, type RunningServer } from "../../src/server/listen.js";
import { ServedModels } from "../../src/server/models.js";
import { sseResponse } from "../../src/server/streaming.js";
import { captureLogger } from "./helpers.js";

const servers: RunningServer[] = [];
const clients: net.Socket[] = [];
afterAll(async () => {
  for (const c of clients) c.destroy();
  for (const s of servers) await s.close(1000);
});

const EVENT = "x".repeat(64 * 1024); // large events fill the socket buffers in a few writes

/** A server whose /v1/test/flood streams 64 KiB events until the writer says the client is gone. */
async function floodServer(limits: Partial<ServerLimits>) {
  const models = new ServedModels();
  models.markReady();
  const { app } = createApp({ models, logger: captureLogger().logger, apiKey: false, limits });
  const seen = { events: 0, ended: false };
  app.get("/v1/test/flood", (c) =>
    sseResponse(c, async (w) => {
      while (await w.send({ text: EVENT })) seen.events++;
      seen.ended = true;
    }),
  );
  const server = await listen(app, { port: 0, limits: resolveLimits(limits) });
  servers.push(server);
  const sockets: net.Socket[] = [];
  server.server.on("connection", (s) => sockets.push(s));
  return { server, seen, sockets };
}

/** Connects, sends `request` and never reads a byte of the answer. */
function stalledClient(port: number, request: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port }, () => {
      socket.pause();
      socket.write(request);
      resolve(socket);
    });
    socket.on("error", () => {}); // the server's reset is expected
    socket.once("error", reject);
    clients.push(socket);
  });
}

const streamRequest = "GET /v1/test/flood HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

async function healthy(server: RunningServer): Promise<number> {
  return (await fetch(`${server.url}/health`)).status;
}

describe("stalled stream readers", () => {
  it("drops a client that stops reading once a write has waited streamWriteTimeoutMs", async () => {
    const { server, seen, sockets } = await floodServer({
      streamWriteTimeoutMs: 500,
      requestTimeoutMs: 60_000,
    });
    await stalledClient(server.port, streamRequest);
    await expect.poll(() => seen.events, { timeout: 10_000, interval: 20 }).toBeGreaterThan(0);
    await expect.poll(() => seen.ended, { timeout: 10_000, interval: 50 }).toBe(true);
    await expect.poll(() => sockets.every((s) => s.destroyed), { timeout: 5_000, interval: 50 }).toBe(true);
    expect(await healthy(server)).toBe(200);
  });

  it("drops it when the request deadline passes, even with a long write timeout", async () => {
    const { server, seen, sockets } = await floodServer({
      streamWriteTimeoutMs: 600_000,
      requestTimeoutMs: 1_000,
    });
    await stalledClient(server.port, streamRequest);
    await expect.poll(() => seen.events, { timeout: 10_000, interval: 20 }).toBeGreaterThan(0);
    await expect.poll(() => seen.ended, { timeout: 10_000, interval: 50 }).toBe(true);
    await expect.poll(() => sockets.every((s) => s.destroyed), { timeout: 10_000, interval: 50 }).toBe(true);
    expect(await healthy(server)).toBe(200);
  });
});

describe("connections", () => {
  it("closes a socket that stays idle for socketIdleTimeoutMs", async () => {
    const { server, sockets } = await floodServer({ socketIdleTimeoutMs: 300 });
    const idle = await stalledClient(server.port, "");
    await expect.poll(() => sockets.length, { timeout: 5_000, interval: 20 }).toBe(1);
    await expect.poll(() => sockets[0].destroyed, { timeout: 5_000, interval: 50 }).toBe(true);
    expect(idle.destroyed || idle.readableEnded || sockets[0].destroyed).toBe(true);
  });

  it("accepts at most maxConnections at once and serves again when they close", async () => {
    const { server, sockets } = await floodServer({ maxConnections: 2 });
    const held = [await stalledClient(server.port, ""), await stalledClient(server.port, "")];
    await expect.poll(() => sockets.length, { timeout: 5_000, interval: 20 }).toBe(2);
    const refused = await fetch(`${server.url}/health`).then(
      () => "answered",
      () => "refused",
    );
    expect(refused).toBe("refused");
    for (const s of held) s.destroy();
    await expect.poll(() => sockets.every((s) => s.destroyed), { timeout: 5_000, interval: 20 }).toBe(true);
    await expect.poll(() => healthy(server), { timeout: 5_000, interval: 50 }).toBe(200);
  });
});
