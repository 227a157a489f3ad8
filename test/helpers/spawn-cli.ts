// Runs the vlmkit CLI from source (test/helpers/cli.ts) in a child process and collects its output.
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";

const CLI = path.join(import.meta.dirname, "cli.ts");
const ROOT = path.join(import.meta.dirname, "..", "..");

export interface CliRun {
  child: ChildProcess;
  /** Everything written so far. */
  stdout(): string;
  stderr(): string;
  /** Settles when the process exits, with its code or signal and all output. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

export function spawnCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): CliRun {
  const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => {
    out += d;
  });
  child.stderr!.on("data", (d) => {
    err += d;
  });
  const exited = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal, stdout: out, stderr: err })));
  return { child, stdout: () => out, stderr: () => err, exited };
}
