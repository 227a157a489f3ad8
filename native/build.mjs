#!/usr/bin/env node
// Builds native/build/vlmkit_llama.node, the addon that feeds input embeddings to llama.cpp.
//
// Runs as the package's `install` script. It never fails the install: without a compiler, git or
// node-llama-cpp it prints why and exits 0, and the LLM features report that the addon is missing.
// Pass --strict to exit 1 instead (CI, or when debugging the build).
//
// 1. Headers: `include/llama.h` and `ggml/include/*.h` are read from the llama.cpp source bundle that
//    ships with node-llama-cpp (llama/gitRelease.bundle), so struct layouts match its binaries exactly.
//    They go to native/include/ (gitignored) and are re-extracted only when the bundle's commit changes.
// 2. Compile: one g++ call over a unity source (node-addon-api's headers dominate compile time, so they
//    are parsed once); skipped when the addon is newer than its sources. The addon links no llama.cpp
//    library: it resolves symbols at run time. --force rebuilds.
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { BundleError, extractBundle, llamaBundle, run } from "./llama-bundle.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const strict = process.argv.includes("--strict");
const quiet = process.argv.includes("--quiet");
const force = process.argv.includes("--force");
const includeDir = path.join(here, "include");
const outDir = path.join(here, "build");
const outFile = path.join(outDir, "vlmkit_llama.node");
const sourceDir = path.join(here, "src");
const sources = ["addon.cc", "llama-api.cc", "model.cc", "context.cc", "sampler.cc", "decode-thread.cc"];

function log(message) {
  if (!quiet) console.log(`vlmkit native: ${message}`);
}

function extractHeaders() {
  const { commit } = llamaBundle();
  const stamp = path.join(includeDir, ".commit");
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, "utf8").trim() === commit) {
    log(`headers up to date (llama.cpp ${commit.slice(0, 12)})`);
    return commit;
  }
  fs.rmSync(includeDir, { recursive: true, force: true });
  fs.mkdirSync(includeDir, { recursive: true });
  extractBundle(includeDir, ["include/llama.h", "ggml/include"]);
  fs.writeFileSync(stamp, `${commit}\n`);
  log(`headers extracted from llama.cpp ${commit.slice(0, 12)}`);
  return commit;
}

/** Node's own headers: <prefix>/include/node next to the running binary, else npm's `nodedir`. */
function nodeHeadersDir() {
  const candidates = [
    path.join(path.dirname(process.execPath), "..", "include", "node"),
    process.env.npm_config_nodedir && path.join(process.env.npm_config_nodedir, "include", "node"),
  ].filter(Boolean);
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, "node_api.h")));
  if (!found) throw new BundleError(`Node.js headers (node_api.h) not found in: ${candidates.join(", ")}`);
  return found;
}

function addonApiDir() {
  const require = createRequire(import.meta.url);
  try {
    return path.dirname(require.resolve("node-addon-api/package.json"));
  } catch {
    throw new BundleError("node-addon-api is not installed");
  }
}

/** True when the built addon is newer than every source, header and the extracted llama.cpp headers. */
function upToDate() {
  if (force || !fs.existsSync(outFile)) return false;
  const built = fs.statSync(outFile).mtimeMs;
  const inputs = fs.readdirSync(sourceDir).map((f) => path.join(sourceDir, f));
  inputs.push(
    path.join(includeDir, ".commit"),
    fileURLToPath(import.meta.url),
    path.join(here, "llama-bundle.mjs"),
  );
  return inputs.every((f) => fs.statSync(f).mtimeMs < built);
}

function compile() {
  if (process.platform !== "linux")
    throw new BundleError(`platform "${process.platform}" is not supported yet`);
  const cxx = process.env.CXX || "g++";
  fs.mkdirSync(outDir, { recursive: true });
  const unity = path.join(outDir, "unity.cc");
  fs.writeFileSync(unity, sources.map((f) => `#include "${path.join(sourceDir, f)}"\n`).join(""));
  const tmpOut = `${outFile}.${process.pid}.tmp`;
  const args = [
    "-std=c++17",
    "-O2",
    "-fPIC",
    "-shared",
    "-fvisibility=hidden",
    "-Wall",
    "-Wno-deprecated-declarations",
    "-DNAPI_VERSION=8",
    "-DNAPI_CPP_EXCEPTIONS",
    "-DNODE_ADDON_API_DISABLE_DEPRECATED",
    `-I${nodeHeadersDir()}`,
    `-I${addonApiDir()}`,
    `-I${path.join(includeDir, "include")}`,
    `-I${path.join(includeDir, "ggml", "include")}`,
    `-I${sourceDir}`,
    unity,
    "-o",
    tmpOut,
    "-ldl",
  ];
  run(cxx, args, { cwd: here });
  fs.renameSync(tmpOut, outFile); // atomic: a process loading the addon never sees half a file
}

const started = performance.now();
try {
  extractHeaders();
  if (upToDate()) {
    log(`${path.relative(process.cwd(), outFile)} is up to date (--force rebuilds)`);
    process.exit(0);
  }
  compile();
  log(
    `built ${path.relative(process.cwd(), outFile)} in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
} catch (error) {
  if (!(error instanceof BundleError)) throw error;
  console.warn(`vlmkit native: the llama.cpp addon was not built: ${error.message}`);
  console.warn("vlmkit native: everything else works; LLM features will report that the addon is missing.");
  console.warn("vlmkit native: install g++ and git, then run `node native/build.mjs --strict`.");
  process.exit(strict ? 1 : 0);
}
