// The llama.cpp source that ships inside node-llama-cpp (llama/gitRelease.bundle, a git bundle with one
// commit: the source of the libllama node-llama-cpp loads). native/build.mjs reads its headers from
// here; scripts/llama-tools.ts builds the peer tools (llama-bench, llama-server, …) from the same commit.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";

/** A problem with the environment (missing tool, package or file), with a message that says which. */
export class BundleError extends Error {}

/** Runs a command, returning stdout; a missing command or a failure becomes a BundleError. */
export function run(cmd, args, options = {}) {
  try {
    return execFileSync(cmd, args, {
      stdio: [options.input ? "pipe" : "ignore", "pipe", "pipe"],
      maxBuffer: 256 * 1024 * 1024,
      ...options,
    });
  } catch (error) {
    if (error.code === "ENOENT")
      throw new BundleError(`"${cmd}" was not found on PATH; it is needed to build`);
    const stderr = error.stderr?.toString().trim() ?? "";
    throw new BundleError(`${cmd} ${args.slice(0, 3).join(" ")} … failed:\n${stderr.slice(-4000)}`);
  }
}

/** The installed node-llama-cpp package folder, found the way Node resolves it from here. */
export function nodeLlamaCppDir() {
  const require = createRequire(import.meta.url);
  let entry;
  try {
    entry = require.resolve("node-llama-cpp");
  } catch {
    throw new BundleError("node-llama-cpp is not installed; vlmkit's LLM runtime needs it");
  }
  let dir = path.dirname(entry);
  while (!fs.existsSync(path.join(dir, "package.json")) || path.basename(dir) !== "node-llama-cpp") {
    const parent = path.dirname(dir);
    if (parent === dir) throw new BundleError(`cannot find the node-llama-cpp folder above "${entry}"`);
    dir = parent;
  }
  return dir;
}

/** Path of the bundle and the commit it holds (40 hex digits). */
export function llamaBundle() {
  const bundle = path.join(nodeLlamaCppDir(), "llama", "gitRelease.bundle");
  if (!fs.existsSync(bundle)) throw new BundleError(`the llama.cpp source bundle "${bundle}" is missing`);
  const commit = run("git", ["bundle", "list-heads", bundle]).toString().trim().split(/\s+/)[0];
  if (!/^[0-9a-f]{40}$/.test(commit ?? ""))
    throw new BundleError(`unexpected heads in "${bundle}": "${commit}"`);
  return { bundle, commit };
}

/**
 * Extracts `paths` (all files when empty) of the bundle's commit into `destDir`, which must exist.
 * git archive cannot read a bundle directly, so its one commit is fetched into a throwaway bare repository.
 */
export function extractBundle(destDir, paths = []) {
  const { bundle, commit } = llamaBundle();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-llama-"));
  try {
    run("git", ["init", "-q", "--bare", tmp]);
    run("git", ["--git-dir", tmp, "fetch", "-q", "--no-tags", bundle, commit]);
    const tar = run("git", ["--git-dir", tmp, "archive", "--format=tar", commit, ...paths]);
    run("tar", ["-x", "-C", destDir], { input: tar });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return commit;
}
