/**
 * The encoder and LLM an adapter runs on: the flags when given, else the sources its card records
 * (`encoder.source`, `llm.source`: a hub repo at a revision, or a part inside the adapter directory
 * verified by sha256), else, for a card written before sources were recorded, its names when they
 * are registry ids or hub repos (`card-refs.ts`). A card never makes vlmkit read a path outside the
 * adapter directory or fetch a URL.
 */
import { type AdapterCard, readAdapterCard } from "../adapter/index.js";
import { type OnnxDtype, parseOnnxDtype } from "../hub/dtypes.js";
import { resolveEncoderSource, resolveLlmSource } from "../vlm/part-sources.js";
import { findAdapter } from "./adapter-catalog.js";
import { encoderRefFromCard, llmEntryFromCard } from "./card-refs.js";
import { encoderDir } from "./encoder-arg.js";
import { llmPath, registryLlmPath } from "./llm-arg.js";
import { progressBar } from "./output.js";

export interface AdapterPartArgs {
  adapter: string;
  /** `--encoder`; undefined: the card's. */
  encoder?: string;
  /** `--llm`; undefined: the card's. */
  llm?: string;
  dtype: string;
  json?: boolean;
}

export interface AdapterParts {
  /** The adapter directory (`--adapter` may also name one: `findAdapter`). */
  adapter: string;
  card: AdapterCard;
  encoder: string;
  dtype: OnnxDtype;
  llm: string;
}

export async function adapterParts(partArgs: AdapterPartArgs): Promise<AdapterParts> {
  const args = { ...partArgs, adapter: await findAdapter(partArgs.adapter) };
  const card = await readAdapterCard(args.adapter);
  const dtype = parseOnnxDtype(args.dtype);
  let encoder: string;
  if (args.encoder !== undefined) encoder = (await encoderDir({ ...args, encoder: args.encoder })).dir;
  else if (card.encoder.source) {
    const bar = progressBar("downloading the adapter's encoder", { json: args.json, unit: "bytes" });
    try {
      encoder = await resolveEncoderSource(args.adapter, card.encoder.source, {
        dtype,
        onProgress: (d, t) => bar.update(d, t),
      });
    } finally {
      bar.stop();
    }
  } else {
    const ref = encoderRefFromCard(card, args.adapter);
    encoder = (await encoderDir({ ...args, encoder: ref, hubOnly: true })).dir;
  }
  let llm: string;
  if (args.llm !== undefined) llm = await llmPath(args.llm, { json: args.json });
  else if (card.llm.source) {
    const bar = progressBar("downloading the adapter's LLM", { json: args.json, unit: "bytes" });
    try {
      llm = await resolveLlmSource(args.adapter, card.llm.source, { onProgress: (d, t) => bar.update(d, t) });
    } finally {
      bar.stop();
    }
  } else llm = await registryLlmPath(llmEntryFromCard(card, args.adapter), { json: args.json });
  return { adapter: args.adapter, card, encoder, dtype, llm };
}
