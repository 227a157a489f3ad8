/**
 * Builds llama.cpp's own tools — the peers vlmkit is measured and checked against — from the llama.cpp
 * source bundled in node-llama-cpp (the same commit as the libllama it loads), once per machine:
 *
 *   <cache>/<commit>/bin/{llama-bench,llama-server,llama-mtmd-cli,llama-quantize}
 *
 * `<cache>` is `$VLMKIT_LLAMA_TOOLS`, default `~/.cache/vlmkit/llama.cpp` (src/env.ts). The default
 * build is llama.cpp's own default for a local build: Release, `GGML_NATIVE` (-march=native) and OpenMP;
 * `--no-openmp` builds the same with ggml's own threadpool into `bin-no-openmp/` (node-llama-cpp's
 * prebuilt CPU backends are built that way). Binaries link llama.cpp statically, so each one is a single
 * self-contained file; each is built in a temporary folder and renamed into place when complete, and a
 * lock file makes concurrent callers (two test files, two worktrees) wait for one build instead of
 * building twice. Needs git, cmake and a C++ compiler; a missing one is named in the error.
 *
 * CLI:     npm run llama-tools -- [--tools llama-bench,llama-server] [--no-openmp] [--jobs 2]
 *          prints `<tool> <absolute path>` per line on stdout, progress on stderr.
 * Library: `await llamaTool("llama-mtmd-cli")` → absolute path, building it on first use.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { BundleError, extractBundle, llamaBundle, run } from "../native/llama-bundle.mjs";
import { llamaToolsDir } from "../src/env.js";

export const LLAMA_TOOLS = ["llama-bench", "llama-server", "llama-mtmd-cli", "llama-quantize"] as const;
export type LlamaToolName = (typeof LLAMA_TOOLS)[number];

export interface LlamaToolsOptions {
  /** Build with OpenMP (llama.cpp's default). Default true; false builds into `bin-no-openmp/`. */
  openmp?: boolean;
  /** Parallel compile jobs. Default 2. */
  jobs?: number;
  /** Cache root. Default `llamaToolsDir()` from src/env.ts. */
  cacheDir?: string;
  /** Progress messages. Default: stderr. */
  log?: (message: string) => void;
}

/** What a bin folder was built from, written next to the binaries as build-info.json. */
export interface LlamaToolsBuildInfo {
  commit: string;
  cmakeFlags: string[];
  tools: string[];
  seconds: number;
  builtAt: string;
}

export class LlamaToolsError extends Error {
  override name = "LlamaToolsError";
}

function isToolName(name: string): name is LlamaToolName {
  return (LLAMA_TOOLS as readonly string[]).includes(name);
}

/** The bin folder for the bundled commit and the chosen variant (nothing is built). */
export function llamaToolsBinDir(options: LlamaToolsOptions = {}): string {
  const { commit } = llamaBundle();
  return path.join(
    options.cacheDir ?? llamaToolsDir(),
    commit,
    options.openmp === false ? "bin-no-openmp" : "bin",
  );
}

/** The cmake flags of a variant: Release, -march=native, static, no network code, only what the tools need. */
export function cmakeFlags(openmp: boolean): string[] {
  return [
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DGGML_NATIVE=ON",
    `-DGGML_OPENMP=${openmp ? "ON" : "OFF"}`,
    // No network code and no download at build time: LLAMA_CURL is gone at this commit (a deprecation
    // warning only), HTTPS is off, and the server's web UI is not fetched from the hub.
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_TOOLS=ON",
    "-DLLAMA_BUILD_SERVER=ON",
  ];
}

/** Absolute path of one tool, building the missing default tools on first use (minutes). */
export async function llamaTool(name: LlamaToolName, options: LlamaToolsOptions = {}): Promise<string> {
  if (!isToolName(name))
    throw new LlamaToolsError(`unknown llama.cpp tool "${name}"; known: ${LLAMA_TOOLS.join(", ")}`);
  const bin = llamaToolsBinDir(options);
  const file = path.join(bin, name);
  if (fs.existsSync(file)) return file;
  // The first build compiles ggml and llama for every default tool at once, so later tools are free.
  const paths = await buildLlamaTools([...LLAMA_TOOLS], options);
  return paths[name];
}

