// Every `--flag` that the docs or an error message names exists: as an option of a vlmkit command, or
// in the script or tool the text is about (bench/, scripts/, native/build.mjs, a few outside tools).
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { buildProgram } from "../../src/cli/main.js";

const ROOT = path.join(import.meta.dirname, "..", "..");

/** Flags of programs outside vlmkit that the docs and messages tell users to run. */
const OUTSIDE = new Map([
  ["--import", "node --import tsx"],
  ["--no", "npx --no"],
  ["--gpu", "npx node-llama-cpp source download --gpu cuda"],
  ["--token-embedding-type", "llama.cpp's llama-quantize"],
  ["--mmproj", "llama.cpp's llama-server and llama-mtmd-cli"],
  ["--image", "llama.cpp's llama-mtmd-cli"],
  ["--temp", "llama.cpp's llama-mtmd-cli"],
]);

/** `--name` written as a flag: not inside a word (`models--org--name`) or a CSS variable. */
const FLAG = /(?<![\w-])--[a-z][a-z0-9]*(?:-[a-z0-9]+)*(?![\w-])/g;

function filesUnder(dir: string, ext: RegExp): string[] {
  return fs
    .readdirSync(path.join(ROOT, dir), { recursive: true, encoding: "utf8" })
    .filter((f) => ext.test(f))
    .map((f) => path.join(dir, f));
}

function cliFlags(): Set<string> {
  const flags = new Set(["--help", "--version"]);
  // Commands nest (`vlmkit import mmproj`): walk the whole tree.
  const visit = (command: ReturnType<typeof buildProgram>): void => {
    for (const option of command.options) if (option.long) flags.add(option.long);
    for (const sub of command.commands) visit(sub);
  };
  visit(buildProgram());
  return flags;
}

/** Flags of the repository's own scripts: whatever their source mentions. */
function scriptText(): string {
  return [...filesUnder("scripts", /\.ts$/), ...filesUnder("bench", /\.ts$/), "native/build.mjs"]
    .map((f) => fs.readFileSync(path.join(ROOT, f), "utf8"))
    .join("\n");
}

/** Each flag with the places it occurs. */
function flagsIn(files: string[], onlyStrings: boolean): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of files) {
    const lines = fs.readFileSync(path.join(ROOT, file), "utf8").split("\n");
    lines.forEach((line, i) => {
      // In source, only text a user reads: string and template literals, not comments.
      if (onlyStrings && (/^\s*(\/\/|\*|\/\*)/.test(line) || !/["'`]/.test(line))) return;
      for (const flag of line.match(FLAG) ?? []) {
        found.set(flag, [...(found.get(flag) ?? []), `${file}:${i + 1}`]);
      }
    });
  }
  return found;
}

describe("flags named in docs and messages", () => {
  const known = cliFlags();
  const scripts = scriptText();
  const exists = (flag: string) =>
    known.has(flag) || OUTSIDE.has(flag) || new RegExp(`${flag}(?![\\w-])`).test(scripts);

  it("every --flag in README.md and docs/*.md exists", () => {
    const docs = ["README.md", ...filesUnder("docs", /\.md$/)];
    const missing = [...flagsIn(docs, false)].filter(([flag]) => !exists(flag));
    expect(missing).toEqual([]);
  });

  it("every --flag in src/ messages exists", () => {
    const missing = [...flagsIn(filesUnder("src", /\.ts$/), true)].filter(([flag]) => !exists(flag));
    expect(missing).toEqual([]);
  });

  it("finds a missing flag (the check itself works)", () => {
    expect(exists("--images")).toBe(false);
    expect(exists("--labels-file")).toBe(true);
    expect(exists("--background-load")).toBe(true); // bench/serve.ts
  });
});
