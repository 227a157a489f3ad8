import path from "node:path";
import type { Command } from "commander";
import { isCached, listModels, type ModelEntry } from "../../hub/index.js";
import { type LocalAdapter, listLocalAdapters } from "../adapter-catalog.js";
import { printJson, printLine } from "../output.js";

function dimsText(m: ModelEntry): string {
  if (m.kind === "llm") return `n_embd ${m.dims.nEmbd}, ${m.dims.nLayer} layers, vocab ${m.dims.nVocab}`;
  const res = m.naflex ? `naflex ≤${m.dims.maxPatches} patches` : `${m.dims.imageSize}px`;
  return `Dv ${m.dims.visionHidden}, text ${m.dims.textEmbed}, ${res}, patch ${m.dims.patchSize}`;
}

/** Rows of cells → lines with every column padded to its widest cell (the last column is not padded). */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i])))
      .join("  ")
      .trimEnd(),
  );
}

function adapterText(a: LocalAdapter): string {
  if (!a.card) return `unreadable: ${a.problem}`;
  const c = a.card;
  const parts = `${c.encoder.id} → ${c.llm.name || c.llm.architecture}, ${c.prompt.style}`;
  return a.standalone ? parts : `${parts}; needs --encoder and --llm`;
}

export function register(program: Command): void {
  program
    .command("models")
    .description(
      "list known models (kind, hub repo, dimensions, whether the cache holds them) and the local adapters and bundles",
    )
    .option(
      "--json",
      "print JSON: {models: [{id, kind, repo, revision, dims, cached, ...}], adapters: [{name, dir, kind, standalone}]}",
    )
    .action(async (args: { json?: boolean }) => {
      const rows = await Promise.all(listModels().map(async (m) => ({ ...m, cached: await isCached(m) })));
      const adapters = await listLocalAdapters();
      if (args.json) {
        return printJson({
          models: rows,
          adapters: adapters.map(({ card: _card, ...a }) => a),
        });
      }
      printLine("Models (vlmkit pull <id> downloads one; `cached` = fp32 files in the hub cache)");
      const modelRows = rows.map((r) => [
        r.id,
        r.kind === "llm" ? "llm" : `${r.family}${r.naflex ? " naflex" : ""}`,
        r.cached ? "cached" : "-",
        r.repo,
        dimsText(r),
      ]);
      for (const line of table([["ID", "KIND", "CACHE", "REPO", "DIMENSIONS"], ...modelRows]))
        printLine(`  ${line}`);
      printLine();
      printLine("Adapters and bundles (vlmkit run <name> [image...] [prompt])");
      if (adapters.length === 0) printLine("  none");
      else {
        const adapterRows = adapters.map((a) => [
          a.name,
          a.kind,
          path.relative(process.cwd(), a.dir).startsWith("..") ? a.dir : path.relative(process.cwd(), a.dir),
          adapterText(a),
        ]);
        for (const line of table([["NAME", "KIND", "DIRECTORY", "PARTS"], ...adapterRows]))
          printLine(`  ${line}`);
      }
    });
}
