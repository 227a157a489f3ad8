/**
 * What an adapter card's names may resolve to. A card comes with the adapter, from wherever the adapter
 * came from, and its names are free text (`llm.name` is copied from GGUF `general.name`). They are
 * looked up in the model registry (the encoder also as an `org/repo` on the hub) and never read as a
 * file path or a URL; a card naming anything else asks for `--llm` / `--encoder`.
 */
import type { AdapterCard } from "../adapter/index.js";
import { InvalidArgumentError } from "../errors.js";
import { isRepoId } from "../hub/cache.js";
import { findModel, type LlmEntry } from "../hub/index.js";

/** The registry LLM the card names; throws INVALID_ARGUMENT (asking for --llm) for anything else. */
export function llmEntryFromCard(card: AdapterCard, adapterDir: string): LlmEntry {
  const name = card.llm.name;
  const entry = findModel(name);
  if (entry?.kind === "llm") return entry;
  throw new InvalidArgumentError(
    `adapter ${adapterDir} names its LLM ${JSON.stringify(name)}, which is not a known LLM id (see \`vlmkit models\`); a card's name is never read as a path or URL: pass --llm <gguf|id|hf:uri>`,
    { details: { param: "llm", name } },
  );
}

/**
 * The card's encoder as a registry id or an `org/repo` on the hub, for resolution from the hub cache
 * (never as a local directory); throws INVALID_ARGUMENT (asking for --encoder) for anything else.
 */
export function encoderRefFromCard(card: AdapterCard, adapterDir: string): string {
  const id = card.encoder.id;
  const entry = findModel(id);
  if (entry?.kind === "vision-encoder" || (entry === undefined && isRepoId(id))) return id;
  throw new InvalidArgumentError(
    `adapter ${adapterDir} names its encoder ${JSON.stringify(id)}, which is neither a known encoder id nor an org/repo on the hub; a card's name is never read as a path or URL: pass --encoder <id|dir>`,
    { details: { param: "encoder", id } },
  );
}
