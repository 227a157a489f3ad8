/**
 * What identifies an LLM for the adapters trained on it: architecture, n_embd, vocabulary size and a
 * fingerprint of the vocabulary, all read from the GGUF. An adapter card records these; loading
 * checks them (`checkCompatibility` in adapter/).
 */
import crypto from "node:crypto";

/** The LLM in use, as read from its GGUF. */
export interface LlmIdentity {
  /** `general.architecture`; checked when given. */
  architecture?: string;
  /** n_embd (Dl) */
  nEmbd: number;
  /** Vocabulary size; checked when given. */
  nVocab?: number;
  /** `vocabFingerprint(tokens)`; checked when given. */
  vocabFingerprint?: string;
  /** Shown in messages only: a renamed or requantized file of the same model is still compatible. */
  name?: string;
}

/**
 * sha256 over the vocabulary in token-id order: for each token, its UTF-8 byte length as a u32
 * little-endian followed by its UTF-8 bytes (length-prefixed, so no separator can be ambiguous).
 * Returned as `sha256:<hex>`.
 */
export function vocabFingerprint(tokens: readonly string[]): string {
  const hash = crypto.createHash("sha256");
  const len = Buffer.alloc(4);
  for (const token of tokens) {
    const bytes = Buffer.from(token, "utf8");
    len.writeUInt32LE(bytes.length, 0);
    hash.update(len);
    hash.update(bytes);
  }
  return `sha256:${hash.digest("hex")}`;
}
