/**
 * Adapters and bundles on this machine, by folder name: the folders of `adapterSearchDirs()`
 * ($VLMKIT_ADAPTERS, default ~/.cache/vlmkit/adapters), then the package's own `adapters/` (the demo
 * bundle `shapes`). A bundle is an adapter directory whose card records its encoder and LLM as files
 * inside it; an adapter whose card records hub sources also runs alone (the parts come from the cache).
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type AdapterCard, CARD_FILE, readAdapterCard } from "../adapter/index.js";
import { adapterSearchDirs } from "../env.js";
import { InvalidArgumentError } from "../errors.js";

/** The package's `adapters/` folder (two levels above this file in both src/ and dist/). */
export const PACKAGE_ADAPTERS_DIR = fileURLToPath(new URL("../../adapters", import.meta.url));

export interface LocalAdapter {
  name: string;
  dir: string;
  /** "bundle": encoder and LLM inside; "adapter": the card names hub parts or none. */
  kind: "bundle" | "adapter";
  /** Runs with no --encoder / --llm (its card records both). */
  standalone: boolean;
  card?: AdapterCard;
  /** Why the card could not be read. */
  problem?: string;
}

function searchDirs(): string[] {
  return [...adapterSearchDirs(), PACKAGE_ADAPTERS_DIR];
}

async function describe(name: string, dir: string): Promise<LocalAdapter> {
  try {
    const card = await readAdapterCard(dir);
    const enc = card.encoder.source;
    const llm = card.llm.source;
    const bundle = enc !== undefined && llm !== undefined && "path" in enc && "path" in llm;
    return {
      name,
      dir,
      kind: bundle ? "bundle" : "adapter",
      standalone: enc !== undefined && llm !== undefined,
      card,
    };
  } catch (error) {
    return { name, dir, kind: "adapter", standalone: false, problem: (error as Error).message };
  }
}

/** Every adapter directory (a folder with adapter.json) directly inside the search folders; the first of a name wins. */
export async function listLocalAdapters(): Promise<LocalAdapter[]> {
  const out: LocalAdapter[] = [];
  const seen = new Set<string>();
  for (const root of searchDirs()) {
    let names: string[];
    try {
      names = fs.readdirSync(root).sort();
    } catch {
      continue;
    }
    for (const name of names) {
      const dir = path.join(root, name);
      if (seen.has(name) || !fs.existsSync(path.join(dir, CARD_FILE))) continue;
      seen.add(name);
      out.push(await describe(name, dir));
    }
  }
  return out;
}

/** A directory holding an adapter, or the name of one in the search folders (`vlmkit models` lists them). */
export async function findAdapter(dirOrName: string): Promise<string> {
  if (fs.existsSync(path.join(dirOrName, CARD_FILE))) return dirOrName;
  if (fs.existsSync(dirOrName)) {
    throw new InvalidArgumentError(`${dirOrName} is not an adapter directory: it has no ${CARD_FILE}`);
  }
  if (!dirOrName.includes("/") && !dirOrName.includes(path.sep)) {
    for (const root of searchDirs()) {
      const dir = path.join(root, dirOrName);
      if (fs.existsSync(path.join(dir, CARD_FILE))) return dir;
    }
  }
  throw new InvalidArgumentError(
    `no adapter or bundle "${dirOrName}": not a directory, nor a name in ${searchDirs().join(", ")} (see \`vlmkit models\`)`,
  );
}
