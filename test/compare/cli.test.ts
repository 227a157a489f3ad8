// `vlmkit compare` end to end on the bundled tiny encoders: every task from the command line, the
// JSON keys exactly as documented, the report files, and report.html in real headless Chromium.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnCli } from "../helpers/spawn-cli.js";
import { writeColourFolder } from "./helpers.js";
import { openReport } from "./open-report.js";

const demo = path.join(import.meta.dirname, "..", "..", "models", "demo");
const root = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-compare-cli-"));
const env = { VLMKIT_CACHE: path.join(root, "cache") };
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

let data: Awaited<ReturnType<typeof writeColourFolder>>;
beforeAll(async () => {
  data = await writeColourFolder(path.join(root, "data"), 40);
});

async function compare(...args: string[]) {
  const run = await spawnCli(["compare", ...args], env).exited;
  if (run.code !== 0) throw new Error(`compare exited ${run.code}: ${run.stderr}`);
  return run;
}

const ENCODERS = `siglip=${demo}/siglip,siglip2=${demo}/siglip2`;

function checkKeys(out: { encoders: object[]; results: object[]; pairs: object[] }) {
  expect(Object.keys(out).sort()).toEqual(["encoders", "pairs", "results"]);
  for (const e of out.encoders) {
    expect(Object.keys(e)).toEqual(
      expect.arrayContaining(["name", "source", "dtype", "tokensPerImage", "embeddingWidth"]),
    );
  }
  for (const r of out.results)
    expect(Object.keys(r).sort()).toEqual(["ci", "encoder", "metric", "n", "task", "value"]);
  for (const p of out.pairs)
    expect(Object.keys(p).sort()).toEqual(["a", "b", "delta", "metric", "p", "task", "winner"]);
}

describe("vlmkit compare", () => {
  it("runs zeroshot, linear-probe, knn, vlm and speed on an imagefolder, with --task repeated and comma-separated", async () => {
    const out = path.join(root, "report");
    const run = await compare(
      "--encoders",
      ENCODERS,
      "--encoders",
      `naflex=${demo}/siglip2-naflex:16`,
      "--data",
      data.classes,
      "--task",
      "zeroshot,linear-probe",
      "--task",
      "knn",
      "--task",
      "vlm",
      "--task",
      "speed",
      "--llm",
      path.join(demo, "shapes", "gemma3.gguf"),
      "--question",
      "what color is the shape?",
      "--epochs",
      "1",
      "--out",
      out,
      "--json",
    );
    const result = JSON.parse(run.stdout);
    checkKeys(result);
    expect(result.encoders.map((e: { name: string }) => e.name)).toEqual(["siglip", "siglip2", "naflex"]);
    expect(result.encoders[0]).toMatchObject({
      dtype: "fp32",
      tokensPerImage: 16,
      embeddingWidth: 16,
      maxPatches: null,
    });
    expect(result.encoders[2]).toMatchObject({ embeddingWidth: 32, maxPatches: 16 });
    const metrics = new Set(
      result.results.map((r: { task: string; metric: string }) => `${r.task}/${r.metric}`),
    );
    for (const m of [
      "zeroshot/acc1",
      "zeroshot/acc5",
      "zeroshot/mean_per_class_recall",
      "linear-probe/accuracy",
      "knn/accuracy",
      "vlm/accuracy",
      "vlm/loss",
      "vlm/no_image_accuracy",
      "speed/images_per_second_batch1",
      "speed/images_per_second_batch8",
      "speed/latency_ms_p50",
      "speed/peak_rss_mib",
      "speed/tokens_per_image",
      "speed/embedding_width",
    ]) {
      expect(metrics.has(m), m).toBe(true);
    }
    for (const r of result.results) {
      if (/acc|recall/.test(r.metric)) {
        expect(r.ci[0]).toBeLessThanOrEqual(r.value);
        expect(r.ci[1]).toBeGreaterThanOrEqual(r.value);
      } else expect(r.ci).toBeNull();
    }
    // 3 encoders → 3 pairs per tested figure; winners only where p < 0.05.
    expect(result.pairs.filter((p: { metric: string; task: string }) => p.task === "knn")).toHaveLength(3);
    for (const p of result.pairs) expect(p.winner === null || p.p < 0.05).toBe(true);
    // the files
    expect(JSON.parse(fs.readFileSync(path.join(out, "results.json"), "utf8"))).toEqual(result);
    const csv = fs.readFileSync(path.join(out, "results.csv"), "utf8").trim().split("\n");
    expect(csv[0]).toMatch(/^dataset,model,pretrained,task,acc1,acc5,mean_per_class_recall,accuracy,/);
    expect(csv.some((l) => l.includes(",zeroshot_classification,"))).toBe(true);
    expect(csv.some((l) => l.includes(",linear_probe,"))).toBe(true);

    const page = await openReport(path.join(out, "report.html"));
    expect(page.errors).toEqual([]);
    expect(page.externalRequests).toEqual([]);
    expect(page.emptyCharts).toBe(0);
    expect(page.charts).toBeGreaterThan(10);
  }, 300_000);

  it("runs retrieval on caption rows from a compare.json, prints the table, and a re-run reads features from the cache", async () => {
    const config = path.join(root, "compare.json");
    fs.writeFileSync(config, JSON.stringify({ encoders: ENCODERS, data: data.jsonl, tasks: ["retrieval"] }));
    const json = JSON.parse((await compare("--config", config, "--json")).stdout);
    checkKeys(json);
    expect(json.results).toHaveLength(12); // 2 encoders × 6 recalls
    const run = await compare("--encoders", ENCODERS, "--data", data.jsonl, "--task", "retrieval");
    expect(run.stdout).toMatch(/retrieval\s+image_retrieval_recall@1/);
    expect(run.stdout).toMatch(/retrieval\s+text_retrieval_recall@10/);
    expect(run.stderr).toMatch(/siglip2: 40 images, 0 encoded, 40 from the feature cache/);
  }, 120_000);

  it("refuses an unknown task and a task the data cannot support, naming them", async () => {
    const bad = await spawnCli(
      ["compare", "--encoders", ENCODERS, "--data", data.classes, "--task", "nope"],
      env,
    ).exited;
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(
      /--task "nope"; expected one of zeroshot, retrieval, linear-probe, knn, vlm, speed or all/,
    );
    const wrong = await spawnCli(
      ["compare", "--encoders", ENCODERS, "--data", data.classes, "--task", "retrieval"],
      env,
    ).exited;
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/task "retrieval" does not apply to a labelled imagefolder/);
  }, 180_000);
});