/** The build info of a variant's bin folder, if it was built. */
export function llamaToolsBuildInfo(options: LlamaToolsOptions = {}): LlamaToolsBuildInfo | undefined {
  const file = path.join(llamaToolsBinDir(options), "build-info.json");
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as LlamaToolsBuildInfo) : undefined;
}

/** Builds those of `tools` that are not cached yet; returns every requested tool's absolute path. */
export async function buildLlamaTools(
  tools: readonly LlamaToolName[],
  options: LlamaToolsOptions = {},
): Promise<Record<LlamaToolName, string>> {
  const log = options.log ?? ((m: string) => process.stderr.write(`llama-tools: ${m}\n`));
  for (const t of tools)
    if (!isToolName(t))
      throw new LlamaToolsError(`unknown llama.cpp tool "${t}"; known: ${LLAMA_TOOLS.join(", ")}`);
  const bin = llamaToolsBinDir(options);
  const paths = Object.fromEntries(tools.map((t) => [t, path.join(bin, t)])) as Record<LlamaToolName, string>;
  const missing = () => tools.filter((t) => !fs.existsSync(paths[t]));
  if (missing().length === 0) return paths;

  fs.mkdirSync(path.dirname(bin), { recursive: true });
  const release = await acquireLock(`${bin}.lock`, log);
  try {
    const todo = missing(); // another process may have built them while we waited for the lock
    if (todo.length > 0) await build(todo, bin, options, log);
  } finally {
    release();
  }
  const still = missing();
  if (still.length > 0) throw new LlamaToolsError(`the build finished without ${still.join(", ")} in ${bin}`);
  return paths;
}

function checkPrerequisites(): void {
  const missing: string[] = [];
  for (const [cmd, args] of [
    ["git", ["--version"]],
    ["cmake", ["--version"]],
    [process.env.CXX || "c++", ["--version"]],
  ] as const) {
    try {
      run(cmd, [...args]);
    } catch {
      missing.push(cmd);
    }
  }
  if (missing.length > 0)
    throw new LlamaToolsError(
      `cannot build the llama.cpp tools: ${missing.join(", ")} not found on PATH ` +
        "(Debian/Ubuntu: apt-get install -y git cmake g++)",
    );
}

