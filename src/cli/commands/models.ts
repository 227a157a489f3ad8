import type { Command } from "commander";
import { isCached, listModels, type ModelEntry } from "../../hub/index.js";
import { printJson, printLine } from "../output.js";

function dimsText(m: ModelEntry): string {
  if (m.kind === "llm") return `n_embd ${m.dims.nEmbd}, ${m.dims.nLayer} layers, vocab ${m.dims.nVocab}`;
  const res = m.naflex ? `naflex ≤${m.dims.maxPatches} patches` : `${m.dims.imageSize}px`;
  return `Dv ${m.dims.visionHidden}, text ${m.dims.textEmbed}, ${res}, patch ${m.dims.patchSize}`;
}

export function register(program: Command): void {
  program
    .command("models")
    .description("list known models: kind, hub repo, dimensions and whether the cache holds them (fp32)")
    .option("--json", "print JSON: [{id, kind, repo, revision, dims, cached, verified, ...}]")
    .action(async (args: { json?: boolean }) => {
      const rows = await Promise.all(listModels().map(async (m) => ({ ...m, cached: await isCached(m) })));
      if (args.json) return printJson(rows);
      const width = Math.max(...rows.map((r) => r.id.length));
      for (const r of rows) {
        const kind = r.kind === "llm" ? "llm" : `${r.family}${r.naflex ? " naflex" : ""}`;
        const mark = r.cached ? "cached" : "      ";
        printLine(`${r.id.padEnd(width)}  ${mark}  ${kind.padEnd(14)}  ${r.repo}  (${dimsText(r)})`);
      }
    });
}
