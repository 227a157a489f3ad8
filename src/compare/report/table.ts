/** The terminal table: one line per (task, metric), a column per encoder, and the significant pairs. */
import type { CompareResult } from "../types.js";
import { formatP, formatValue } from "./format.js";

function pad(text: string, width: number): string {
  return text + " ".repeat(Math.max(0, width - text.length));
}

export function resultTable(result: CompareResult): string {
  const names = result.encoders.map((e) => e.name);
  const keys: { task: string; metric: string }[] = [];
  for (const r of result.results) {
    if (!keys.some((k) => k.task === r.task && k.metric === r.metric))
      keys.push({ task: r.task, metric: r.metric });
  }
  const header = ["task", "metric", ...names, "significant (p < 0.05)"];
  const lines = keys.map(({ task, metric }) => {
    const cells = names.map((name) => {
      const r = result.results.find((x) => x.encoder === name && x.task === task && x.metric === metric);
      if (!r) return "–";
      return r.ci
        ? `${formatValue(r.value)} [${formatValue(r.ci[0])}, ${formatValue(r.ci[1])}]`
        : formatValue(r.value);
    });
    const wins = result.pairs
      .filter((p) => p.task === task && p.metric === metric && p.winner)
      .map((p) => `${p.winner} > ${p.winner === p.a ? p.b : p.a} (p=${formatP(p.p)})`);
    return [task, metric, ...cells, wins.join("; ") || "–"];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const row = (cells: string[]) =>
    cells
      .map((c, i) => pad(c, widths[i]))
      .join("  ")
      .trimEnd();
  return [row(header), row(widths.map((w) => "-".repeat(w))), ...lines.map(row)].join("\n");
}
