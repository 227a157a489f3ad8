/**
 * Text canonicalization the SigLIP towers were trained with (applied before the tokenizer, so it holds
 * whatever normalizers the hub's tokenizer.json does or doesn't carry):
 * - SigLIP 1 (`tokenization_siglip.py`): lowercase, strip ASCII punctuation, collapse whitespace.
 * - SigLIP 2 (`tokenization_siglip2.py`, big_vision `lower`): lowercase only.
 */
import type { EncoderFamily } from "./model-config.js";

const PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;

export function canonicalizeText(text: string, family: EncoderFamily): string {
  const lower = text.toLowerCase();
  if (family === "siglip2") return lower;
  return lower.replace(PUNCTUATION, "").replace(/\s+/g, " ").trim();
}
