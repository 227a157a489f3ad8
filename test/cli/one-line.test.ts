// One line to run a VLM: an adapter card records where its encoder and LLM are (a bundle carries them,
// verified by sha256, confined to the adapter directory), so ask / run need only the adapter.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adapterParts } from "../../src/cli/adapter-parts.js";
import { IncompatibleModelError, InvalidArgumentError } from "../../src/errors.js";
import { resolveEncoderSource, resolveLlmSource } from "../../src/vlm/part-sources.js";
import { spawnCli } from "../helpers/spawn-cli.js";

const ROOT = path.join(import.meta.dirname, "..", "..");
const SHAPES = path.join(ROOT, "adapters", "shapes");
const image = (name: string) => path.join(ROOT, "examples", "images", name);
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-one-line-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function cli(...args: string[]) {
  const r = await spawnCli(args, { HF_HUB_OFFLINE: "1" }).exited;
  return r;
}

describe("one line to run a VLM", () => {
  it("ask --adapter adapters/shapes alone answers the colour", async () => {
    const r = await cli(
      "ask",
      image("red-circle.png"),
      "what color is the shape?",
      "--adapter",
      "adapters/shapes",
      "--max-tokens",
      "4",
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("red");
  });

  it("run <name> image prompt answers once; run <name> image without a prompt chats on stdin", async () => {
    const once = await cli(
      "run",
      "shapes",
      image("blue-square.png"),
      "what color is the shape?",
      "--max-tokens",
      "4",
    );
    expect(once.code).toBe(0);
    expect(once.stdout.trim()).toBe("blue");

    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        path.join(ROOT, "test", "helpers", "cli.ts"),
        "run",
        "adapters/shapes",
        image("green-triangle.png"),
        "--max-tokens",
        "4",
      ],
      { cwd: ROOT },
    );
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stdin.end("what color is the shape?\n/quit\n");
    const code = await new Promise((r) => child.on("close", r));
    expect(code).toBe(0);
    expect(out).toContain("attached");
    expect(out).toMatch(/^green$/m);
  });

  it("--version prints the package version; models shows headers and the shapes bundle", async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
    expect((await cli("--version")).stdout.trim()).toBe(pkg.version);
    const models = await cli("models");
    expect(models.stdout).toMatch(/^ {2}ID +KIND +CACHE +CHECKED +REPO +DIMENSIONS$/m);
    expect(models.stdout).toMatch(/^ {2}NAME +KIND +DIRECTORY +PARTS$/m);
    expect(models.stdout).toMatch(/^ {2}shapes +bundle +/m);
  });

  it("serve --adapter shapes alone serves the VLM and the encoder its card records", async () => {
    const run = spawnCli(["serve", "--adapter", "shapes", "--port", "0"], { HF_HUB_OFFLINE: "1" });
    try {
      await expect
        .poll(() => run.stdout().includes('"msg":"ready"'), { timeout: 90_000, interval: 100 })
        .toBe(true);
      const listening = run
        .stdout()
        .split("\n")
        .map((l) => (l.startsWith("{") ? JSON.parse(l) : {}))
        .find((l) => l.msg === "listening");
      const models = (await (await fetch(`${listening.url}/v1/models`)).json()) as { data: { id: string }[] };
      expect(models.data.map((m: { id: string }) => m.id).sort()).toEqual(["shapes", "siglip2"]);
      const png = fs.readFileSync(image("red-circle.png")).toString("base64");
      const answer = await fetch(`${listening.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model: "shapes",
          max_tokens: 4,
          messages: [
            {
              role: "user",
              content: [
                { type: "image_url", image_url: { url: `data:image/png;base64,${png}` } },
                { type: "text", text: "what color is the shape?" },
              ],
            },
          ],
        }),
      });
      expect(answer.status).toBe(200);
      const body = (await answer.json()) as { choices: { message: { content: string } }[] };
      expect(body.choices[0].message.content.trim()).toBe("red");
    } finally {
      run.child.kill("SIGTERM");
      await run.exited;
    }
  });

  it("an unknown adapter name says where it looked", async () => {
    const r = await cli("run", "no-such-bundle", "hello");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no adapter or bundle "no-such-bundle".*vlmkit models/);
  });
});

describe("a card's part sources", () => {
  const copyShapes = (name: string) => {
    const to = path.join(dir, name);
    fs.cpSync(SHAPES, to, { recursive: true });
    return to;
  };
  const card = (adapter: string) => JSON.parse(fs.readFileSync(path.join(adapter, "adapter.json"), "utf8"));

  it("a copied bundle still runs alone: its parts resolve inside it", async () => {
    const copy = copyShapes("copy");
    const parts = await adapterParts({ adapter: copy, dtype: "fp32" });
    expect(parts.encoder).toBe(path.join(copy, "siglip2"));
    expect(parts.llm).toBe(path.join(copy, "gemma3.gguf"));
  });

  it("a changed part fails its sha256", async () => {
    const copy = copyShapes("tampered");
    fs.appendFileSync(path.join(copy, "gemma3.gguf"), "x");
    const c = card(copy);
    await expect(resolveLlmSource(copy, c.llm.source)).rejects.toThrow(IncompatibleModelError);
    await expect(resolveLlmSource(copy, c.llm.source)).rejects.toThrow(/has sha256 .* but the card records/);
  });

  it("paths that leave the adapter directory are refused, links leading out too", async () => {
    const copy = copyShapes("escape");
    const sha256 = card(copy).llm.source.sha256;
    for (const p of ["../shapes/gemma3.gguf", "/etc/passwd", "a/../../x", "https://example.com/x.gguf"]) {
      await expect(resolveLlmSource(copy, { path: p, sha256 }), p).rejects.toThrow(InvalidArgumentError);
    }
    const outside = path.join(dir, "outside.gguf");
    fs.copyFileSync(path.join(SHAPES, "gemma3.gguf"), outside);
    fs.symlinkSync(outside, path.join(copy, "link.gguf"));
    await expect(resolveLlmSource(copy, { path: "link.gguf", sha256 })).rejects.toThrow(/leads outside/);
    fs.symlinkSync(path.join(SHAPES, "siglip2"), path.join(copy, "enc-link"));
    await expect(
      resolveEncoderSource(copy, { path: "enc-link", sha256: card(copy).encoder.source.sha256 }),
    ).rejects.toThrow(/leads outside/);
  });

  it("a card without sources asks for --encoder / --llm; flags override the card", async () => {
    const copy = copyShapes("old-card");
    const c = card(copy);
    delete c.encoder.source;
    delete c.llm.source;
    fs.writeFileSync(path.join(copy, "adapter.json"), JSON.stringify(c));
    await expect(adapterParts({ adapter: copy, dtype: "fp32" })).rejects.toThrow(
      /names its encoder "siglip2", which is neither .*pass --encoder/,
    );
    const parts = await adapterParts({
      adapter: copy,
      encoder: path.join(SHAPES, "siglip2"),
      llm: path.join(SHAPES, "gemma3.gguf"),
      dtype: "fp32",
    });
    expect(parts.llm).toBe(path.join(SHAPES, "gemma3.gguf"));
  });
});
