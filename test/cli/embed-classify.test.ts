// `vlmkit embed` with texts and `vlmkit classify` with directories and a labels file, on the
// committed demo encoder (models/demo/siglip2), run as a user runs them.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scoreText } from "../../src/cli/commands/classify.js";

const run = promisify(execFile);
const ROOT = path.join(import.meta.dirname, "..", "..");
const CLI = ["--import", "tsx", path.join(ROOT, "test", "helpers", "cli.ts")];
const ENCODER = path.join(ROOT, "models", "demo", "siglip2");
const EXAMPLES = path.join(ROOT, "examples", "images");
let dir: string;

async function vlmkit(...args: string[]) {
  return run(process.execPath, [...CLI, ...args, "--encoder", ENCODER, "--threads", "1"], {
    env: { ...process.env, HF_HUB_OFFLINE: "1", VLMKIT_CACHE: path.join(dir, "cache") },
    timeout: 120_000,
  });
}

async function vlmkitFails(...args: string[]): Promise<string> {
  const err = await vlmkit(...args).then(
    () => undefined,
    (e) => e,
  );
  expect(err, "the command should have failed").toBeDefined();
  expect(err.code).toBe(1);
  return String(err.stderr);
}

const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0);

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-embed-cli-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("vlmkit embed with texts", () => {
  it("embeds repeated --text and a --texts-file into unit vectors of the image space", async () => {
    const file = path.join(dir, "texts.txt");
    fs.writeFileSync(file, "a green triangle\n\nred, round things\r\n");
    const { stdout } = await vlmkit(
      "embed",
      path.join(EXAMPLES, "blue-square.png"),
      "--text",
      "a blue square",
      "--text",
      "a red circle",
      "--texts-file",
      file,
      "--json",
    );
    const rows = JSON.parse(stdout);
    expect(rows.map((r: { path?: string; text?: string }) => r.path ?? r.text)).toEqual([
      path.join(EXAMPLES, "blue-square.png"),
      "a blue square",
      "a red circle",
      "a green triangle",
      "red, round things",
    ]);
    for (const r of rows) {
      expect(r.dims).toBe(rows[0].dims);
      expect(Math.hypot(...r.embedding)).toBeCloseTo(1, 4);
    }
    // Same text twice (in one run and the next) gives the same vector.
    const again = JSON.parse((await vlmkit("embed", "--text", "a red circle", "--json")).stdout);
    expect(dot(again[0].embedding, rows[2].embedding)).toBeCloseTo(1, 5);
  });

  it("--text takes one value: a positional after it stays an image", async () => {
    const { stdout } = await vlmkit(
      "embed",
      "--text",
      "a blue square",
      path.join(EXAMPLES, "red-circle.png"),
      "--json",
    );
    const rows = JSON.parse(stdout);
    expect(rows.map((r: { path?: string }) => r.path ?? "text")).toEqual([
      path.join(EXAMPLES, "red-circle.png"),
      "text",
    ]);
  });

  it("refuses no input, an empty texts file and an overlong text", async () => {
    expect(await vlmkitFails("embed")).toMatch(/embed needs images, --text <text> or --texts-file <file>/);
    const empty = path.join(dir, "empty.txt");
    fs.writeFileSync(empty, "\n \n");
    expect(await vlmkitFails("embed", "--texts-file", empty)).toMatch(
      /--texts-file .*empty\.txt holds no line/,
    );
    expect(await vlmkitFails("embed", "--texts-file", path.join(dir, "nope.txt"))).toMatch(/no such file/);
    expect(await vlmkitFails("embed", "--text", "x".repeat(1025))).toMatch(
      /--text 1: the text is 1025 characters long; at most 1024/,
    );
  });
});

describe("vlmkit classify with directories and --labels-file", () => {
  it("reads the images of a directory in name order and labels with commas from a file", async () => {
    const labels = path.join(dir, "labels.txt");
    fs.writeFileSync(labels, "red circle\nblue square\ngreen, pointy triangle\n");
    const { stdout } = await vlmkit("classify", EXAMPLES, "--labels-file", labels, "--json");
    const rows = JSON.parse(stdout);
    const expected = fs
      .readdirSync(EXAMPLES)
      .filter((f) => f.endsWith(".png"))
      .sort()
      .map((f) => path.join(EXAMPLES, f));
    expect(rows.map((r: { path: string }) => r.path)).toEqual(expected);
    expect(rows[0].results.map((r: { label: string }) => r.label).sort()).toEqual([
      "blue square",
      "green, pointy triangle",
      "red circle",
    ]);
  });

  it("prints scores that differ visibly: 4 significant digits and the logit", async () => {
    const { stdout } = await vlmkit(
      "classify",
      EXAMPLES,
      "--labels",
      "red circle,blue square,green triangle",
    );
    const scores = [...stdout.matchAll(/^ {2}(\S+) +logit +(-?\d+\.\d\d) {2}(.+)$/gm)];
    expect(scores).toHaveLength(9);
    for (const [, score, logit] of scores) {
      // The logit of the printed score, to the printed digits.
      expect(Math.log(Number(score) / (1 - Number(score)))).toBeCloseTo(Number(logit), 1);
    }
    // The random-weight demo encoder gives scores near 1e-5: still distinct per image.
    expect(new Set(scores.slice(0, 3).map((m) => m[1])).size).toBe(3);
    expect(scoreText(0.93121)).toBe("0.9312    logit   2.61");
    expect(scoreText(1.289e-5)).toBe("1.289e-5  logit -11.26");
  });

  it("says what is wrong with an empty directory or missing labels", async () => {
    const empty = path.join(dir, "no-images");
    fs.mkdirSync(empty);
    fs.writeFileSync(path.join(empty, "notes.txt"), "x");
    expect(await vlmkitFails("classify", empty, "--labels", "a")).toMatch(/no-images holds no image/);
    expect(await vlmkitFails("classify", EXAMPLES)).toMatch(
      /classify needs --labels "a,b,c" or --labels-file/,
    );
  });
});
