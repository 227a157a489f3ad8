// A short seeded fuzz run of every file format (`npm run fuzz` runs long ones): each case must end in
// success or a named vlmkit error, within the format's time bound and the worker's memory bound.
// Cases run in child processes, two formats at a time; each lane keeps its worker from one format to
// the next (a worker starts in ~2 s, most of a short campaign).
import { beforeAll, describe, expect, it } from "vitest";
import { FORMATS } from "./formats/index.js";
import { type FuzzReport, runFuzz, WorkerPool } from "./harness/run.js";

const reports = new Map<string, FuzzReport>();

beforeAll(async () => {
  const queue = [...FORMATS];
  const lane = async () => {
    const pool = new WorkerPool();
    try {
      for (let f = queue.shift(); f; f = queue.shift())
        reports.set(f.name, await runFuzz({ format: f.name, seed: 1 }, pool));
    } finally {
      pool.close();
    }
  };
  await Promise.all([lane(), lane()]);
}, 900_000);

describe("fuzz", () => {
  for (const format of FORMATS) {
    it(`${format.name}: ${format.suiteCases} cases end in success or a named error`, () => {
      const report = reports.get(format.name)!;
      expect(report.failures).toEqual([]);
      expect(report.cases).toBe(format.suiteCases);
    });
  }
});
