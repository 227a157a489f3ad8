/**
 * Checks that an adapter card fits the encoder and LLM it is about to be used with. Every mismatch
 * message names both sides: what the adapter was trained for and what is loaded.
 */
import { IncompatibleModelError } from "../errors.js";
import type { LlmIdentity } from "../llm/identity.js";
import type { AdapterCard } from "./card.js";

/** The encoder in use, as the runtime knows it. */
export interface EncoderIdentity {
  /** Registry id, hub repo or name; compared exactly with the card's `encoder.id`. */
  id: string;
  /** Dv */
  hidden: number;
}

export interface CompatibilityExpectations {
  expectEncoder?: EncoderIdentity;
  expectLlm?: LlmIdentity;
}

/** Throws `IncompatibleModelError` on the first mismatch; `source` names the adapter (its directory). */
export function checkCompatibility(
  card: AdapterCard,
  expected: CompatibilityExpectations,
  source: string,
): void {
  const enc = expected.expectEncoder;
  if (enc) {
    const trained = `"${card.encoder.id}" (Dv ${card.encoder.hidden})`;
    const loaded = `"${enc.id}" (Dv ${enc.hidden})`;
    if (enc.id !== card.encoder.id || enc.hidden !== card.encoder.hidden) {
      throw new IncompatibleModelError(
        `adapter ${source} was trained for encoder ${trained} but the loaded encoder is ${loaded}`,
        { details: { field: "encoder", adapter: card.encoder.id, loaded: enc.id } },
      );
    }
  }
  const llm = expected.expectLlm;
  if (llm) {
    const name = (n: string | undefined) => (n ? `"${n}" ` : "");
    const mismatch = (what: string, trainedValue: string, loadedValue: string) =>
      new IncompatibleModelError(
        `adapter ${source} was trained for LLM ${name(card.llm.name)}with ${what} ${trainedValue} but the loaded LLM ` +
          `${name(llm.name)}has ${what} ${loadedValue}`,
        { details: { field: what, adapter: trainedValue, loaded: loadedValue } },
      );
    if (llm.architecture !== undefined && llm.architecture !== card.llm.architecture) {
      throw mismatch("architecture", `"${card.llm.architecture}"`, `"${llm.architecture}"`);
    }
    if (llm.nEmbd !== card.llm.n_embd) throw mismatch("n_embd", String(card.llm.n_embd), String(llm.nEmbd));
    if (llm.nVocab !== undefined && llm.nVocab !== card.llm.n_vocab) {
      throw mismatch("n_vocab", String(card.llm.n_vocab), String(llm.nVocab));
    }
    if (llm.vocabFingerprint !== undefined && llm.vocabFingerprint !== card.llm.vocab_fingerprint) {
      throw mismatch("vocabulary fingerprint", card.llm.vocab_fingerprint, llm.vocabFingerprint);
    }
  }
}
