/** `--llm <gguf | known id | hf:uri>` → a local GGUF path. */
import fs from "node:fs";
import path from "node:path";
import { resolveModelFile } from "node-llama-cpp";
import { HubError, InvalidArgumentError } from "../errors.js";
import { networkErrorCode } from "../hub/http.js";
import { findModel, type LlmEntry, resolveHubSettings, snapshotDownload } from "../hub/index.js";
import { progressBar } from "./output.js";

/** `hf:org/name/path/to/file.gguf` → repo and file; undefined for other forms (`hf:org/name:Q4_K_M`). */
function hfFileUri(arg: string): { repo: string; file: string } | undefined {
  const m = /^hf:([\w.-]+\/[\w.-]+)\/(.+\.gguf)$/i.exec(arg);
  return m ? { repo: m[1], file: m[2] } : undefined;
}

export async function llmPath(arg: string, opts: { json?: boolean } = {}): Promise<string> {
  if (fs.existsSync(arg)) return path.resolve(arg);
  // An hf: URI naming a file goes through the hub client: the same cache, offline mode and messages.
  const hf = hfFileUri(arg);
  if (hf) {
    const bar = progressBar(`downloading ${arg}`, { json: opts.json, unit: "bytes" });
    try {
      const snap = await snapshotDownload(hf.repo, {
        files: [hf.file],
        onProgress: (d, t) => bar.update(d, t),
      });
      return path.join(snap.dir, hf.file);
    } finally {
      bar.stop();
    }
  }
  // Other hf: forms (a quantization tag) and URLs need node-llama-cpp's resolver, which asks the network.
  if (arg.startsWith("hf:") || /^https?:\/\//.test(arg)) {
    const { offline, cacheDir } = resolveHubSettings({});
    if (offline) {
      throw new HubError(
        "HUB_OFFLINE",
        `HF_HUB_OFFLINE is set and --llm "${arg}" must be resolved over the network; unset HF_HUB_OFFLINE, ` +
          `or name the file (hf:org/name/file.gguf) once it is in the cache at ${cacheDir}, or pass the GGUF's path`,
        { details: { llm: arg, cacheDir } },
      );
    }
    try {
      return await resolveModelFile(arg, { cli: false, verify: false });
    } catch (error) {
      if (!networkErrorCode(error)) throw error;
      throw new HubError(
        "HUB_OFFLINE",
        `cannot reach the network (${networkErrorCode(error)}) to resolve --llm "${arg}"; connect to the network, or pass the GGUF's path`,
        { cause: error, details: { llm: arg } },
      );
    }
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
