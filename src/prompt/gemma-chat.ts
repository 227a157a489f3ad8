/**
 * Gemma 3 chat-style prompts (the Gemma 3 chat template + transformers
 * `models/gemma3/processing_gemma3.py`):
 *
 *   <bos><start_of_turn>user\n[system\n\n]{content}<end_of_turn>\n<start_of_turn>model\n{content}<end_of_turn>\n
 *   … <start_of_turn>model\n                      (generation prompt)
 *
 * Content is trimmed (string content as a whole, each text part on its own). Each image becomes
 * "<start_of_image>" + its embeddings + "<end_of_image>", with no newlines around: the layout llama.cpp's
 * mtmd builds for gemma3 (tools/mtmd/mtmd.cpp wraps the media marker in exactly these two tokens), so an
 * adapter exported as an mmproj sees the same sequence in llama-server as in vlmkit. transformers'
 * Gemma3Processor writes "\n\n" before and after; llama.cpp does not, and vlmkit follows llama.cpp
 * (docs/prompts.md). The embeddings of one image attend to each other fully, everything else is causal.
 */
import { InvalidArgumentError } from "../errors.js";
import { assertImageCount, checkImageTokens, countPlaceholders, IMAGE_PLACEHOLDER } from "./images.js";
import { SegmentList } from "./segments.js";
import { styleAttention } from "./style.js";
import type { AttentionMode, PromptPlan, SegmentRange, TrainingLayout } from "./types.js";

export type ChatContentPart = { type: "text"; text: string } | { type: "image" };

export interface ChatMessage {
  /** "assistant" and "model" are the same role; "system" is allowed only first and folds into the first user turn. */
  role: "system" | "user" | "assistant" | "model";
  /** A string (where `<image>` marks an image) or parts, as in the OpenAI / transformers message format. */
  content: string | readonly ChatContentPart[];
  /**
   * How many images this message carries, for callers that attach images to messages (Ollama's
   * `images`, the server). Its placeholders must number as many, or be absent: then the images go before
   * its text. Default: placeholders are counted over the whole conversation instead, and with none at
   * all every image goes first in the first user message.
   */
  images?: number;
}

export interface GemmaChatPromptOptions {
  messages: readonly ChatMessage[];
  /** One entry per image, in placeholder order: how many embeddings it contributes. Default []. */
  imageTokens?: readonly number[];
  /** Default "bidirectional-image" (Gemma 3); "causal" for adapters trained without it. */
  attention?: Exclude<AttentionMode, "prefix-lm">;
}

type Piece = { text: string } | { image: true };

function contentPieces(content: ChatMessage["content"]): Piece[] {
  if (typeof content === "string") {
    const pieces: Piece[] = [];
    content
      .trim()
      .split(IMAGE_PLACEHOLDER)
      .forEach((text, i) => {
        if (i > 0) pieces.push({ image: true });
        if (text !== "") pieces.push({ text });
      });
    return pieces;
  }
  return content.map((part) => (part.type === "image" ? { image: true } : { text: part.text.trim() }));
}

function countImages(pieces: readonly Piece[]): number {
  return pieces.filter((p) => "image" in p).length;
}

/** A message's pieces with its own images placed (when it says how many it carries). */
function messagePieces(message: ChatMessage, index: number): Piece[] {
  const pieces = contentPieces(message.content);
  if (message.images === undefined) return pieces;
  const marked = countImages(pieces);
  if (marked === 0) {
    pieces.unshift(...Array.from({ length: message.images }, () => ({ image: true }) as const));
  } else {
    assertImageCount(marked, message.images, `messages[${index}]`);
  }
  return pieces;
}

function systemText(message: ChatMessage): string {
  if (message.images) {
    throw new InvalidArgumentError("a system message cannot hold images; put them in a user message");
  }
  if (typeof message.content === "string") {
    // A message that says it carries no image cannot mark one.
    if (message.images === 0) assertImageCount(countPlaceholders(message.content), 0, "messages[0]");
    return message.content;
  }
  if (message.content.some((p) => p.type === "image")) {
    throw new InvalidArgumentError("a system message cannot hold images; put them in a user message");
  }
  return message.content.map((p) => (p.type === "text" ? p.text : "")).join("");
}

