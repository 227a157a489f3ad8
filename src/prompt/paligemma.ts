/**
 * PaliGemma-style prompts (transformers `models/paligemma/processing_paligemma.py`):
 *
 *   <image>×N per image · <bos> · prefix · "\n"  → the model writes suffix · <eos>
 *
 * Images and prefix attend to each other fully (prefix-LM); the suffix is causal. Training labels cover
 * the suffix and <eos> only. The reference tokenizes "prefix\n" and the suffix separately (a text pair),
 * so they are separate segments here too.
 */
import { InvalidArgumentError } from "../errors.js";
import { assertImageCount, checkImageTokens, countPlaceholders, stripPlaceholders } from "./images.js";
import { SegmentList } from "./segments.js";
import { styleAttention } from "./style.js";
import type { AttentionMode, PromptPlan, SegmentRange, TrainingLayout } from "./types.js";

export interface PaligemmaPromptOptions {
  /**
   * The task prefix, e.g. "caption en". May contain `<image>` placeholders: then their number must equal
   * the number of images, and they are removed (with the whitespace right after each), because
   * PaliGemma always puts images first. Default "".
   */
  prefix?: string;
  /** One entry per image: how many embeddings it contributes (N = patches). */
  imageTokens: readonly number[];
  /** Default "prefix-lm", as PaliGemma was trained; "causal" and "bidirectional-image" for other adapters. */
  attention?: AttentionMode;
}

export interface PaligemmaTrainingOptions extends PaligemmaPromptOptions {
  /** The answer the model should write; `<eos>` is appended. */
  suffix: string;
}

function placedPrefix(prefix: string, images: number): string {
  const found = countPlaceholders(prefix);
  if (found === 0) return prefix;
  assertImageCount(found, images);
  return stripPlaceholders(prefix);
}

function build(options: PaligemmaPromptOptions, suffix?: string): TrainingLayout {
  const { imageTokens } = options;
  const attention = styleAttention("paligemma", options.attention);
  checkImageTokens(imageTokens);
  const prefix = placedPrefix(options.prefix ?? "", imageTokens.length);
  const list = new SegmentList();
  for (const [i, tokens] of imageTokens.entries()) list.image(i, tokens);
  list.control("<bos>").plain(`${prefix}\n`).seal();
  const promptEnd = list.length;
  if (suffix !== undefined) list.plain(suffix).control("<eos>");

  const bidirectional: SegmentRange[] =
    attention === "prefix-lm"
      ? [{ start: 0, end: promptEnd }]
      : attention === "bidirectional-image"
        ? imageTokens.map((_, i) => ({ start: i, end: i + 1 }))
        : [];

  return {
    style: "paligemma",
    attention,
    segments: list.segments,
    bidirectional,
    generationStart: promptEnd,
    imageCount: imageTokens.length,
    labels: { start: promptEnd, end: list.length },
  };
}

/** The prompt to generate from: images, `<bos>`, prefix, "\n". */
export function paligemmaPrompt(options: PaligemmaPromptOptions): PromptPlan {
  const { labels: _labels, ...plan } = build(options);
  return plan;
}

/** A training example: the prompt, then suffix + `<eos>` as the labelled segments. */
export function paligemmaTrainingLayout(options: PaligemmaTrainingOptions): TrainingLayout {
  if (options.suffix === "")
    throw new InvalidArgumentError("suffix must not be empty: it is what the model learns to write");
  return build(options, options.suffix);
}
