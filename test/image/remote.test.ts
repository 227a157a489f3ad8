import http from "node:http";
import type { AddressInfo } from "node:net";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AbortError, ImageError } from "../../src/errors.js";
import { isPublicAddress } from "../../src/image/address-policy.js";
import { loadImage } from "../../src/image/load.js";

let server: http.Server;
let base: string;
let image: Buffer;
const open = new Set<http.ServerResponse>();

beforeAll(async () => {
  image = await sharp(Buffer.alloc(6 * 4 * 3, 200), { raw: { width: 6, height: 4, channels: 3 } })
    .png()
    .toBuffer();
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    switch (url.pathname) {
      case "/ok.png":
        res.writeHead(200, { "content-type": "image/png" }).end(image);
        return;
      case "/redirect":
        res.writeHead(302, { location: `/ok.png` }).end();
        return;
      case "/loop":
        res.writeHead(302, { location: "/loop" }).end();
        return;
      case "/to-ftp":
        res.writeHead(302, { location: "ftp://example.com/x.png" }).end();
        return;
      case "/missing":
        res.writeHead(404).end("no");
        return;
      case "/huge-declared":
        res.writeHead(200, { "content-length": String(1 << 30) });
        res.write(Buffer.alloc(1024));
        open.add(res);
        return;
      case "/huge-chunked":
        // No length header: keeps sending until the client hangs up.
        res.writeHead(200);
        open.add(res);
        (function pump() {
          if (res.destroyed) return;
          res.write(Buffer.alloc(64 * 1024), () => setImmediate(pump));
        })();
        return;
      case "/slow":
        res.writeHead(200, { "content-type": "image/png" });
        res.write(image.subarray(0, 10));
        open.add(res);
        return;
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const res of open) res.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const allowed = { allowRemote: true, allowPrivateAddresses: true };

async function codeOf(p: Promise<unknown>): Promise<[string, string]> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ImageError);
  return [(e as ImageError).code, (e as Error).message];
}

describe("loadImage over http", () => {
  it("fetches and decodes an image, following a redirect", async () => {
    const img = await loadImage(`${base}/ok.png`, allowed);
    expect([img.width, img.height]).toEqual([6, 4]);
    const redirected = await loadImage(new URL(`${base}/redirect`), allowed);
    expect(Buffer.from(redirected.data)).toEqual(Buffer.from(img.data));
  });

  it("refuses 127.0.0.1 by default even when remote is allowed", async () => {
    const [code, message] = await codeOf(loadImage(`${base}/ok.png`, { allowRemote: true }));
    expect(code).toBe("IMAGE_SOURCE_NOT_ALLOWED");
    expect(message).toMatch(/127\.0\.0\.1 .*loopback/);
  });

  it("refuses a hostname that resolves to loopback (checked after DNS)", async () => {
    const port = (server.address() as AddressInfo).port;
    const [code, message] = await codeOf(loadImage(`http://localhost:${port}/ok.png`, { allowRemote: true }));
    expect(code).toBe("IMAGE_SOURCE_NOT_ALLOWED");
    expect(message).toMatch(
      /^image host localhost does not resolve to a public address; only public addresses/,
    );
  });

  it("never echoes what a host name resolved to (internal DNS answers stay internal)", async () => {
    const port = (server.address() as AddressInfo).port;
    const error = await loadImage(`http://localhost:${port}/ok.png`, { allowRemote: true }).catch((e) => e);
    expect(error).toBeInstanceOf(ImageError);
    const shown = `${error.message} ${JSON.stringify(error.details)}`;
    expect(shown).not.toMatch(/127\.0\.0\.1|::1|loopback/);
  });

  it("re-checks redirects: scheme, count", async () => {
    expect(await codeOf(loadImage(`${base}/to-ftp`, allowed))).toEqual([
      "IMAGE_SOURCE_NOT_ALLOWED",
      expect.stringMatching(/"ftp:" is not allowed/),
    ]);
    const [code, message] = await codeOf(loadImage(`${base}/loop`, allowed));
    expect(code).toBe("IMAGE_FETCH_FAILED");
    expect(message).toMatch(/more than 3 redirects/);
  });

  it("reports HTTP errors with the status and host", async () => {
    const [code, message] = await codeOf(loadImage(`${base}/missing`, allowed));
    expect(code).toBe("IMAGE_FETCH_FAILED");
    expect(message).toMatch(/host 127\.0\.0\.1:\d+: HTTP status 404/);
  });

  it("stops huge responses at maxBytes, declared or streamed", async () => {
    expect((await codeOf(loadImage(`${base}/huge-declared`, allowed)))[0]).toBe("IMAGE_TOO_LARGE");
    const started = Date.now();
    const [code, message] = await codeOf(
      loadImage(`${base}/huge-chunked`, { ...allowed, maxBytes: 1 << 20 }),
    );
    expect(code).toBe("IMAGE_TOO_LARGE");
    expect(message).toMatch(/sent more than 1048576 bytes/);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("times out a slow response", async () => {
    const started = Date.now();
    const [code, message] = await codeOf(loadImage(`${base}/slow`, { ...allowed, timeoutMs: 300 }));
    expect(code).toBe("IMAGE_FETCH_FAILED");
    expect(message).toMatch(/timed out after 300 ms/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("aborts through the caller's signal", async () => {
    const controller = new AbortController();
    const pending = loadImage(`${base}/slow`, { ...allowed, signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toBeInstanceOf(AbortError);
  });
});

describe("address policy", () => {
  it.each([
    ["8.8.8.8", true],
    ["2606:4700:4700::1111", true],
    ["127.0.0.1", false],
    ["10.1.2.3", false],
    ["172.16.0.1", false],
    ["192.168.1.1", false],
    ["169.254.169.254", false],
    ["100.64.0.1", false],
    ["0.0.0.0", false],
    ["224.0.0.1", false],
    ["255.255.255.255", false],
    ["::1", false],
    ["::", false],
    ["fe80::1", false],
    ["fc00::1", false],
    ["ff02::1", false],
    ["::ffff:127.0.0.1", false],
    ["::ffff:10.0.0.1", false],
    // ::/96, IPv4-compatible IPv6: ::7f00:1 is ::127.0.0.1
    ["::7f00:1", false],
    ["::127.0.0.1", false],
    ["::808:808", false],
    ["::1:0:0:0", true],
    ["not-an-ip", false],
  ])("%s public: %s", (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });
});
