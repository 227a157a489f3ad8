/** Output helpers shared by every command: `--json` prints one JSON document on stdout, otherwise text. */
import { SingleBar } from "cli-progress";

export interface OutputOptions {
  json?: boolean;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printLine(text = ""): void {
  process.stdout.write(`${text}\n`);
}

/**
 * A progress bar on stderr for long work; silent when stderr is not a terminal or `--json` is set,
 * so piped and machine-read output stays clean.
 */
export function progressBar(label: string, opts: OutputOptions & { unit?: "bytes" | "items" } = {}) {
  const enabled = !opts.json && process.stderr.isTTY === true;
  if (!enabled) return { update: (_done: number, _total?: number) => {}, stop: () => {} };
  const bytes = opts.unit === "bytes";
  const bar = new SingleBar({
    stream: process.stderr,
    format: bytes
      ? `${label} [{bar}] {percentage}% {doneMiB}/{totalMiB} MiB eta {eta_formatted}`
      : `${label} [{bar}] {value}/{total} eta {eta_formatted}`,
    hideCursor: true,
    clearOnComplete: true,
  });
  let started = false;
  return {
    update(done: number, total?: number) {
      const extra = bytes
        ? { doneMiB: (done / 2 ** 20).toFixed(1), totalMiB: ((total ?? 0) / 2 ** 20).toFixed(1) }
        : {};
      if (!started) {
        bar.start(total ?? 0, done, extra);
        started = true;
      } else {
        if (total !== undefined) bar.setTotal(total);
        bar.update(done, extra);
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
