/**
 * The one way from a request to a prompt plan, as llama.cpp mtmd's `mtmd_tokenize` is for its
 * runtime: the adapter card's prompt style and attention, the messages (text where `<image>` marks
 * images, or content parts) and each image's embedding count → `PromptPlan`, or `TrainingLayout` for
 * a training example. `Vlm` (and through it the server and evaluation) and training all call these,
 * so the marker rule, its error and the style rules have this one home.
 */
import { InvalidArgumentError } from "../errors.js";
import { type ChatMessage, gemmaChatPrompt, gemmaChatTrainingLayout } from "./gemma-chat.js";
import { assertImageCount, countPlaceholders, stripPlaceholders } from "./images.js";
import { paligemmaPrompt, paligemmaTrainingLayout } from "./paligemma.js";
import { styleAttention } from "./style.js";
import type { AttentionMode, PromptPlan, PromptStyle, TrainingLayout } from "./types.js";

export interface PromptRequest {
  /** The adapter card's `prompt.style`. */
  style: PromptStyle;
  /** The card's `attention`. Default: the style's own ("prefix-lm" for paligemma, "bidirectional-image" for gemma-chat). */
  attention?: AttentionMode;
  /**
   * The conversation. Images are placed by `<image>` in string content or `{type: "image"}` parts, in
   * order; a message's `images` says how many it carries. With no placeholder at all, images go first.
   * PaliGemma answers one question: its messages must not hold an assistant turn (training: but the last).
   */
  messages: readonly ChatMessage[];
  /** One entry per image, in placeholder order: how many embeddings it contributes. */
  imageTokens: readonly number[];
}

/**
 * The prompt to generate from. Throws PROMPT_MISMATCH when placeholders and images disagree (both
 * counts, and the message when a message's own count is off), InvalidArgumentError for an attention
 * mode the style does not support, a PaliGemma conversation with history, bad roles.
 */
export function buildPrompt(request: PromptRequest): PromptPlan {
  const attention = styleAttention(request.style, request.attention);
  const { messages, imageTokens } = request;
  if (request.style === "gemma-chat")
    return gemmaChatPrompt({ messages, imageTokens, attention: chat(attention) });
  return paligemmaPrompt({ prefix: paligemmaPrefix(messages, imageTokens.length), imageTokens, attention });
}

/** A training example: the last message is the assistant's answer, which carries the labels. */
export function buildTrainingLayout(request: PromptRequest): TrainingLayout {
  const attention = styleAttention(request.style, request.attention);
  const { messages, imageTokens } = request;
  if (request.style === "gemma-chat") {
    return gemmaChatTrainingLayout({ messages, imageTokens, attention: chat(attention) });
  }
  const answer = messages.at(-1);
  if (answer?.role !== "assistant" && answer?.role !== "model") {
    throw new InvalidArgumentError(
      "a training conversation must end with an assistant message: its answer is the label",
    );
  }
  return paligemmaTrainingLayout({
    prefix: paligemmaPrefix(messages.slice(0, -1), imageTokens.length),
    suffix: textOf(answer),
    imageTokens,
    attention,
  });
}

/**
 * Checks a request before its images are encoded (their embedding counts are not known yet): the same
 * rules and errors as `buildPrompt`, for `images` images.
 */
export function checkPrompt(request: Omit<PromptRequest, "imageTokens">, images: number): void {
  buildPrompt({ ...request, imageTokens: Array.from({ length: images }, () => 1) });
}

/** `styleAttention` has refused "prefix-lm" for gemma-chat. */
function chat(attention: AttentionMode): Exclude<AttentionMode, "prefix-lm"> {
  return attention as Exclude<AttentionMode, "prefix-lm">;
}

function textOf(message: ChatMessage): string {
  return typeof message.content === "string"
    ? message.content
    : message.content.flatMap((p) => (p.type === "text" ? [p.text] : [])).join("\n");
}

/**
 * PaliGemma takes one text prefix, images always first: the messages' texts joined with "\n", their
 * placeholders counted against the images and removed (each with the whitespace after it).
 */
function paligemmaPrefix(messages: readonly ChatMessage[], images: number): string {
  if (messages.some((m) => m.role === "assistant" || m.role === "model")) {
    throw new InvalidArgumentError(
      "this adapter uses the PaliGemma prompt, which answers single questions; send one user message",
    );
  }
  let placeholders = 0;
  messages.forEach((m, i) => {
    const own =
      typeof m.content === "string"
        ? countPlaceholders(m.content)
        : m.content.filter((p) => p.type === "image").length;
    if (m.images !== undefined && own > 0) assertImageCount(own, m.images, `messages[${i}]`);
    placeholders += own > 0 ? own : (m.images ?? 0);
  });
  if (placeholders > 0) assertImageCount(placeholders, images);
  return stripPlaceholders(messages.map(textOf).join("\n"));
}
