/**
 * results.csv in clip_benchmark's wide layout: one row per (encoder, task) with `dataset`, `model`,
 * `pretrained`, `task` and one column per metric (clip_benchmark's task names: zeroshot_classification,
 * zeroshot_retrieval, linear_probe), then `<metric>_ci_low` / `<metric>_ci_high` columns.
 */
import type { CompareResult, TaskName } from "../types.js";

const CLIP_BENCHMARK_TASK: Partial<Record<TaskName, string>> = {
  zeroshot: "zeroshot_classification",
  retrieval: "zeroshot_retrieval",
  "linear-probe": "linear_probe",
};

function cell(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return "";
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function resultsCsv(result: CompareResult, dataset: string): string {
  const metrics = [...new Set(result.results.map((r) => r.metric))];
  const withCi = metrics.filter((m) => result.results.some((r) => r.metric === m && r.ci));
  const header = [
    "dataset",
    "model",
    "pretrained",
    "task",
    ...metrics,
    ...withCi.flatMap((m) => [`${m}_ci_low`, `${m}_ci_high`]),
  ];
  const lines = [header.map(cell).join(",")];
  const groups: { encoder: string; task: TaskName }[] = [];
  for (const r of result.results) {
    if (!groups.some((g) => g.encoder === r.encoder && g.task === r.task))
      groups.push({ encoder: r.encoder, task: r.task });
  }
  for (const g of groups) {
    const enc = result.encoders.find((e) => e.name === g.encoder);
    const rows = result.results.filter((r) => r.encoder === g.encoder && r.task === g.task);
    const value = (m: string) => rows.find((r) => r.metric === m)?.value;
    const ci = (m: string, i: 0 | 1) => rows.find((r) => r.metric === m)?.ci?.[i];
    lines.push(
      [
        dataset,
        g.encoder,
        enc ? `${enc.source}@${enc.dtype}${enc.maxPatches ? `:${enc.maxPatches}` : ""}` : "",
        CLIP_BENCHMARK_TASK[g.task] ?? g.task,
        ...metrics.map(value),
        ...withCi.flatMap((m) => [ci(m, 0), ci(m, 1)]),
      ]
        .map(cell)
        .join(","),
    );
  }
  return `${lines.join("\n")}\n`;
}
