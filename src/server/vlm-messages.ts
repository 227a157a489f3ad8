/**
 * Chat turns + the request's decoded images → the VLM's messages. Images go where the turn's text has
 * `<image>` placeholders, or before its text when it has none; a placeholder count that differs from
 * the turn's image count is refused here, naming the message, instead of shifting images between turns.
 */
import { VlmkitError } from "../errors.js";
import type { RgbImage } from "../image/index.js";
import { IMAGE_PLACEHOLDER } from "../prompt/index.js";
import type { VlmMessage } from "../vlm.js";
import type { ChatTurn } from "./chat-request.js";

type Part = Exclude<VlmMessage["content"], string>[number];

/** `images` holds every turn's images in request order (as `requestImages` lists them). */
export function toVlmMessages(turns: readonly ChatTurn[], images: readonly RgbImage[]): VlmMessage[] {
  let next = 0;
  return turns.map((turn, i): VlmMessage => {
    const mine = images.slice(next, next + turn.images.length);
    next += turn.images.length;
    const pieces = turn.text.split(IMAGE_PLACEHOLDER);
    const placeholders = pieces.length - 1;
    if (placeholders > 0 && placeholders !== mine.length) {
      throw new VlmkitError(
        "PROMPT_MISMATCH",
        `messages[${i}]: the text holds ${placeholders} image placeholder${placeholders === 1 ? "" : "s"} "${IMAGE_PLACEHOLDER}" but the message carries ${mine.length} image${mine.length === 1 ? "" : "s"}`,
        { details: { param: `messages[${i}]`, placeholders, images: mine.length } },
      );
    }
    if (mine.length === 0) return { role: turn.role, content: turn.text };
    const text = (t: string): Part[] => (t.trim() ? [{ type: "text", text: t }] : []);
    const content: Part[] =
      placeholders === 0
        ? [...mine.map((image): Part => ({ type: "image", image })), ...text(turn.text)]
        : pieces.flatMap((t, k) => [
            ...(k > 0 ? [{ type: "image" as const, image: mine[k - 1] }] : []),
            ...text(t),
          ]);
    return { role: turn.role, content };
  });
}
