/**
 * Chat turns + the request's decoded images → the VLM's messages: each turn keeps its text and carries
 * its own images, which the prompt builder places at the text's `<image>` placeholders (or before its
 * text when it has none); a turn whose placeholder count differs from its image count is refused
 * there (PROMPT_MISMATCH naming `messages[i]`), instead of shifting images between turns.
 */
import type { RgbImage } from "../image/index.js";
import type { VlmMessage } from "../vlm.js";
import type { ChatTurn } from "./chat-request.js";

/** `images` holds every turn's images in request order (as `requestImages` lists them). */
export function toVlmMessages(turns: readonly ChatTurn[], images: readonly RgbImage[]): VlmMessage[] {
  let next = 0;
  return turns.map((turn): VlmMessage => {
    const mine = images.slice(next, next + turn.images.length);
    next += turn.images.length;
    return { role: turn.role, content: turn.text, images: mine };
  });
}
