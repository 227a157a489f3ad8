/** The image placeholder, and the one error every prompt path gives when marks and images disagree. */
import { InvalidArgumentError, VlmkitError } from "../errors.js";

/** Marks where an image goes in prompt text (as in PaliGemma processors and LLaVA data). */
export const IMAGE_PLACEHOLDER = "<image>";

export function countPlaceholders(text: string): number {
  return text.split(IMAGE_PLACEHOLDER).length - 1;
}

/** Removes every placeholder with the whitespace right after it (PaliGemma puts images first). */
export function stripPlaceholders(text: string): string {
  return text.split(new RegExp(`${IMAGE_PLACEHOLDER}\\s*`)).join("");
}

/**
 * Throws PROMPT_MISMATCH with both counts, as llama.cpp mtmd does for media markers. `where` names the
 * text that was counted: "the prompt" (default) or one message, `messages[i]`, which then is also
 * `details.param`.
 */
export function assertImageCount(placeholders: number, images: number, where?: string): void {
  if (placeholders !== images) {
    throw new VlmkitError(
      "PROMPT_MISMATCH",
      `number of image placeholders "${IMAGE_PLACEHOLDER}" in ${where ?? "the prompt"} (${placeholders}) does not match the number of images (${images})`,
      { details: where === undefined ? { placeholders, images } : { param: where, placeholders, images } },
    );
  }
}

/** Checks `imageTokens` (one entry per image: how many embeddings it contributes). */
export function checkImageTokens(imageTokens: readonly number[]): void {
  imageTokens.forEach((n, i) => {
    if (!Number.isInteger(n) || n <= 0) {
      throw new InvalidArgumentError(`imageTokens[${i}] must be a positive integer, got ${n}`);
    }
  });
}
