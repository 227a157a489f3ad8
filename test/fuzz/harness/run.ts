/**
 * Runs a seeded fuzz campaign of one format in child processes (`worker.ts`). A case passes when the
 * parser returns or throws a named vlmkit error within the format's time bound and the worker's
 * memory bound; a crash (the worker dies), a hang (no answer in time), an error of another kind or
 * resident memory above the bound fails it, and the worker is replaced to go on with the next case.
 */
import { type ChildProcess, fork } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { formatByName } from "../formats/index.js";
import { type FuzzInput, mutateCase } from "./mutate.js";
import type { WorkerMessage, WorkerTask } from "./worker.js";

export interface FuzzOptions {
  format: string;
  /** Cases to run. Default: the format's suite count. */
  cases?: number;
  /** Run seed; case i of seed s is always the same input. Default 1. */
  seed?: number;
  /** First case index. Default 0. */
  from?: number;
  /** Resident set bound per worker in MiB; above it after a case, that case fails. Default 1024. */
  rssMb?: number;
  /** V8 heap bound per worker in MiB (an allocation past it kills the worker: a failure). Default 512. */
  heapMb?: number;
  /** Seeds are written here (made once and reused when the folder exists). Default: a temporary folder. */
  seedDir?: string;
}

export interface FuzzFailure {
  index: number;
  kind: "crash" | "hang" | "unnamed" | "memory";
  detail: string;
  seed: string;
  mutations: string[];
}

export interface FuzzReport {
  format: string;
  seed: number;
  cases: number;
  /** Cases the parser accepted. */
  ok: number;
  /** Cases refused with a named vlmkit error, by code. */
  named: Record<string, number>;
  failures: FuzzFailure[];
  /** Largest worker RSS seen after a case, MiB. */
  maxRssMb: number;
  ms: number;
}

const WORKER = path.join(import.meta.dirname, "worker.ts");
const STARTUP_MS = 120_000;

function forkWorker(heapMb: number): ChildProcess {
  return fork(WORKER, [], {
    execArgv: ["--import", "tsx", `--max-old-space-size=${heapMb}`],
    stdio: ["ignore", "ignore", "pipe", "ipc"],
    env: { ...process.env, VLMKIT_THREADS: "1" },
  });
}

/**
 * Workers kept between campaigns: a worker that ran its cases to the end without failing is handed
 * back and runs the next campaign (any format), so a run over many formats pays the worker's start-up
 * (~2 s of module loading) once instead of once per format. A worker that crashed, hung or grew
 * past the memory bound is never reused. `close` kills the idle ones.
 */
export class WorkerPool {
  private readonly idle: ChildProcess[] = [];

  take(heapMb: number): ChildProcess {
    for (let c = this.idle.pop(); c; c = this.idle.pop()) {
      if (c.exitCode === null && c.signalCode === null && c.connected) return c;
    }
    return forkWorker(heapMb);
  }

  give(child: ChildProcess): void {
    this.idle.push(child);
  }

  close(): void {
    for (const c of this.idle.splice(0)) if (c.exitCode === null) c.kill("SIGKILL");
  }
}

