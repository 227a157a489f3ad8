/**
 * Training metrics as JSON Lines in `<out>/metrics.jsonl`, one object per optimizer step (and per
 * validation pass). Lines are appended, so a killed run keeps what it wrote; a resumed run first
 * drops lines past its checkpoint's step, which it is about to redo.
 */
import fs from "node:fs";
import path from "node:path";
import { InvalidArgumentError } from "../../errors.js";
import { writeFileAtomic } from "../../util/fs.js";

export interface MetricsRecord {
  /** Optimizer step (1-based). */
  step: number;
  epoch: number;
  /** Mean training loss over the step's examples (nats per answer token). */
  loss: number;
  /** Learning rate used for the step. */
  lr: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  examplesPerSec: number;
  /** Validation loss, on steps where validation ran. */
  valLoss?: number;
  /** ISO 8601 time the line was written. */
  time: string;
}

export function metricsFile(outDir: string): string {
  return path.join(outDir, "metrics.jsonl");
}

/** Every well-formed record in a metrics file; a half-written last line (killed process) is ignored. */
export function readMetrics(file: string): MetricsRecord[] {
  if (!fs.existsSync(file)) return [];
  const out: MetricsRecord[] = [];
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (line.trim() === "") continue;
    try {
      const r = JSON.parse(line) as MetricsRecord;
      if (Number.isFinite(r.step) && typeof r.loss === "number") out.push(r);
    } catch {
      // an interrupted append
    }
  }
  return out;
}

export class MetricsLog {
  private constructor(readonly file: string) {}

  /**
   * Opens `<outDir>/metrics.jsonl`. `resumeStep` keeps the records up to that step (a resumed run);
   * without it the file starts empty (a new run).
   */
  static async open(outDir: string, options: { resumeStep?: number } = {}): Promise<MetricsLog> {
    const file = metricsFile(outDir);
    const kept =
      options.resumeStep === undefined ? [] : readMetrics(file).filter((r) => r.step <= options.resumeStep!);
    await writeFileAtomic(file, kept.map((r) => `${JSON.stringify(r)}\n`).join(""));
    return new MetricsLog(file);
  }

  /** Appends one record; `time` defaults to now. */
  async append(record: Omit<MetricsRecord, "time"> & { time?: string }): Promise<MetricsRecord> {
    for (const key of ["step", "epoch", "loss", "lr", "gradNorm", "examplesPerSec"] as const) {
      if (typeof record[key] !== "number") {
        throw new InvalidArgumentError(`metrics ${key} is ${JSON.stringify(record[key])}; expected a number`);
      }
    }
    const full: MetricsRecord = { ...record, time: record.time ?? new Date().toISOString() };
    await fs.promises.appendFile(this.file, `${JSON.stringify(full)}\n`);
    return full;
  }

  read(): MetricsRecord[] {
    return readMetrics(this.file);
  }
}
