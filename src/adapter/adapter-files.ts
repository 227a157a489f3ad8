/**
 * An adapter on disk is a directory with `adapter.json` (the card, whose `adapter.kind` says which
 * tensors to expect) and `adapter.safetensors` (float32; `linear.weight` [Dl, Dv] and `linear.bias` [Dl]
 * for the linear kind, docs/adapter.md for the others).
 */
import fs from "node:fs";
import path from "node:path";
import { InvalidArgumentError, ModelFormatError } from "../errors.js";
import { embeddingScaleFor } from "../llm/embedding-scale.js";
import type { OnnxSessionOptions } from "../runtime/onnx-session.js";
import { writeFilesAtomic } from "../util/fs.js";
import { readSafetensors, serializeSafetensors } from "../util/safetensors.js";
import { type AdapterCard, type AdapterCardInput, buildAdapterCard, parseAdapterCard } from "./card.js";
import { type CompatibilityExpectations, checkCompatibility } from "./compatibility.js";
import { adapterFromTensors } from "./kinds/registry.js";
import type { Adapter } from "./kinds/types.js";

export const CARD_FILE = "adapter.json";
export const WEIGHTS_FILE = "adapter.safetensors";

export interface LoadedAdapter {
  /** The directory it was loaded from; for one built in memory (`adapterWithCard`), the name given. Shown in messages. */
  dir: string;
  /** The trained map from encoder patches to LLM embeddings: `[N, Dv] → [M, Dl] (M < N for the merging kinds)`. */
  projection: Adapter;
  card: AdapterCard;
  /** Factor to multiply adapter outputs by before feeding llama.cpp (`embeddingScaleFor`). */
  embeddingScale: number;
}

function checkDims(
  card: AdapterCard,
  adapter: Adapter,
  source: string,
  makeError: (m: string) => Error,
): void {
  if (adapter.kind !== card.adapter.kind || adapter.factor !== card.adapter.factor) {
    throw makeError(
      `${source}: the card says a ${card.adapter.kind} adapter with factor ${card.adapter.factor}, but the weights are a ${adapter.kind} adapter with factor ${adapter.factor}`,
    );
  }
  if (adapter.inputSize !== card.encoder.hidden || adapter.outputSize !== card.llm.n_embd) {
    throw makeError(
      `${source}: the card says encoder.hidden ${card.encoder.hidden} → llm.n_embd ${card.llm.n_embd}, but the ` +
        `${adapter.kind} adapter maps ${adapter.inputSize} → ${adapter.outputSize}`,
    );
  }
}

/**
 * Writes `adapter.safetensors` and `adapter.json` into `dir` (created if needed) together: both are
 * written to temp files first and renamed only when both are complete (the card last), so a failed
 * save — a full disk — leaves the previous pair as it was. Returns the completed card.
 */
export async function saveAdapter(
  dir: string,
  adapter: Adapter,
  card: AdapterCardInput,
): Promise<AdapterCard> {
  const full = buildAdapterCard({
    ...card,
    adapter: card.adapter ?? { kind: adapter.kind, factor: adapter.factor },
  });
  checkDims(full, adapter, "saveAdapter", (m) => new InvalidArgumentError(m));
  await fs.promises.mkdir(dir, { recursive: true });
  await writeFilesAtomic([
    [
      path.join(dir, WEIGHTS_FILE),
      serializeSafetensors(adapter.toTensors(), {
        format: "pt",
        vlmkit_card_format: String(full.format_version),
      }),
    ],
    [path.join(dir, CARD_FILE), `${JSON.stringify(full, null, 2)}\n`],
  ]);
  return full;
}

/** Reads and validates `adapter.json` alone (no weights). */
export async function readAdapterCard(dir: string): Promise<AdapterCard> {
  const file = path.join(dir, CARD_FILE);
  let text: string;
  try {
    text = await fs.promises.readFile(file, "utf8");
  } catch (cause) {
    throw new ModelFormatError(
      `${file} cannot be read: ${(cause as Error).message}; an adapter directory needs ${CARD_FILE}`,
      {
        cause,
      },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ModelFormatError(`${file} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  return parseAdapterCard(json, file);
}

export interface LoadAdapterOptions extends CompatibilityExpectations {
  /** Threads, spinning and providers of the adapter's projection session (defaults: `OnnxSessionOptions`). */
  session?: OnnxSessionOptions;
}

/**
 * Loads an adapter directory; the caller owns `projection` and disposes it (`Vlm.dispose` does). Checks that the weights match the card's dims and, when expectations are
 * given, that the card fits the loaded encoder / LLM (`IncompatibleModelError` naming both sides).
 *
 * @example
 * ```ts
 * import { loadAdapter } from "vlmkit";
 *
 * const { projection, card, embeddingScale } = await loadAdapter("models/demo/adapter", {
 *   expectEncoder: { id: "siglip2", hidden: 32 },
 * });
 * const embeddings = await projection.apply(features.patches); // [N, Dv] → [N, Dl]
 * console.log(card.prompt.style, card.attention, embeddingScale);
 * ```
 */
export async function loadAdapter(dir: string, options: LoadAdapterOptions = {}): Promise<LoadedAdapter> {
  const card = await readAdapterCard(dir);
  checkCompatibility(card, options, dir);
  const weightsFile = path.join(dir, WEIGHTS_FILE);
  const { tensors } = await readSafetensors(weightsFile);
  const adapter = adapterFromTensors(
    card.adapter.kind,
    card.adapter.factor,
    tensors,
    weightsFile,
    options.session,
  );
  checkDims(card, adapter, dir, (m) => new ModelFormatError(m));
  return withScale(dir, adapter, card);
}

/**
 * An adapter held in memory with its card, in the shape `loadAdapter` returns (so `Vlm.load` takes it
 * without a directory): completes the card and checks that the weights match its dims. `name` stands
 * for the directory in messages.
 */
export function adapterWithCard(adapter: Adapter, card: AdapterCardInput, name: string): LoadedAdapter {
  const full = buildAdapterCard({
    ...card,
    adapter: card.adapter ?? { kind: adapter.kind, factor: adapter.factor },
  });
  checkDims(full, adapter, name, (m) => new InvalidArgumentError(m));
  return withScale(name, adapter, full);
}

function withScale(dir: string, adapter: Adapter, card: AdapterCard): LoadedAdapter {
  return {
    dir,
    projection: adapter,
    card,
    embeddingScale: embeddingScaleFor(card.llm.architecture, card.llm.n_embd),
  };
}
