/** `--llm <gguf | known id | hf:uri>` → a local GGUF path. */
import fs from "node:fs";
import path from "node:path";
import { resolveModelFile } from "node-llama-cpp";
import { InvalidArgumentError } from "../errors.js";
import { findModel, type LlmEntry, snapshotDownload } from "../hub/index.js";
import { progressBar } from "./output.js";

export async function llmPath(arg: string, opts: { json?: boolean } = {}): Promise<string> {
  if (fs.existsSync(arg)) return path.resolve(arg);
  // node-llama-cpp owns hf: URIs and URLs (its resolver downloads into its models directory).
  if (arg.startsWith("hf:") || /^https?:\/\//.test(arg)) {
    return await resolveModelFile(arg, { cli: false, verify: false });
  }
  const entry = findModel(arg);
  if (entry?.kind === "llm") return await registryLlmPath(entry, opts);
  throw new InvalidArgumentError(
    `--llm "${arg}" is not a file, a known LLM id (see \`vlmkit models\`), or an hf: URI`,
  );
}

/** The GGUF of a registry LLM, from the hub cache or downloaded at the registry's revision. */
export async function registryLlmPath(entry: LlmEntry, opts: { json?: boolean } = {}): Promise<string> {
  const bar = progressBar(`downloading ${entry.id}`, { json: opts.json, unit: "bytes" });
  try {
    const snap = await snapshotDownload(entry.id, { onProgress: (d, t) => bar.update(d, t) });
    return path.join(snap.dir, entry.file);
  } finally {
    bar.stop();
  }
}
