// The package as a user gets it: `npm pack`, unpack the tarball into a fresh project's node_modules,
// import every public entry point by its package name, and run the CLI from the installed copy.
// Dependencies are linked from this checkout's node_modules instead of downloaded; the install
// script's one product (the addon, built by `npm install`) is copied, as installing would build it.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = path.join(import.meta.dirname, "..");
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
let project: string;
let installed: string;

beforeAll(() => {
  project = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-pack-"));
  // `npm pack` runs `prepare` (the TypeScript build), so the tarball holds the current sources.
  const out = execFileSync("npm", ["pack", "--json", "--pack-destination", project], {
    cwd: ROOT,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  const [{ filename }] = JSON.parse(out.slice(out.indexOf("[")));
  installed = path.join(project, "node_modules", "vlmkit");
  fs.mkdirSync(installed, { recursive: true });
  execFileSync("tar", ["-xzf", path.join(project, filename), "-C", installed, "--strip-components=1"]);
  for (const dep of Object.keys(pkg.dependencies)) {
    const link = path.join(project, "node_modules", dep);
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(path.join(ROOT, "node_modules", dep), link, "dir");
  }
  const addon = path.join("native", "build", "vlmkit_llama.node");
  fs.mkdirSync(path.join(installed, "native", "build"), { recursive: true });
  fs.copyFileSync(path.join(ROOT, addon), path.join(installed, addon));
  fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ type: "module", private: true }));
}, 300_000);

afterAll(() => {
  if (project) fs.rmSync(project, { recursive: true, force: true });
});

/** Runs an ES module in the project folder and returns its stdout. */
function runModule(code: string): string {
  const file = path.join(project, `check-${Math.random().toString(36).slice(2)}.mjs`);
  fs.writeFileSync(file, code);
  const r = spawnSync(process.execPath, [file], { cwd: project, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`module failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

describe("the packed package", () => {
  it("ships what it needs and no build leftovers", () => {
    const has = (p: string) => fs.existsSync(path.join(installed, p));
    for (const p of ["bin/vlmkit.js", "dist/index.js", "dist/index.d.ts", "native/build.mjs", "native/src"]) {
      expect(has(p), p).toBe(true);
    }
    expect(has("adapters/shapes/adapter.json")).toBe(true);
    expect(has("models/demo/siglip2/config.json")).toBe(true);
    expect(has("src/server/web/index.html")).toBe(true); // the web page's static files
    expect(has("src/vlm.ts")).toBe(false);
    expect(has("test")).toBe(false);
    expect(has("native/include")).toBe(false);
  });

  it("imports every public entry point by name", () => {
    const entries = Object.keys(pkg.exports).filter((e) => e !== "./package.json");
    expect(entries).toEqual(
      ["."].concat(["server", "train", "graph", "native", "tiny"].map((n) => `./${n}`)),
    );
    const names = entries.map((e) => (e === "." ? "vlmkit" : `vlmkit/${e.slice(2)}`));
    const out = runModule(
      `const names = ${JSON.stringify(names)};\n` +
        "const result = {};\n" +
        "for (const n of names) result[n] = Object.keys(await import(n)).sort();\n" +
        "console.log(JSON.stringify(result));\n",
    );
    const exported: Record<string, string[]> = JSON.parse(out);
    expect(exported.vlmkit).toEqual(
      expect.arrayContaining(["Siglip", "Vlm", "Llm", "loadAdapter", "VlmkitError"]),
    );
    expect(exported["vlmkit/server"]).toEqual(
      expect.arrayContaining(["createApp", "listen", "ServedModels"]),
    );
    expect(exported["vlmkit/train"]).toEqual(expect.arrayContaining(["trainAdapter", "evaluateAdapter"]));
    expect(exported["vlmkit/graph"]).toEqual(expect.arrayContaining(["Graph", "gradients", "saveModel"]));
    expect(exported["vlmkit/native"]).toEqual(expect.arrayContaining(["NativeContext", "GenerationEngine"]));
    expect(exported["vlmkit/tiny"]).toEqual(
      expect.arrayContaining(["writeTinySiglip", "writeTinyGemma3Gguf"]),
    );
    // Internals stay private: the main entry does not leak the low-level layers.
    for (const internal of [
      "NativeContext",
      "Graph",
      "createApp",
      "trainAdapter",
      "AdamW",
      "writeTinySiglip",
    ]) {
      expect(exported.vlmkit, internal).not.toContain(internal);
    }
  });

  it("refuses deep imports of files outside the entry points", () => {
    const out = runModule(
      "try { await import('vlmkit/dist/llm/native.js'); console.log('imported'); }\n" +
        "catch (e) { console.log(e.code); }\n",
    );
    expect(out.trim()).toBe("ERR_PACKAGE_PATH_NOT_EXPORTED");
  });

  it("runs the CLI from the installed copy on the bundled demo models", () => {
    const cli = path.join(installed, "bin", "vlmkit.js");
    const help = spawnSync(process.execPath, [cli, "--help"], { cwd: project, encoding: "utf8" });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toContain("classify");
    const image = path.join(installed, "models", "demo", "siglip2");
    const red = path.join(project, "red.png");
    runModule(
      `import sharp from "sharp";\n` +
        `await sharp({ create: { width: 32, height: 32, channels: 3, background: { r: 230, g: 10, b: 10 } } }).png().toFile(${JSON.stringify(red)});\n`,
    );
    const run = spawnSync(
      process.execPath,
      [cli, "classify", red, "--labels", "red,blue", "--encoder", image, "--json"],
      { cwd: project, encoding: "utf8" },
    );
    expect(run.status, run.stderr).toBe(0);
    const parsed = JSON.parse(run.stdout);
    expect(JSON.stringify(parsed)).toContain('"label":"red"');
  });
});