interface Turn {
  role: "user" | "model";
  pieces: Piece[];
}

function turns(messages: readonly ChatMessage[], imageCount: number): { system?: string; turns: Turn[] } {
  let rest = messages;
  let system: string | undefined;
  if (rest[0]?.role === "system") {
    system = systemText(rest[0]);
    rest = rest.slice(1);
  }
  const out: Turn[] = rest.map((m, i) => {
    const role = m.role === "assistant" ? "model" : m.role;
    const expected = i % 2 === 0 ? "user" : "model";
    if (role !== expected) {
      throw new InvalidArgumentError(
        `message ${i + (system === undefined ? 0 : 1)} has role "${m.role}" but roles must alternate user/assistant starting with user (after an optional system message)`,
      );
    }
    return { role, pieces: messagePieces(m, i + (system === undefined ? 0 : 1)) };
  });
  if (out.length === 0) throw new InvalidArgumentError("messages must hold at least one user message");
  const placeholders = out.reduce((n, t) => n + countImages(t.pieces), 0);
  if (placeholders === 0 && imageCount > 0) {
    // No placeholder anywhere: images go first in the first user turn, as "<image>\n…" in LLaVA data.
    out[0].pieces.unshift(...Array.from({ length: imageCount }, () => ({ image: true }) as const));
  } else {
    assertImageCount(placeholders, imageCount);
  }
  return { system, turns: out };
}

function build(options: GemmaChatPromptOptions, training: boolean): TrainingLayout {
  const { messages, imageTokens = [] } = options;
  const attention = styleAttention("gemma-chat", options.attention);
  checkImageTokens(imageTokens);
  const { system, turns: all } = turns(messages, imageTokens.length);
  if (training && all[all.length - 1].role !== "model") {
    throw new InvalidArgumentError(
      "a training conversation must end with an assistant message: its answer is the label",
    );
  }
  if (training && countImages(all[all.length - 1].pieces) > 0) {
    throw new InvalidArgumentError("the last assistant message is the label and cannot hold images");
  }
  const list = new SegmentList().control("<bos>");
  const imageRanges: SegmentRange[] = [];
  let nextImage = 0;
  let labels: SegmentRange = { start: 0, end: 0 };
  all.forEach((turn, t) => {
    const answer = training && t === all.length - 1;
    list.control("<start_of_turn>").plain(`${turn.role}\n`);
    if (t === 0 && system !== undefined) list.plain(`${system}\n\n`);
    // The answer is tokenized on its own, as it is generated after "model\n" at inference.
    if (answer) labels = { start: list.seal().length, end: 0 };
    for (const piece of turn.pieces) {
      if ("text" in piece) {
        list.plain(piece.text);
        continue;
      }
      list.control("<start_of_image>");
      imageRanges.push({ start: list.length, end: list.length + 1 });
      list.image(nextImage, imageTokens[nextImage]);
      nextImage++;
      list.control("<end_of_image>");
    }
    list.control("<end_of_turn>");
    if (answer) labels.end = list.length;
    else list.plain("\n");
  });
  if (!training) list.control("<start_of_turn>").plain("model\n");
  const generationStart = training ? labels.start : list.length;
  return {
    style: "gemma-chat",
    attention,
    segments: list.segments,
    bidirectional: attention === "causal" ? [] : imageRanges,
    generationStart,
    imageCount: imageTokens.length,
    labels,
  };
}

/** The prompt to generate from: the conversation, then `<start_of_turn>model\n`. */
export function gemmaChatPrompt(options: GemmaChatPromptOptions): PromptPlan {
  const { labels: _labels, ...plan } = build(options, false);
  return plan;
}

/**
 * A training example: the conversation up to the last assistant message, whose content and
 * `<end_of_turn>` carry the labels.
 */
export function gemmaChatTrainingLayout(options: GemmaChatPromptOptions): TrainingLayout {
  return build(options, true);
}
