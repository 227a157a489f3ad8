import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { lossCurveSvg, niceTicks, writeLossCurve } from "../../src/train/loop/loss-curve.js";
import { MetricsLog, metricsFile, readMetrics } from "../../src/train/loop/metrics.js";

const record = (step: number, loss: number, valLoss?: number) => ({
  step,
  epoch: 0,
  loss,
  lr: 1e-3,
  gradNorm: 0.5,
  examplesPerSec: 10,
  ...(valLoss === undefined ? {} : { valLoss }),
});

describe("metrics log", () => {
  it("appends JSON lines, skips a half-written line and trims past the resume step", async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-metrics-"));
    const log = await MetricsLog.open(out);
    for (let s = 1; s <= 4; s++) await log.append(record(s, 4 - s / 2, s === 4 ? 2.5 : undefined));
    const lines = fs.readFileSync(metricsFile(out), "utf8").trim().split("\n");
    expect(lines).toHaveLength(4);
    expect(Object.keys(JSON.parse(lines[3]))).toEqual([
      "step",
      "epoch",
      "loss",
      "lr",
      "gradNorm",
      "examplesPerSec",
      "valLoss",
      "time",
    ]);
    fs.appendFileSync(metricsFile(out), '{"step": 5, "lo');
    expect(readMetrics(metricsFile(out)).map((r) => r.step)).toEqual([1, 2, 3, 4]);

    const resumed = await MetricsLog.open(out, { resumeStep: 2 });
    await resumed.append(record(3, 9));
    expect(resumed.read().map((r) => [r.step, r.loss])).toEqual([
      [1, 3.5],
      [2, 3],
      [3, 9],
    ]);
    const fresh = await MetricsLog.open(out);
    expect(fresh.read()).toEqual([]);
    await expect(fresh.append({ ...record(1, 1), loss: "x" as unknown as number })).rejects.toThrow(
      /loss is "x"/,
    );
  });
});

describe("loss curve", () => {
  it("picks round ticks", () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(1, 120, 8)).toEqual([20, 40, 60, 80, 100, 120]);
    expect(niceTicks(3, 3)).toEqual([3]);
  });

  it("draws both series with axes and legend, and writes a PNG of the requested size", async () => {
    const records = Array.from({ length: 60 }, (_, i) =>
      record(i + 1, 3 / (1 + i / 10), i % 20 === 19 ? 2 : undefined),
    );
    const svg = lossCurveSvg(records);
    expect(svg).toContain(">train loss<");
    expect(svg).toContain(">validation loss<");
    expect(svg).toContain(">step<");
    expect(svg.match(/<circle /g)).toHaveLength(3 + 1); // 3 validation points + the legend marker
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-curve-"));
    const file = path.join(out, "loss.png");
    await writeLossCurve(file, records, { width: 640, height: 400 });
    const meta = await sharp(file).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(["png", 640, 400]);
    // The train line's colour is really drawn.
    const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
    let blue = 0;
    for (let i = 0; i < data.length; i += info.channels) if (data[i] < 80 && data[i + 2] > 150) blue++;
    expect(blue).toBeGreaterThan(200);
  });

  it("renders an empty or single-point history without failing", async () => {
    expect((await sharp(Buffer.from(lossCurveSvg([]))).metadata()).width).toBe(800);
    expect(lossCurveSvg([record(1, 2)])).toContain("<path");
  });
});