/** Runs one campaign; with a `pool`, its workers come from and go back to it. */
export async function runFuzz(options: FuzzOptions, pool?: WorkerPool): Promise<FuzzReport> {
  const format = formatByName(options.format);
  const seed = options.seed ?? 1;
  const from = options.from ?? 0;
  const to = from + (options.cases ?? format.suiteCases);
  const rssBytes = (options.rssMb ?? 1024) * 2 ** 20;
  const temporary = options.seedDir === undefined;
  const seedDir =
    options.seedDir ?? fs.mkdtempSync(path.join(os.tmpdir(), `vlmkit-fuzz-seeds-${format.name}-`));
  if (temporary || !fs.existsSync(path.join(seedDir, ".ready"))) {
    fs.mkdirSync(seedDir, { recursive: true });
    await format.prepare(seedDir);
    fs.writeFileSync(path.join(seedDir, ".ready"), "");
  }
  const seeds = await format.seeds(seedDir);
  const describe = (index: number): Pick<FuzzFailure, "seed" | "mutations"> => {
    const input: FuzzInput = mutateCase(seeds, seed, index);
    return { seed: input.seed.name, mutations: input.mutations };
  };
  const report: FuzzReport = {
    format: format.name,
    seed,
    cases: 0,
    ok: 0,
    named: {},
    failures: [],
    maxRssMb: 0,
    ms: 0,
  };
  const t0 = performance.now();
  let next = from;
  try {
    while (next < to) {
      next = await runWorker(
        { format: format.name, seedDir, seed, from: next, to },
        options.heapMb ?? 512,
        pool,
        format.timeoutMs,
        (m) => {
          report.cases++;
          report.maxRssMb = Math.max(report.maxRssMb, Math.round(m.rss / 2 ** 20));
          if (m.outcome === "ok") report.ok++;
          else if (m.outcome === "named") report.named[m.code!] = (report.named[m.code!] ?? 0) + 1;
          else
            report.failures.push({
              index: m.index,
              kind: "unnamed",
              detail: m.message!,
              ...describe(m.index),
            });
          if (m.rss > rssBytes) {
            report.failures.push({
              index: m.index,
              kind: "memory",
              detail: `worker RSS ${Math.round(m.rss / 2 ** 20)} MiB after the case`,
              ...describe(m.index),
            });
            return "restart";
          }
          return "continue";
        },
        (index, kind, detail) => {
          report.cases++;
          report.failures.push({ index, kind, detail, ...describe(index) });
        },
      );
    }
  } finally {
    if (temporary) fs.rmSync(seedDir, { recursive: true, force: true });
  }
  report.ms = Math.round(performance.now() - t0);
  return report;
}

/**
 * Runs one worker from `task.from` until it finishes, dies or hangs; resolves with the index to
 * continue from.
 */
function runWorker(
  task: WorkerTask,
  heapMb: number,
  pool: WorkerPool | undefined,
  timeoutMs: number,
  onDone: (m: Extract<WorkerMessage, { type: "done" }>) => "continue" | "restart",
  onFailure: (index: number, kind: "crash" | "hang", detail: string) => void,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = pool ? pool.take(heapMb) : forkWorker(heapMb);
    let stderr = "";
    const onStderr = (d: Buffer) => {
      stderr = (stderr + d.toString("utf8")).slice(-2000);
    };
    child.stderr!.on("data", onStderr);
    let current: number | undefined;
    let ready = false;
    let finished = false;
    let timer = setTimeout(() => fail("hang", `worker did not start within ${STARTUP_MS} ms`), STARTUP_MS);
    const arm = (ms: number, what: string) => {
      clearTimeout(timer);
      timer = setTimeout(() => fail("hang", what), ms);
    };
    const finish = (nextIndex: number, reusable = false) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("close", onClose);
      child.stderr!.off("data", onStderr);
      if (reusable && pool) pool.give(child);
      else if (child.exitCode === null) child.kill("SIGKILL");
      resolve(nextIndex);
    };
    const fail = (kind: "crash" | "hang", detail: string) => {
      if (finished) return;
      const index = current ?? task.from;
      onFailure(index, kind, detail);
      finish(index + 1);
    };
    const onMessage = (m: WorkerMessage) => {
      if (m.type === "ready") {
        ready = true;
        return clearTimeout(timer);
      }
      if (m.type === "start") {
        current = m.index;
        return arm(timeoutMs, `no answer within ${timeoutMs} ms`);
      }
      clearTimeout(timer);
      current = undefined;
      if (onDone(m) === "restart") return finish(m.index + 1);
      if (m.index + 1 >= task.to) finish(task.to, true);
    };
    // "close", not "exit": it comes after the IPC channel has delivered every message.
    const onClose = (code: number | null, signal: NodeJS.Signals | null) => {
      if (finished) return;
      if (!ready) {
        finished = true;
        clearTimeout(timer);
        return reject(
          new Error(`fuzz worker for ${task.format} failed to start (${signal ?? code}): ${stderr.trim()}`),
        );
      }
      if (current === undefined && code === 0) return finish(task.to);
      if (code === 0) {
        return fail(
          "hang",
          "the worker's event loop emptied while the case was pending (a promise that never settles)",
        );
      }
      fail(
        "crash",
        `worker exited (${signal ?? `code ${code}`}): ${stderr.trim().split("\n").slice(-6).join(" | ")}`,
      );
    };
    child.on("message", onMessage);
    child.on("close", onClose);
    child.send(task);
  });
}
