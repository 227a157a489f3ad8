// Dependencies in src/ point down the layers written in ./layers.ts; the checker is proven to catch an
// upward or sideways import (in memory and in real files) before it is trusted on src/.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { findViolations, type ImportEdge, LAYERS, layerOf, readImports } from "./layers.js";

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src");
const edge = (from: string, spec: string): ImportEdge => ({
  from,
  spec,
  to: path.posix.normalize(path.posix.join(path.posix.dirname(from), spec)),
});

describe("the layer checker", () => {
  it("accepts downward and same-unit imports", () => {
    expect(
      findViolations([
        edge("vlm.ts", "./llm/llm.js"),
        edge("vlm/assemble.ts", "../vlm.js"),
        edge("llm/llm.ts", "./engine.js"),
        edge("cli/main.ts", "../server/index.js"),
        edge("index.ts", "./cli/main.js"),
      ]),
    ).toEqual([]);
  });

  it("rejects an upward import, naming both units and layers", () => {
    expect(findViolations([edge("llm/llm.ts", "../vlm.js")])).toEqual([
      'src/llm/llm.ts imports "../vlm.js": vlm (layer 3) is above llm (layer 2)',
    ]);
    expect(findViolations([edge("util/fs.ts", "../hub/cache.js")])).toHaveLength(1);
  });

  it("within a layer, allows imports of units listed earlier and rejects those listed later", () => {
    expect(findViolations([edge("adapter/card.ts", "../llm/identity.js")])).toEqual([]);
    expect(findViolations([edge("llm/llm.ts", "../adapter/card.js")])).toEqual([
      'src/llm/llm.ts imports "../adapter/card.js": adapter comes after llm in layer 2 (encoders, llm, prompt, adapter)',
    ]);
  });

  it("rejects a unit missing from the table and an import that leaves src/", () => {
    expect(findViolations([edge("newthing/x.ts", "../util/fs.js")])).toEqual([
      'src/newthing/x.ts imports "../util/fs.js": "newthing" is in no layer; add it to LAYERS',
    ]);
    expect(findViolations([edge("llm/llm.ts", "../../bench/x.js")])[0]).toMatch(/outside src\//);
  });

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-layers-"));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("reads type-only, re-exported and dynamic imports from real files", () => {
    const write = (file: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(tmp, file)), { recursive: true });
      fs.writeFileSync(path.join(tmp, file), text);
    };
    write("vlm.ts", "export class Vlm {}\n");
    write("server/index.ts", "export const app = 1;\n");
    write(
      "llm/upward.ts",
      [
        'import type { Vlm } from "../vlm.js";',
        'export { app } from "../server/index.js";',
        'export const later = () => import("../cli/main.js");',
        'import fs from "node:fs";',
        "export type V = Vlm;",
      ].join("\n"),
    );
    const edges = readImports(tmp);
    expect(edges.map((e) => e.to).sort()).toEqual(["cli/main.js", "server/index.js", "vlm.js"]);
    expect(findViolations(edges)).toHaveLength(3);
  });
});

describe("src/", () => {
  it("lists every unit of src/ in exactly one layer", () => {
    const units = fs.readdirSync(SRC).map((name) => name.replace(/\.ts$/, ""));
    for (const unit of units) expect(layerOf(unit), `src/${unit}`).not.toBeUndefined();
    const all = LAYERS.flat();
    expect(new Set(all).size).toBe(all.length);
  });

  it("imports only downward (and within a layer, only from units listed earlier)", () => {
    const edges = readImports(SRC);
    expect(edges.length).toBeGreaterThan(300);
    expect(findViolations(edges)).toEqual([]);
  });
});
