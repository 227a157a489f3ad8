// Browser-borne attacks on a local server (CSRF, DNS rebinding): foreign Host names are refused without
// an API key, foreign Origins always, and POST bodies must be application/json — in each route
// family's error format — while curl-style and library clients still get through.
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/server/app.js";
import { listen, type RunningServer } from "../../src/server/listen.js";
import { ServedModels } from "../../src/server/models.js";
import { hostName } from "../../src/server/request-guard.js";
import { captureLogger } from "./helpers.js";

const models = new ServedModels();
models.markReady();
const quiet = () => captureLogger().logger;

/** A raw request with exactly these headers (fetch would not let us set Host). */
function raw(
  server: RunningServer,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: server.port, method, path, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

let open: RunningServer;
let keyed: RunningServer;
let listed: RunningServer;
beforeAll(async () => {
  open = await listen(createApp({ models, logger: quiet(), apiKey: false }).app, { port: 0 });
  keyed = await listen(createApp({ models, logger: quiet(), apiKey: "k3y" }).app, { port: 0 });
  listed = await listen(
    createApp({
      models,
      logger: quiet(),
      apiKey: false,
      allowedHosts: ["vlm.internal"],
      allowedOrigins: ["https://app.example"],
    }).app,
    { port: 0 },
  );
});
afterAll(async () => {
  for (const s of [open, keyed, listed]) await s?.close(1000);
});

describe("Host check without an API key", () => {
  it("answers loopback names and the bound host, refuses a rebinding page's host with 403", async () => {
    for (const host of ["localhost:8080", "127.0.0.1", "[::1]:9", "LOCALHOST", "127.0.0.1:1234"]) {
      expect((await raw(open, "GET", "/v1/models", { host })).status, host).toBe(200);
    }
    const evil = await raw(open, "GET", "/v1/models", { host: "attacker.example:8080" });
    expect(evil.status).toBe(403);
    expect(JSON.parse(evil.body).error).toMatchObject({
      type: "permission_error",
      code: "FORBIDDEN",
      param: "Host",
      message:
        'Host "attacker.example:8080" is not accepted: without an API key this server answers only localhost, 127.0.0.1, [::1] or a host given with --allowed-hosts',
    });
    const ollama = await raw(open, "POST", "/api/chat", {
      host: "attacker.example",
      "content-type": "application/json",
    });
    expect(ollama.status).toBe(403);
    expect(JSON.parse(ollama.body).error).toMatch(/^Host "attacker.example" is not accepted/);
  });

  it("accepts allow-listed hosts, and any host once an API key is required", async () => {
    expect((await raw(listed, "GET", "/v1/models", { host: "vlm.internal:80" })).status).toBe(200);
    expect((await raw(listed, "GET", "/v1/models", { host: "other.internal" })).status).toBe(403);
    const withKey = await raw(keyed, "GET", "/v1/models", {
      host: "attacker.example",
      authorization: "Bearer k3y",
    });
    expect(withKey.status).toBe(200);
  });

  it("skips the Host check for a wildcard bind, which any of the machine's names reach", async () => {
    const { app } = createApp({ models, logger: quiet(), apiKey: false, host: "0.0.0.0" });
    const res = await app.request("http://my-box.lan:8080/v1/models");
    expect(res.status).toBe(200);
  });
});

describe("bind address parsing", () => {
  it("keeps the Host check for an unbracketed IPv6 bind and names it as the bound host", async () => {
    const { app } = createApp({ models, logger: quiet(), apiKey: false, host: "::1" });
    expect((await app.request("http://attacker.example/v1/models")).status).toBe(403);
    expect((await app.request("http://[::1]:8080/v1/models")).status).toBe(200);
    const specific = createApp({ models, logger: quiet(), apiKey: false, host: "fd00::5" }).app;
    expect((await specific.request("http://attacker.example/v1/models")).status).toBe(403);
    expect((await specific.request("http://[fd00::5]:8080/v1/models")).status).toBe(200);
  });

  it("refuses a bind address it cannot parse instead of turning the Host check off", () => {
    for (const host of ["a b", "[::1", "http://x", ""]) {
      expect(() => createApp({ models, logger: quiet(), apiKey: false, host }), host).toThrow(
        /cannot be used as a bind address/,
      );
    }
  });

  it("warns once at startup about a wildcard bind without an API key", () => {
    for (const host of ["0.0.0.0", "::", "[::]", "0:0:0:0:0:0:0:0"]) {
      const { logger, lines } = captureLogger();
      createApp({ models, logger, apiKey: false, host });
      expect(
        lines.filter((l) => l.level === 40).map((l) => l.msg),
        host,
      ).toEqual([expect.stringMatching(/every interface without an API key/)]);
      const keyed = captureLogger();
      createApp({ models, logger: keyed.logger, apiKey: "k3y", host });
      expect(keyed.lines.filter((l) => l.level === 40)).toEqual([]);
    }
  });
});

describe("Origin check", () => {
  it("refuses a foreign page's Origin (with or without an API key), accepts loopback and listed origins", async () => {
    const foreign = await raw(open, "GET", "/v1/models", {
      host: "127.0.0.1",
      origin: "https://evil.example",
    });
    expect(foreign.status).toBe(403);
    expect(JSON.parse(foreign.body).error.message).toBe(
      'Origin "https://evil.example" is not accepted: only pages on localhost, 127.0.0.1 or [::1], or origins given with --allowed-origins, may call this server',
    );
    const sandboxed = await raw(open, "GET", "/v1/models", { host: "127.0.0.1", origin: "null" });
    expect(sandboxed.status).toBe(403);
    const keyedForeign = await raw(keyed, "GET", "/v1/models", {
      authorization: "Bearer k3y",
      origin: "https://evil.example",
    });
    expect(keyedForeign.status).toBe(403);
    expect((await raw(open, "GET", "/v1/models", { origin: "http://localhost:3000" })).status).toBe(200);
    expect((await raw(listed, "GET", "/v1/models", { origin: "https://app.example" })).status).toBe(200);
    expect((await raw(listed, "GET", "/v1/models", { origin: "https://app.example.evil" })).status).toBe(403);
  });
});

describe("Content-Type on POST", () => {
  it("requires application/json (415 in the family's format); a form post from a page cannot pass", async () => {
    const body = JSON.stringify({ model: "x", messages: [{ role: "user", content: "hi" }] });
    const form = await raw(open, "POST", "/v1/chat/completions", { "content-type": "text/plain" }, body);
    expect(form.status).toBe(415);
    expect(JSON.parse(form.body).error).toMatchObject({
      code: "UNSUPPORTED_MEDIA_TYPE",
      type: "invalid_request_error",
      param: "Content-Type",
      message:
        'Content-Type "text/plain" is not accepted; send the JSON body with `Content-Type: application/json`',
    });
    const none = await raw(open, "POST", "/api/generate", {}, body);
    expect(none.status).toBe(415);
    expect(JSON.parse(none.body)).toEqual({
      error: 'Content-Type "" is not accepted; send the JSON body with `Content-Type: application/json`',
    });
    // Parameters and case do not matter; the request then reaches the route (unknown model → 404).
    const ok = await raw(
      open,
      "POST",
      "/v1/chat/completions",
      { "content-type": "Application/JSON; charset=utf-8" },
      body,
    );
    expect(ok.status).toBe(404);
  });
});

describe("hostName", () => {
  it("strips port, brackets and a trailing dot, and lower-cases", () => {
    expect(hostName("LocalHost.:8080")).toBe("localhost");
    expect(hostName("[::1]:80")).toBe("::1");
    expect(hostName("127.0.0.1")).toBe("127.0.0.1");
    expect(hostName("a b")).toBeUndefined();
  });

  it("reads an unbracketed IPv6 address as itself", () => {
    expect(hostName("::1")).toBe("::1");
    expect(hostName("FD00::5")).toBe("fd00::5");
  });
});
