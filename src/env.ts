/**
 * The one place vlmkit reads its environment. Everything else takes explicit options whose defaults
 * come from here, so a library user can override any of them without touching `process.env`.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

function env(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === "" ? undefined : v;
}

function envFlag(name: string): boolean {
  const v = env(name)?.toLowerCase();
  return v === "1" || v === "true" || v === "yes" || v === "on";
}

/** Hugging Face hub settings, named as huggingface_hub names them. */
export function hubConfig() {
  const hfHome = env("HF_HOME") ?? path.join(os.homedir(), ".cache", "huggingface");
  return {
    /** Base URL for `<endpoint>/<repo>/resolve/<rev>/<file>`; default https://huggingface.co. */
    endpoint: (env("HF_ENDPOINT") ?? "https://huggingface.co").replace(/\/+$/, ""),
    /** `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`. */
    cacheDir: env("HF_HUB_CACHE") ?? path.join(hfHome, "hub"),
    /** Bearer token for gated/private repos: `$HF_TOKEN`, else the file `$HF_HOME/token` if present. */
    token: env("HF_TOKEN") ?? env("HUGGING_FACE_HUB_TOKEN"),
    tokenFile: path.join(hfHome, "token"),
    /** `HF_HUB_OFFLINE=1`: never touch the network, use the cache only. */
    offline: envFlag("HF_HUB_OFFLINE"),
  };
}

/**
 * Physical cores are the right default thread count for llama.cpp and onnxruntime on CPU: more
 * threads than cores makes llama.cpp's spinning workers contend and decode orders of magnitude
 * slower. `$VLMKIT_THREADS` overrides.
 */
export function defaultThreads(): number {
  const fromEnv = Number(env("VLMKIT_THREADS"));
  if (Number.isInteger(fromEnv) && fromEnv > 0) return fromEnv;
  const available = Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
  return Math.min(available, physicalCores() ?? available);
}

/** Distinct (physical id, core id) pairs in /proc/cpuinfo (Linux), else undefined. */
function physicalCores(): number | undefined {
  let cpuinfo: string;
  try {
    cpuinfo = fs.readFileSync("/proc/cpuinfo", "utf8");
  } catch {
    return undefined;
  }
  const cores = new Set<string>();
  for (const block of cpuinfo.split(/\n\s*\n/)) {
    const core = /^core id\s*:\s*(\d+)/m.exec(block)?.[1];
    if (core !== undefined) cores.add(`${/^physical id\s*:\s*(\d+)/m.exec(block)?.[1] ?? 0}:${core}`);
  }
  return cores.size > 0 ? cores.size : undefined;
}

/** onnxruntime execution providers, in order of preference: `$VLMKIT_EXECUTION_PROVIDERS` (e.g. `cuda,cpu`), default `cpu`. */
export function executionProviders(): string[] {
  const list = (env("VLMKIT_EXECUTION_PROVIDERS") ?? "cpu")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return list.length > 0 ? list : ["cpu"];
}

/** Where vlmkit keeps derived data (feature caches). `$VLMKIT_CACHE`, default `~/.cache/vlmkit`. */
export function vlmkitCacheDir(): string {
  return env("VLMKIT_CACHE") ?? path.join(os.homedir(), ".cache", "vlmkit");
}

/**
 * Folders searched for adapters and bundles named by their folder name (`vlmkit run shapes`):
 * `$VLMKIT_ADAPTERS` (a list separated by the platform's path delimiter), default
 * `<vlmkit cache>/adapters`. The adapters shipped in the package are searched after these.
 */
export function adapterSearchDirs(): string[] {
  const list = env("VLMKIT_ADAPTERS");
  if (list !== undefined) return list.split(path.delimiter).filter(Boolean);
  return [path.join(vlmkitCacheDir(), "adapters")];
}

/**
 * Where the llama.cpp peer tools (llama-bench, llama-server, llama-mtmd-cli, llama-quantize) built by
 * scripts/llama-tools.ts are cached, one `<commit>/` folder per llama.cpp commit. `$VLMKIT_LLAMA_TOOLS`,
 * default `<vlmkit cache>/llama.cpp` (`~/.cache/vlmkit/llama.cpp`). Outside the clone, so every
 * worktree and checkout of the same commit shares one build.
 */
export function llamaToolsDir(): string {
  return env("VLMKIT_LLAMA_TOOLS") ?? path.join(vlmkitCacheDir(), "llama.cpp");
}

/**
 * Whether encoder files are rewritten into onnxruntime's fused ops before loading (`src/graph/optimize`,
 * cached under `<vlmkitCacheDir()>/optimized`). Default off: on onnxruntime's CPU provider the fused
 * graph measured no faster (bench/RESULTS.md); `VLMKIT_FUSE_GRAPHS=1` turns it on.
 */
export function fuseGraphsDefault(): boolean {
  return envFlag("VLMKIT_FUSE_GRAPHS");
}

/** Server settings that may come from the environment. */
export function serverEnv() {
  return {
    apiKey: env("VLMKIT_API_KEY"),
    logLevel: (env("VLMKIT_LOG_LEVEL") ?? "info") as "debug" | "info" | "warn" | "error" | "silent",
    /** Colour in terminal logs unless `NO_COLOR` is set (no-color.org). */
    color: env("NO_COLOR") === undefined,
  };
}
