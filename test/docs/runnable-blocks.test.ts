// The docs check: every command block of README.md and docs/*.md marked runnable runs, on the bundled
// tiny models, and prints something recognizable (docs/dev.md#runnable-examples), so the examples
// cannot drift from the program.
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findRunnableBlocks, type RunnableBlock } from "./runnable-blocks.js";

const ROOT = path.join(import.meta.dirname, "..", "..");
const FILES = ["README.md", ...fs.readdirSync(path.join(ROOT, "docs")).map((f) => `docs/${f}`)].filter((f) =>
  f.endsWith(".md"),
);

let tmp: string;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-docs-"));
  // `vlmkit` on PATH runs the CLI from source, like test/helpers/spawn-cli.ts.
  const bin = path.join(tmp, "bin");
  fs.mkdirSync(bin);
  const shim = path.join(bin, "vlmkit");
  fs.writeFileSync(
    shim,
    `#!/bin/sh\nexec "${process.execPath}" --import tsx "${path.join(ROOT, "test", "helpers", "cli.ts")}" "$@"\n`,
  );
  fs.chmodSync(shim, 0o755);
  env = {
    ...process.env,
    PATH: `${bin}${path.delimiter}${process.env.PATH}`,
    HF_HUB_OFFLINE: "1",
    HF_HUB_CACHE: path.join(tmp, "hub"),
    VLMKIT_CACHE: path.join(tmp, "vlmkit-cache"),
    VLMKIT_ADAPTERS: path.join(tmp, "adapters"),
  };
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The block's text with /tmp/ paths moved into this run's folder and localhost:8080 to `address`. */
function localize(text: string, address?: string): string {
  let out = text.replace(/(?<![\w.~-])\/tmp\//g, `${tmp}/`);
  if (address) out = out.replace(/\b(localhost|127\.0\.0\.1):8080\b/g, address);
  return out;
}

function runShell(
  script: string,
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn("bash", ["-euo", "pipefail", "-c", script], {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Starts a `runnable serve` block on a free port and waits until /health says ok. */
async function startServer(block: RunnableBlock) {
  const port = await freePort();
  // One command: continuation lines joined, comment lines dropped; `exec` so the signal reaches vlmkit.
  const command = block.code
    .replace(/\\\n/g, " ")
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.trim().startsWith("#"))
    .join(" ");
  const child = spawn("bash", ["-c", `exec ${localize(command)} --port ${port}`], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout.on("data", (d) => {
    log += d;
  });
  child.stderr.on("data", (d) => {
    log += d;
  });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const address = `127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${block.where}: the server exited:\n${log}`);
    const status = await fetch(`http://${address}/health`)
      .then((r) => r.status)
      .catch(() => 0);
    if (status === 200) break;
    if (Date.now() > deadline) throw new Error(`${block.where}: not ready in 90 s:\n${log}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    address,
    log: () => log,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

const blocksByFile = FILES.map((file) => ({
  file,
  blocks: findRunnableBlocks(fs.readFileSync(path.join(ROOT, file), "utf8"), file),
})).filter((f) => f.blocks.length > 0);

it("README.md's quick start and examples are marked runnable", () => {
  const readme = blocksByFile.find((f) => f.file === "README.md")?.blocks ?? [];
  expect(readme.map((b) => b.code).join("\n")).toMatch(/npm run demo/);
  expect(readme.filter((b) => b.serve)).toHaveLength(1);
  expect(readme.length).toBeGreaterThanOrEqual(4);
});

for (const { file, blocks } of blocksByFile) {
  describe(file, () => {
    let server: Awaited<ReturnType<typeof startServer>> | undefined;
    afterAll(async () => {
      await server?.stop();
    });

    for (const block of blocks) {
      if (block.serve) {
        it(`${block.where}: the server starts and serves the page`, async () => {
          await server?.stop();
          server = await startServer(block);
          const page = await fetch(`http://${server.address}/`);
          expect(page.status).toBe(200);
          expect(await page.text()).toMatch(/<html/i);
        }, 120_000);
        continue;
      }
      it(`${block.where}: exits 0 and prints ${block.expect.length > 0 ? block.expect.join(" and ") : "something"}`, async () => {
        const r = await runShell(localize(block.code, server?.address), 170_000);
        const shown = `${block.where}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}\n--- server\n${server?.log() ?? ""}`;
        expect(r.code, shown).toBe(0);
        expect(r.stdout.trim(), shown).not.toBe("");
        for (const pattern of block.expect) expect(r.stdout, shown).toMatch(pattern);
      }, 180_000);
    }
  });
}
