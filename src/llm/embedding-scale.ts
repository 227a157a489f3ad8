/**
 * The adapter outputs vectors in the LLM's **scaled token-embedding space** (docs/adapter.md#embedding-scale): the space of
 * `token_embd` rows after Gemma's ×√n_embd. What llama.cpp does to raw input embeddings depends on the
 * architecture's graph (llama.cpp `src/models/*.cpp`, the version bundled with node-llama-cpp):
 *
 * - gemma3, gemma3n, gemma4, gemma-embedding: `ggml_scale(inpL, ubatch.token ? sqrtf(n_embd) : 1.0f)`,
 *   raw embeddings are not scaled → factor 1.
 * - gemma, gemma2: `ggml_scale(inpL, sqrtf(n_embd))` for tokens and raw embeddings alike → factor
 *   1/√n_embd, so that llama.cpp's ×√n_embd lands back in the scaled space.
 */
import { IncompatibleModelError, InvalidArgumentError } from "../errors.js";

const UNSCALED_RAW = new Set(["gemma3", "gemma3n", "gemma4", "gemma-embedding"]);
const SCALED_RAW = new Set(["gemma", "gemma2"]);

/** Architectures whose embedding scale vlmkit knows. */
export const KNOWN_ARCHITECTURES: readonly string[] = [...UNSCALED_RAW, ...SCALED_RAW];

/**
 * The factor to multiply adapter outputs by before handing them to llama.cpp as input embeddings.
 * Throws `IncompatibleModelError` for an architecture whose convention is unknown.
 */
export function embeddingScaleFor(architecture: string, nEmbd: number): number {
  if (!Number.isInteger(nEmbd) || nEmbd <= 0) {
    throw new InvalidArgumentError(`n_embd must be a positive integer, got ${nEmbd}`);
  }
  if (UNSCALED_RAW.has(architecture)) return 1;
  if (SCALED_RAW.has(architecture)) return 1 / Math.sqrt(nEmbd);
  throw new IncompatibleModelError(
    `architecture "${architecture}" has no known embedding-scale convention; expected one of ${KNOWN_ARCHITECTURES.join(", ")}`,
  );
}
