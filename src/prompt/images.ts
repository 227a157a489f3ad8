/** The image placeholder and the checks shared by the prompt builders. */
import { InvalidArgumentError, VlmkitError } from "../errors.js";

/** Marks where an image goes in prompt text (as in PaliGemma processors and LLaVA data). */
export const IMAGE_PLACEHOLDER = "<image>";

export function countPlaceholders(text: string): number {
  return text.split(IMAGE_PLACEHOLDER).length - 1;
}

/** Throws PROMPT_MISMATCH with both counts, as llama.cpp mtmd does for media markers. */
export function assertImageCount(placeholders: number, images: number): void {
  if (placeholders !== images) {
    throw new VlmkitError(
      "PROMPT_MISMATCH",
      `number of image placeholders "${IMAGE_PLACEHOLDER}" in the prompt (${placeholders}) does not match the number of images (${images})`,
      { details: { placeholders, images } },
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
