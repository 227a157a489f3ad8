// The server's logs: JSON lines when stdout is not a terminal, readable text on one (checked through a
// real pseudo-terminal with `script`); the startup line names the page and the routes; a GPU
// fallback warning comes out as a log line in the same format.
import { spawn, spawnSync } from "node:child_process";
import path from "node:path";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { formatLogLine } from "../../src/server/log-format.js";
import { createLogger, logWarnings } from "../../src/server/logging.js";
import { warnOnce } from "../../src/util/warn.js";
import { type CliRun, spawnCli } from "../helpers/spawn-cli.js";

const ROOT = path.join(import.meta.dirname, "..", "..");
const ENCODER = path.join(ROOT, "models", "demo", "siglip2");

/** A destination that keeps what is written; `isTTY` as a terminal's stdout has it. */
function sink(isTTY: boolean) {
  let text = "";
  const out = new Writable({
    write(chunk, _enc, done) {
      text += chunk;
      done();
    },
  });
  Object.assign(out, { isTTY });
  return { out, text: () => text };
}

describe("log lines", () => {
  it("formats a pino JSON line as time, level, message and key=value fields", () => {
    const time = new Date(2026, 0, 2, 3, 4, 5, 67).getTime();
    const line = JSON.stringify({
      level: 30,
      time,
      pid: 1,
      hostname: "h",
      service: "vlmkit",
      reqId: "7",
      msg: "request",
      method: "POST",
      route: "/v1/classify",
      status: 200,
      ms: 41.2,
      note: "two words",
      routes: ["GET /health", "POST /v1/classify"],
    });
    expect(formatLogLine(line)).toBe(
      '03:04:05.067 INFO  request reqId=7 method=POST route=/v1/classify status=200 ms=41.2 note="two words" routes=GET /health, POST /v1/classify\n',
    );
    expect(formatLogLine(line, { color: true })).toContain("\x1b[32mINFO \x1b[0m request");
  });

  it("shows an error's message and stack, and passes a line that is not JSON through", () => {
    const error = new Error("loading models failed: no such file");
    const text = formatLogLine(
      JSON.stringify({
        level: 50,
        time: 0,
        msg: "loading models failed",
        err: { message: error.message, stack: error.stack },
      }),
    );
    const [first, ...rest] = text.trimEnd().split("\n");
    expect(first).toMatch(/ERROR loading models failed err="loading models failed: no such file"$/);
    expect(rest.length).toBeGreaterThan(0);
    expect(rest.every((l) => l.startsWith("    at "))).toBe(true);
    expect(formatLogLine("not json")).toBe("not json\n");
  });

  it("createLogger writes text to a terminal and JSON lines elsewhere; warnings follow the logger", () => {
    const tty = sink(true);
    const pipe = sink(false);
    for (const [s, name] of [
      [tty, "tty"],
      [pipe, "pipe"],
    ] as const) {
      const logger = createLogger({ destination: s.out, level: "info" });
      logger.info({ url: "http://127.0.0.1:8080" }, "listening");
      const restore = logWarnings(logger);
      try {
        warnOnce(`test-${name}`, 'execution provider "cuda" is not available; falling back');
      } finally {
        restore();
      }
    }
    expect(tty.text()).toMatch(/^\d\d:\d\d:\d\d\.\d{3} .*INFO.* listening url=http:\/\/127\.0\.0\.1:8080\n/);
    expect(tty.text()).toMatch(/WARN.* execution provider "cuda" is not available; falling back\n$/);
    const lines = pipe
      .text()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toMatchObject([
      { level: 30, msg: "listening", url: "http://127.0.0.1:8080" },
      { level: 40, msg: 'execution provider "cuda" is not available; falling back' },
    ]);
    // An explicit format wins over the destination.
    const forced = sink(true);
    createLogger({ destination: forced.out, format: "json" }).info("x");
    expect(JSON.parse(forced.text())).toMatchObject({ msg: "x" });
  });
});

describe("vlmkit serve's log", () => {
  let run: CliRun | undefined;
  afterEach(async () => {
    run?.child.kill("SIGTERM");
    await run?.exited;
    run = undefined;
  });

  it("with stdout not a terminal: JSON lines; the startup line has the page and the routes; the GPU fallback warning is a line", async () => {
    run = spawnCli(["serve", "--encoder", ENCODER, "--port", "0", "--threads", "1"], {
      VLMKIT_EXECUTION_PROVIDERS: "cuda,cpu",
    });
    const current = run;
    await expect
      .poll(() => current.stdout().includes('"msg":"ready"'), { timeout: 60_000, interval: 100 })
      .toBe(true);
    const lines = current
      .stdout()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const listening = lines.find((l) => l.msg === "listening");
    expect(listening.page).toBe(`${listening.url}/`);
    expect(listening.routes).toEqual(
      expect.arrayContaining([
        "GET /",
        "POST /v1/chat/completions",
        "POST /v1/classify",
        "GET /v1/models/:id",
        "POST /api/chat",
      ]),
    );
    expect(listening.routes).not.toContain("ALL /*");
    // This machine's onnxruntime has no CUDA provider: the fallback is said once, as a warn line.
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0].msg).toMatch(
      /execution provider "cuda" is not available .*ONNXRUNTIME_NODE_INSTALL=cuda12/,
    );
    expect(current.stderr()).toBe("");
  });

  const hasScript = spawnSync("script", ["--version"]).status === 0;
  it.runIf(hasScript)("on a terminal: readable text lines", async () => {
    const command = [
      process.execPath,
      "--import",
      "tsx",
      path.join(ROOT, "test", "helpers", "cli.ts"),
      "serve",
      "--encoder",
      ENCODER,
      "--port",
      "0",
      "--threads",
      "1",
    ]
      .map((a) => `'${a}'`)
      .join(" ");
    // `script` runs the command on a pseudo-terminal and copies what it writes to our stdout.
    const child = spawn("script", ["-qfec", command, "/dev/null"], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: "1" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    const exited = new Promise((resolve) => child.on("exit", resolve));
    try {
      await expect.poll(() => out.includes(" ready "), { timeout: 60_000, interval: 100 }).toBe(true);
    } finally {
      child.kill("SIGTERM");
      await exited;
    }
    const text = out.replace(/\r/g, "");
    expect(text).not.toContain('{"level"');
    expect(text).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} INFO {2}listening url=(http:\/\/127\.0\.0\.1:\d+) host=127\.0\.0\.1 port=\d+ page=\1\/ routes=GET \/health, .*POST \/v1\/chat\/completions/m,
    );
    expect(text).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}ready models=siglip2$/m);
  });
});