async function build(
  tools: LlamaToolName[],
  bin: string,
  options: LlamaToolsOptions,
  log: (message: string) => void,
): Promise<void> {
  checkPrerequisites();
  const openmp = options.openmp !== false;
  const jobs = options.jobs ?? 2;
  const started = performance.now();
  // The temporary folder sits next to bin/ so that the final renames stay on one file system.
  const work = fs.mkdtempSync(path.join(path.dirname(bin), ".build-"));
  const logFile = path.join(work, "build.log");
  try {
    const src = path.join(work, "llama.cpp");
    fs.mkdirSync(src);
    let commit: string;
    try {
      commit = extractBundle(src);
    } catch (error) {
      if (error instanceof BundleError) throw new LlamaToolsError(error.message);
      throw error;
    }
    const flags = cmakeFlags(openmp);
    const generator = hasNinja() ? ["-G", "Ninja"] : [];
    log(
      `building ${tools.join(", ")} from llama.cpp ${commit.slice(0, 12)} with -j${jobs} (log: ${logFile})`,
    );
    await runLogged("cmake", ["-S", src, "-B", path.join(work, "build"), ...generator, ...flags], logFile);
    await runLogged(
      "cmake",
      ["--build", path.join(work, "build"), "--config", "Release", "-j", String(jobs), "--target", ...tools],
      logFile,
    );
    fs.mkdirSync(bin, { recursive: true });
    for (const tool of tools) {
      const built = path.join(work, "build", "bin", tool);
      if (!fs.existsSync(built)) throw new LlamaToolsError(`cmake did not produce ${built}; see ${logFile}`);
      const tmp = path.join(bin, `.${tool}.${process.pid}.tmp`);
      fs.copyFileSync(built, tmp);
      fs.chmodSync(tmp, 0o755);
      fs.renameSync(tmp, path.join(bin, tool));
    }
    const seconds = (performance.now() - started) / 1000;
    const previous = llamaToolsBuildInfo(options);
    const info: LlamaToolsBuildInfo = {
      commit,
      cmakeFlags: flags,
      tools: [...new Set([...(previous?.tools ?? []), ...tools])].sort(),
      seconds: Math.round(seconds),
      builtAt: new Date().toISOString(),
    };
    const infoTmp = path.join(bin, `.build-info.${process.pid}.tmp`);
    fs.writeFileSync(infoTmp, `${JSON.stringify(info, null, 2)}\n`);
    fs.renameSync(infoTmp, path.join(bin, "build-info.json"));
    log(`built ${tools.join(", ")} in ${seconds.toFixed(0)} s → ${bin}`);
  } catch (error) {
    if (fs.existsSync(logFile)) {
      const tail = fs.readFileSync(logFile, "utf8").split("\n").slice(-40).join("\n");
      log(`build failed; last lines of the log:\n${tail}`);
    }
    throw error;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function hasNinja(): boolean {
  try {
    run("ninja", ["--version"]);
    return true;
  } catch {
    return false;
  }
}

function runLogged(cmd: string, args: string[], logFile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const out = fs.openSync(logFile, "a");
    fs.writeSync(out, `$ ${cmd} ${args.join(" ")}\n`);
    const child = spawn(cmd, args, { stdio: ["ignore", out, out] });
    child.on("error", (error: NodeJS.ErrnoException) => {
      fs.closeSync(out);
      reject(
        new LlamaToolsError(
          error.code === "ENOENT"
            ? `"${cmd}" was not found on PATH`
            : `${cmd} failed to start: ${error.message}`,
        ),
      );
    });
    child.on("close", (code) => {
      fs.closeSync(out);
      if (code === 0) resolve();
      else
        reject(
          new LlamaToolsError(`${cmd} ${args.slice(0, 2).join(" ")} … exited with ${code}; see ${logFile}`),
        );
    });
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * An exclusive lock file holding the owner's pid and host. A lock left by a process that no longer runs
 * (on this host) is taken over; otherwise the caller waits, polling, for as long as the build takes.
 */
async function acquireLock(file: string, log: (message: string) => void): Promise<() => void> {
  const me = `${process.pid} ${os.hostname()}`;
  let announced = false;
  for (;;) {
    try {
      fs.writeFileSync(file, me, { flag: "wx" });
      return () => fs.rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    let owner = "";
    try {
      owner = fs.readFileSync(file, "utf8");
    } catch {
      continue; // released between our two calls
    }
    const [pid, host] = owner.split(" ");
    if (host === os.hostname() && !pidAlive(Number(pid))) {
      fs.rmSync(file, { force: true }); // stale: its builder died
      continue;
    }
    if (!announced) log(`waiting for the build by process ${pid} (${file})`);
    announced = true;
    await new Promise((r) => setTimeout(r, 2000));
  }
}

async function main(argv: string[]): Promise<void> {
  let tools: LlamaToolName[] = [...LLAMA_TOOLS];
  const options: LlamaToolsOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--tools") {
      const list = (argv[++i] ?? "").split(",").filter(Boolean);
      const unknown = list.filter((t) => !isToolName(t));
      if (unknown.length > 0 || list.length === 0)
        throw new LlamaToolsError(`--tools takes a comma-separated list of: ${LLAMA_TOOLS.join(", ")}`);
      tools = list as LlamaToolName[];
    } else if (arg === "--no-openmp") options.openmp = false;
    else if (arg === "--jobs") {
      options.jobs = Number(argv[++i]);
      if (!Number.isInteger(options.jobs) || options.jobs < 1)
        throw new LlamaToolsError("--jobs takes a positive integer");
    } else
      throw new LlamaToolsError(
        `unknown argument "${arg}"; usage: llama-tools [--tools a,b] [--no-openmp] [--jobs N]`,
      );
  }
  const paths = await buildLlamaTools(tools, options);
  for (const t of tools) process.stdout.write(`${t} ${paths[t]}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((error) => {
    process.stderr.write(`llama-tools: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
