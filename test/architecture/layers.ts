/**
 * The layer rule of src/, written once. Each top-level folder or file of src/ is a unit (`vlm.ts` and
 * `vlm/` are one unit, "vlm"); the units are listed in layers, lowest first:
 *
 *   0  errors, env, tensor, util            helpers with no vlmkit dependency above them
 *   1  image, graph, hub, runtime           formats, the hub cache, the onnxruntime session factory
 *   2  encoders, llm, prompt, adapter       the model stages
 *   3  vlm                                  the stages composed (src/vlm.ts, src/vlm/)
 *   4  train, compare, server, tiny,        applications of a Vlm; writers of tiny test models;
 *      interop                              llama.cpp mmproj import/export (builds towers with tiny's graph)
 *   5  cli                                  the command line
 *   6  index, entries                       public entry points (`vlmkit`, `vlmkit/server`, …)
 *
 * A module imports from its own unit, from any unit of a lower layer, and from the units listed
 * before its own in its layer; never from a higher layer nor from a unit listed after its own (so
 * units of one layer cannot form a cycle: adapter may import llm, whose facts an adapter card
 * records, and llm may not import adapter). Relative imports must stay inside src/; package imports
 * are not checked.
 */
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";

export const LAYERS: readonly (readonly string[])[] = [
  ["errors", "env", "tensor", "util"],
  ["image", "graph", "hub", "runtime"],
  ["encoders", "llm", "prompt", "adapter"],
  ["vlm"],
  ["train", "compare", "server", "tiny", "interop"],
  ["cli"],
  ["index", "entries"],
];

/** One import: `from` and `to` are paths relative to src/ (`to` may leave src/), `spec` as written. */
export interface ImportEdge {
  from: string;
  to: string;
  spec: string;
}

/** The unit of a path relative to src/: its first segment without `.ts`/`.js` (`vlm.ts`, `vlm.js`, `vlm/x.ts` → `vlm`). */
export function unitOf(file: string): string {
  return file.split(/[\\/]/)[0].replace(/\.[jt]s$/, "");
}

/** The layer index of a unit, or undefined for a unit the table does not list. */
export function layerOf(unit: string): number | undefined {
  const i = LAYERS.findIndex((layer) => layer.includes(unit));
  return i < 0 ? undefined : i;
}

/** Every relative import, export-from, `import type` and dynamic `import()` of every .ts file under `srcDir`. */
export function readImports(srcDir: string): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const file of tsFiles(srcDir)) {
    const from = path.relative(srcDir, file);
    const info = ts.preProcessFile(fs.readFileSync(file, "utf8"), true, true);
    for (const { fileName: spec } of info.importedFiles) {
      if (!spec.startsWith(".")) continue;
      const to = path.relative(srcDir, path.resolve(path.dirname(file), spec));
      edges.push({ from: from.split(path.sep).join("/"), to: to.split(path.sep).join("/"), spec });
    }
  }
  return edges;
}

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith(".ts") ? [p] : [];
  });
}

/** What breaks the rule, one line each; empty when the imports follow it. */
export function findViolations(edges: readonly ImportEdge[]): string[] {
  const problems: string[] = [];
  for (const e of edges) {
    const where = `src/${e.from} imports "${e.spec}"`;
    if (e.to.startsWith("..") || path.isAbsolute(e.to)) {
      problems.push(`${where}, outside src/`);
      continue;
    }
    const [a, b] = [unitOf(e.from), unitOf(e.to)];
    const [la, lb] = [layerOf(a), layerOf(b)];
    if (la === undefined || lb === undefined) {
      problems.push(`${where}: "${la === undefined ? a : b}" is in no layer; add it to LAYERS`);
    } else if (lb > la) {
      problems.push(`${where}: ${b} (layer ${lb}) is above ${a} (layer ${la})`);
    } else if (lb === la && LAYERS[la].indexOf(b) > LAYERS[la].indexOf(a)) {
      problems.push(`${where}: ${b} comes after ${a} in layer ${la} (${LAYERS[la].join(", ")})`);
    }
  }
  return problems;
}
