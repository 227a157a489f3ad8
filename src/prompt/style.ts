/** Which attention modes each prompt style supports, and its default: the rule every caller goes through. */
import { InvalidArgumentError } from "../errors.js";
import type { AttentionMode, PromptStyle } from "./types.js";

/** The modes each style supports; the first is the style's default (what the pretrained models use). */
const STYLE_ATTENTION: Readonly<Record<PromptStyle, readonly AttentionMode[]>> = {
  paligemma: ["prefix-lm", "bidirectional-image", "causal"],
  // Gemma 3 has no prefix: its text is causal, only an image's own embeddings attend to each other.
  "gemma-chat": ["bidirectional-image", "causal"],
};

function modesOf(style: PromptStyle): readonly AttentionMode[] {
  const modes = Object.hasOwn(STYLE_ATTENTION, style) ? STYLE_ATTENTION[style] : undefined;
  if (!modes) {
    throw new InvalidArgumentError(`prompt style "${style}"; expected "paligemma" or "gemma-chat"`);
  }
  return modes;
}

/** The attention a style uses when none is given: "prefix-lm" for paligemma, "bidirectional-image" for gemma-chat. */
export function defaultAttention(style: PromptStyle): AttentionMode {
  return modesOf(style)[0];
}

/** `attention`, or the style's default; throws InvalidArgumentError for a mode the style does not support. */
export function styleAttention(style: PromptStyle, attention?: AttentionMode): AttentionMode {
  const modes = modesOf(style);
  if (attention === undefined) return modes[0];
  if (!modes.includes(attention)) {
    const list = modes.map((m) => `"${m}"`);
    throw new InvalidArgumentError(
      `the ${style} style supports ${list.slice(0, -1).join(", ")} or ${list.at(-1)} attention, got "${attention}"`,
    );
  }
  return attention;
}
