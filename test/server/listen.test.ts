import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/server/app.js";
import { listen, type RunningServer } from "../../src/server/listen.js";
import { ServedModels } from "../../src/server/models.js";
import { spawnCli } from "../helpers/spawn-cli.js";
import { captureLogger, json, pngBase64, tempDir, tinyEncoder } from "./helpers.js";

const root = tempDir("vlmkit-server-listen-");
let dir: string;
let models: ServedModels;
let png: Buffer;
let imageServer: http.Server;
let imageUrl: string;
/** Delay before the image server answers, per request path. */
const delays = new Map<string, number>();
const requested: string[] = [];
/** Image requests being answered now, and the most at once. */
let inFlight = 0;
let maxInFlight = 0;
const running: RunningServer[] = [];

beforeAll(async () => {
  dir = await tinyEncoder(root);
  models = new ServedModels();
  await models.loadEncoders({ tiny: dir });
  png = Buffer.from(await pngBase64(), "base64");
  // A local image server: reachable only when private addresses are allowed.
  imageServer = http.createServer((req, res) => {
    requested.push(req.url ?? "");
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    setTimeout(
      () => {
        inFlight--;
        res.writeHead(200, { "content-type": "image/png" }).end(png);
      },
      delays.get(req.url ?? "") ?? 0,
    );
  });
  await new Promise<void>((resolve) => imageServer.listen(0, "127.0.0.1", resolve));
  imageUrl = `http://127.0.0.1:${(imageServer.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const s of running) await s.close(1000);
  imageServer.close();
  await models.dispose();
  fs.rmSync(root, { recursive: true, force: true });
});

async function start(options: Parameters<typeof createApp>[0] = {}) {
  const { app } = createApp({ models, logger: captureLogger().logger, ...options });
  const server = await listen(app, { port: 0 });
  running.push(server);
  return server;
}

async function classify(url: string, images: string[], headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/v1/classify`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ model: "tiny", images, labels: ["cat", "dog"] }),
  });
  return { status: res.status, body: await json(res) };
}

describe("a listening server", () => {
  it("binds 127.0.0.1 and answers a classify request over HTTP", async () => {
    const server = await start();
    expect(server.host).toBe("127.0.0.1");
    expect(server.port).toBeGreaterThan(0);
    const res = await classify(server.url, [png.toString("base64")], { "x-request-id": "over-the-wire" });
    expect(res.status).toBe(200);
    expect(res.body.data[0].results.map((r: { label: string }) => r.label).sort()).toEqual(["cat", "dog"]);
  });

  it("refuses a body over the limit sent with Content-Length", async () => {
    const server = await start({ limits: { maxBodyBytes: 1024 } });
    const res = await classify(server.url, ["A".repeat(4096)]);
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("refuses a busy port with a clear error", async () => {
    const server = await start();
    const { app } = createApp({ models, logger: captureLogger().logger });
    await expect(listen(app, { port: server.port })).rejects.toThrow(
      `cannot listen on 127.0.0.1:${server.port}: the port is in use`,
    );
  });
});

describe("remote images", () => {
  it("refuses a private address even when remote images are on", async () => {
    const server = await start({ allowRemoteImages: true });
    const before = requested.length;
    const res = await classify(server.url, [`${imageUrl}/private.png`]);
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe("IMAGE_SOURCE_NOT_ALLOWED");
    expect(res.body.error.message).toMatch(
      /^images\[0\]: image address 127\.0\.0\.1 is loopback; only public addresses/,
    );
    expect(requested.length).toBe(before); // refused before connecting
  });

  it("downloads a request's images together before taking the encoder slot", async () => {
    const server = await start({
      allowRemoteImages: true,
      allowPrivateImageAddresses: true,
      limits: { encoderConcurrency: 1 },
    });
    for (const p of ["/slow-a.png", "/slow-b.png", "/slow-c.png"]) delays.set(p, 1500);
    maxInFlight = 0;
    const order: string[] = [];
    const slow = classify(server.url, [
      `${imageUrl}/slow-a.png`,
      `${imageUrl}/slow-b.png`,
      `${imageUrl}/slow-c.png`,
    ]).then((r) => {
      order.push("slow host");
      return r;
    });
    await expect.poll(() => requested.includes("/slow-a.png"), { timeout: 5000, interval: 10 }).toBe(true);
    // While the slow host dawdles, a request with an inline image gets the one encoder slot.
    const inline = await classify(server.url, [png.toString("base64")]);
    order.push("inline");
    expect(inline.status).toBe(200);
    const res = await slow;
    expect(res.status).toBe(200);
    expect(res.body.data).toHaveLength(3);
    expect(order).toEqual(["inline", "slow host"]);
    expect(maxInFlight).toBe(3); // all three fetched at once, not one after another
  });

  it("fetches from a private address only with the explicit option", async () => {
    const server = await start({ allowRemoteImages: true, allowPrivateImageAddresses: true });
    const res = await classify(server.url, [`${imageUrl}/allowed.png`]);
    expect(res.status).toBe(200);
    expect(requested).toContain("/allowed.png");
  });
});

describe("vlmkit serve", () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
  });

  it("listens before loading, drains an in-flight request on SIGTERM and exits 0", async () => {
    const run = spawnCli(
      [
        "serve",
        "--port",
        "0",
        "--encoder",
        `tiny=${dir}`,
        "--allow-remote-images",
        "--allow-private-image-addresses",
      ],
      { VLMKIT_LOG_LEVEL: "info" },
    );
    child = run.child;
    await expect
      .poll(() => /"msg":"listening"/.test(run.stdout()), { timeout: 30_000, interval: 50 })
      .toBe(true);
    const port = Number(/"port":(\d+)/.exec(run.stdout())![1]);
    const url = `http://127.0.0.1:${port}`;
    const healthCodes: number[] = [];
    await expect
      .poll(
        async () => {
          const status = (await fetch(`${url}/health`)).status;
          healthCodes.push(status);
          return status;
        },
        { timeout: 30_000, interval: 20 },
      )
      .toBe(200);
    // The listener comes up before the model loads (the tiny model may load before the first poll,
    // so the 503 itself is asserted in-process in encoders.test.ts). The log line may trail /health.
    await expect.poll(() => run.stdout().includes('"msg":"ready"'), { timeout: 10_000 }).toBe(true);
    expect(run.stdout().indexOf('"msg":"listening"')).toBeLessThan(run.stdout().indexOf('"msg":"ready"'));
    expect(healthCodes.every((s) => s === 503 || s === 200)).toBe(true);

    // An in-flight request whose image arrives only after SIGTERM.
    delays.set("/slow.png", 800);
    const inFlight = classify(url, [`${imageUrl}/slow.png`]);
    await expect.poll(() => requested.includes("/slow.png"), { timeout: 5000, interval: 10 }).toBe(true);
    run.child.kill("SIGTERM");
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(res.body.data[0].results).toHaveLength(2);
    const end = await run.exited;
    expect(end.code).toBe(0);
    expect(end.stdout).toContain("shutting down: draining requests");
    expect(end.stdout).toMatch(/"msg":"stopped"/);
    await expect(fetch(`${url}/health`)).rejects.toThrow();
    expect(end.stderr).toBe("");
  });
});
