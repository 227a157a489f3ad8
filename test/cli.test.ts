// The vlmkit command line on the files `vlmkit tiny` writes, run as a user would run it.
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadDataset } from "../src/train/data/dataset.js";

const run = promisify(execFile);
const CLI = ["--import", "tsx", path.join(import.meta.dirname, "helpers", "cli.ts")];
let dir: string;
let img: string;

async function vlmkit(...args: string[]) {
  return run(process.execPath, [...CLI, ...args], {
    env: { ...process.env, HF_HUB_OFFLINE: "1" },
    timeout: 120_000,
  });
}

async function vlmkitFails(...args: string[]) {
  const err = await vlmkit(...args).then(
    () => undefined,
    (e) => e,
  );
  expect(err, "the command should have failed").toBeDefined();
  return { code: err.code as number, stderr: String(err.stderr) };
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-cli-"));
  img = path.join(dir, "red.png");
  await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 220, g: 30, b: 30 } } })
    .png()
    .toFile(img);
  await vlmkit("tiny", path.join(dir, "t"));
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("vlmkit CLI", () => {
  it("tiny writes the demo set and says what it wrote (--json)", async () => {
    const { stdout } = await vlmkit("tiny", path.join(dir, "t2"), "--json");
    const out = JSON.parse(stdout);
    for (const part of ["siglip", "siglip2", "siglip2-naflex", "llm", "adapter", "adapter-chat"]) {
      expect(fs.existsSync(out.parts[part]), part).toBe(true);
    }
  });

  it("classify --json gives per image its path and sigmoid scores", async () => {
    const { stdout } = await vlmkit(
      "classify",
      img,
      img,
      "--labels",
      "red,blue,a cat",
      "--encoder",
      path.join(dir, "t", "siglip2"),
      "--json",
    );
    const rows = JSON.parse(stdout);
    expect(rows).toHaveLength(2);
    expect(rows[0].path).toBe(img);
    expect(rows[0].results.map((r: { label: string }) => r.label).sort()).toEqual(["a cat", "blue", "red"]);
    for (const r of rows[0].results) {
      expect(r.score).toBeGreaterThan(0);
      expect(r.score).toBeLessThan(1);
    }
  });

  it("embed --out writes unit-norm vectors as JSON Lines", async () => {
    const out = path.join(dir, "vectors.jsonl");
    await vlmkit("embed", img, "--encoder", path.join(dir, "t", "siglip2-naflex"), "--out", out);
    const [line] = fs.readFileSync(out, "utf8").trim().split("\n");
    const { path: p, embedding } = JSON.parse(line);
    expect(p).toBe(img);
    expect(Math.hypot(...embedding)).toBeCloseTo(1, 4);
  });

  it("ask --json answers through the whole pipeline", async () => {
    const t = path.join(dir, "t");
    const { stdout } = await vlmkit(
      "ask",
      img,
      "what is this?",
      "--encoder",
      path.join(t, "siglip2"),
      "--adapter",
      path.join(t, "adapter"),
      "--llm",
      path.join(t, "gemma3.gguf"),
      "--max-tokens",
      "5",
      "--json",
    );
    const r = JSON.parse(stdout);
    expect(["stop", "length"]).toContain(r.finishReason);
    expect(r.usage.completionTokens).toBeLessThanOrEqual(5);
    expect(r.usage.promptTokens).toBeGreaterThan(16);
  });

  it("chat reads scripted input: /image, a question, /clear, unknown commands, /quit", async () => {
    const t = path.join(dir, "t");
    const child = spawn(process.execPath, [
      ...CLI,
      "chat",
      "--encoder",
      path.join(t, "siglip2-naflex"),
      "--adapter",
      path.join(t, "adapter-chat"),
      "--llm",
      path.join(t, "gemma3.gguf"),
      "--max-tokens",
      "4",
    ]);
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stdin.end(`/image ${img}\nwhat is this?\n/image /does/not/exist.png\n/clear\n/nope\n/quit\n`);
    const code = await new Promise((r) => child.on("close", r));
    expect(code).toBe(0);
    expect(out).toContain("attached");
    expect(out).toMatch(/cannot read image file \/does\/not\/exist\.png/);
    expect(out).toContain("conversation cleared");
    expect(out).toContain("unknown command /nope");
  });

  it("shapes → train → ask --adapter <out> alone; a second train is refused, --resume says finished, eval --split val takes the held-out rows", async () => {
    const t = path.join(dir, "t");
    const data = path.join(dir, "shapes");
    const made = JSON.parse((await vlmkit("shapes", data, "--count", "12", "--json")).stdout);
    expect(fs.existsSync(made.file)).toBe(true);
    const out = path.join(dir, "trained");
    const trainArgs = [
      "train",
      "--data",
      made.file,
      "--encoder",
      path.join(t, "siglip2"),
      "--llm",
      path.join(t, "gemma3.gguf"),
      "--out",
      out,
      "--epochs",
      "1",
      "--samples",
      "1",
    ];
    const trained = await vlmkit(...trainArgs);
    const last = trained.stdout.trim().split("\n").at(-1)!;
    expect(last).toContain(`adapter ${out}`);
    expect(last).toContain(path.join(out, "loss.png"));
    expect(last).toContain(path.join(out, "metrics.jsonl"));
    // The local parts were carried into the adapter directory, which now runs alone.
    const card = JSON.parse(fs.readFileSync(path.join(out, "adapter.json"), "utf8"));
    expect(card.encoder.source.path).toBe("siglip2");
    expect(card.llm.source.path).toBe("gemma3.gguf");

    const again = await vlmkitFails(...trainArgs);
    expect(again.stderr).toMatch(/already holds an adapter .*--overwrite.*--resume/);

    const resumed = await vlmkit(...trainArgs, "--resume");
    expect(resumed.stdout).toMatch(/had already finished all \d+ steps; nothing to resume/);
    expect(resumed.stdout + resumed.stderr).not.toMatch(/NaN/);

    const image = path.join(data, JSON.parse(fs.readFileSync(made.file, "utf8").split("\n")[0]).image);
    const asked = JSON.parse(
      (
        await vlmkit(
          "ask",
          image,
          "what color is the shape?",
          "--adapter",
          out,
          "--max-tokens",
          "3",
          "--json",
        )
      ).stdout,
    );
    expect(["stop", "length"]).toContain(asked.finishReason);

    const held = (await loadDataset(made.file, { valFraction: 0.1, seed: 0, onReport: () => {} })).val;
    expect(held.length).toBeGreaterThan(0);
    const evaluated = JSON.parse(
      (await vlmkit("eval", "--data", made.file, "--adapter", out, "--split", "val", "--json")).stdout,
    );
    expect(evaluated.examples).toBe(held.length);
    expect(evaluated.answers.map((a: { id: string }) => a.id)).toEqual(
      (await held.toArray()).map((e) => e.id),
    );
  }, 480_000); // seven CLI runs, training twice

  it("models --json lists known models with their cache state, and the local adapters and bundles", async () => {
    const { stdout } = await vlmkit("models", "--json");
    const { models, adapters } = JSON.parse(stdout);
    expect(models.some((m: { id: string }) => m.id === "siglip2-base-patch16-224")).toBe(true);
    expect(adapters).toContainEqual(
      expect.objectContaining({ name: "shapes", kind: "bundle", standalone: true }),
    );
  });

  it("bad input exits 1 with a message naming the problem", async () => {
    const enc = path.join(dir, "t", "siglip2");
    let r = await vlmkitFails("classify", path.join(dir, "missing.png"), "--labels", "a", "--encoder", enc);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/missing\.png/);
    r = await vlmkitFails("classify", img, "--labels", " , ", "--encoder", enc);
    expect(r.stderr).toMatch(/--labels " , " holds no label/);
    r = await vlmkitFails("classify", img, "--labels", "a", "--encoder", enc, "--dtype", "q9");
    expect(r.stderr).toMatch(/unknown dtype "q9"/);
    r = await vlmkitFails("embed", img, "--encoder", path.join(dir, "nowhere"));
    expect(r.stderr).toMatch(/nowhere/);
  });
});
