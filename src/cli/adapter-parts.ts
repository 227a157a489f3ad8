/**
 * The encoder and LLM an adapter runs on: the flags when given, else the sources its card records
 * (`encoder.source`, `llm.source`: a hub repo at a revision, or a part inside the adapter directory
 * verified by sha256). A card's free-text names (`encoder.id`, `llm.name`) are never read as paths.
 */
import { type AdapterCard, readAdapterCard } from "../adapter/index.js";
import { InvalidArgumentError } from "../errors.js";
import { type OnnxDtype, parseOnnxDtype } from "../hub/dtypes.js";
import { resolveEncoderSource, resolveLlmSource } from "../vlm/part-sources.js";
import { findAdapter } from "./adapter-catalog.js";
import { encoderDir } from "./encoder-arg.js";
import { llmPath } from "./llm-arg.js";
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

function missing(adapter: string, what: "encoder" | "llm"): InvalidArgumentError {
  const flag = what === "encoder" ? "--encoder <id|dir>" : "--llm <gguf|id|hf:uri>";
  return new InvalidArgumentError(
    `adapter ${adapter} does not record where its ${what} is (its card was written before vlmkit recorded it): pass ${flag}`,
    { details: { param: what } },
  );
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
  } else throw missing(args.adapter, "encoder");
  let llm: string;
  if (args.llm !== undefined) llm = await llmPath(args.llm, { json: args.json });
  else if (card.llm.source) {
    const bar = progressBar("downloading the adapter's LLM", { json: args.json, unit: "bytes" });
    try {
      llm = await resolveLlmSource(args.adapter, card.llm.source, { onProgress: (d, t) => bar.update(d, t) });
    } finally {
      bar.stop();
    }
  } else throw missing(args.adapter, "llm");
  return { adapter: args.adapter, card, encoder, dtype, llm };
}
