import path from "node:path";
import type { Command } from "commander";
import { getModel, isCached, listModels, type ModelEntry } from "../../hub/index.js";
import { type LocalAdapter, listLocalAdapters } from "../adapter-catalog.js";
import { printJson, printLine } from "../output.js";
import { type VerifyReport, verifyEntry } from "../registry-check.js";

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

function variantsText(r: VerifyReport): string {
  if (!r.variants)
    return r.found && "nEmbd" in r.found ? `n_embd ${r.found.nEmbd}, ${r.found.nLayer} layers` : "";
  const v = r.variants;
  const data =
    v.externalData.length > 0 ? `; .onnx_data: ${v.externalData.map((f) => f.slice(5)).join(", ")}` : "";
  return `vision ${v.vision.join(",") || "none"}; text ${v.text.join(",") || "none"}${data}`;
}

/** `--verify`: one line per entry, then each problem; exit status 1 when any entry disagrees. */
async function verify(entries: readonly ModelEntry[], json: boolean | undefined): Promise<void> {
  const reports: VerifyReport[] = [];
  for (const entry of entries) {
    const report = await verifyEntry(entry);
    reports.push(report);
    if (!json) {
      const state = report.ok
        ? "ok"
        : `${report.problems.length} problem${report.problems.length > 1 ? "s" : ""}`;
      printLine(
        `${entry.id}  ${state}  ${entry.repo}@${report.commit?.slice(0, 12) ?? entry.revision}  ${variantsText(report)}`,
      );
      for (const p of report.problems) printLine(`  - ${p}`);
      for (const n of report.notes) printLine(`  note: ${n}`);
    }
  }
  if (json) printJson({ reports });
  if (reports.some((r) => !r.ok)) process.exitCode = 1;
}

export function register(program: Command): void {
  program
    .command("models")
    .description(
      "list known models (kind, hub repo, dimensions, whether the cache holds them) and the local adapters and bundles; --verify checks them against the hub",
    )
    .argument("[ids...]", "only these registry ids (default: all)")
    .option(
      "--verify",
      "check each entry against the hub: its files in the repo's listing, its dims in config.json / the GGUF header (exit status 1 on any disagreement)",
    )
    .option(
      "--json",
      "print JSON: {models: [{id, kind, repo, revision, dims, evidence, cached, ...}], adapters: [{name, dir, kind, standalone}]}; with --verify {reports: [{id, repo, revision, commit, ok, problems, notes, variants, found, scalars}]}",
    )
    .action(async (ids: string[], args: { json?: boolean; verify?: boolean }) => {
      const entries = ids.length > 0 ? ids.map(getModel) : listModels();
      if (args.verify) return verify(entries, args.json);
      const rows = await Promise.all(entries.map(async (m) => ({ ...m, cached: await isCached(m) })));
      const adapters = ids.length > 0 ? [] : await listLocalAdapters();
      if (args.json) {
        return printJson({
          models: rows,
          adapters: adapters.map(({ card: _card, ...a }) => a),
        });
      }
      printLine(
        "Models (vlmkit pull <id> downloads one; `cached` = fp32 files in the hub cache; `checked` = how the entry was confirmed, see docs/hub.md)",
      );
      const modelRows = rows.map((r) => [
        r.id,
        r.kind === "llm" ? "llm" : `${r.family}${r.naflex ? " naflex" : ""}`,
        r.cached ? "cached" : "-",
        r.evidence,
        r.repo,
        dimsText(r),
      ]);
      for (const line of table([["ID", "KIND", "CACHE", "CHECKED", "REPO", "DIMENSIONS"], ...modelRows]))
        printLine(`  ${line}`);
      if (ids.length > 0) return;
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
