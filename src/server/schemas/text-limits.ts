/**
 * Bounds on the text of a chat request, shared by the OpenAI and Ollama schemas. Stop strings are
 * matched against every generated token on the engine loop that all requests share, so their number
 * and length are capped; the text as a whole is capped well above what any context holds, so a
 * request cannot make the server tokenize megabytes only to refuse them as too long.
 */
import { z } from "zod";

/** Most stop strings in an Ollama request (OpenAI's API allows 4). */
export const MAX_STOP_SEQUENCES = 16;
/** Longest stop string, in characters. */
export const MAX_STOP_LENGTH = 256;
/** Most UTF-8 bytes of text in one request: messages (or prompt and system) together. 256 KiB. */
export const MAX_TEXT_BYTES = 256 * 1024;

export const stopString = z
  .string()
  .max(MAX_STOP_LENGTH, { message: `expected a stop sequence of at most ${MAX_STOP_LENGTH} characters` });

/** Adds an issue at `path` when `texts` hold more than {@link MAX_TEXT_BYTES} UTF-8 bytes. */
export function checkTextSize(
  texts: readonly string[],
  ctx: z.RefinementCtx,
  path: (string | number)[],
): void {
  const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t, "utf8"), 0);
  if (bytes > MAX_TEXT_BYTES) {
    ctx.addIssue({
      code: "custom",
      path,
      message: `the request holds ${bytes} bytes of text; at most ${MAX_TEXT_BYTES} (256 KiB) are accepted`,
    });
  }
}
