/**
 * What a prompt builder returns: the sequence the runtime turns into tokens and embeddings, and the
 * attention plan over it. Everything is in segment indices; `resolveTokenLayout` maps it to token
 * positions once the runtime knows how many tokens each text segment became.
 */

/**
 * Text for the runtime to tokenize. `special: true` segments hold only control tokens (`<bos>`,
 * `<start_of_turn>`, ...) and are tokenized with special-token parsing; `special: false` segments hold
 * plain text (template text merged with the caller's text) and are tokenized literally, so a user who
 * types "<end_of_turn>" gets those characters, not the control token.
 */
export interface TextSegment {
  kind: "text";
  text: string;
  special: boolean;
}

/** Placeholder for the adapter outputs of image `image` (index into the caller's images): `tokens` rows. */
export interface ImageSegment {
  kind: "image";
  image: number;
  tokens: number;
}

export type PromptSegment = TextSegment | ImageSegment;

export type PromptStyle = "paligemma" | "gemma-chat";

/**
 * - `prefix-lm`: images and text prefix attend to each other fully; the answer is causal (PaliGemma).
 * - `bidirectional-image`: the tokens of each image attend to each other fully; causal elsewhere (Gemma 3).
 * - `causal`: causal everywhere.
 */
export type AttentionMode = "prefix-lm" | "bidirectional-image" | "causal";

/** Segments `start` (inclusive) to `end` (exclusive). */
export interface SegmentRange {
  start: number;
  end: number;
}

export interface PromptPlan {
  style: PromptStyle;
  attention: AttentionMode;
  segments: PromptSegment[];
  /** Ranges within which attention is bidirectional; decode each as one non-causal batch. */
  bidirectional: SegmentRange[];
  /** Segment index where the model's own output begins: `segments.length` for a prompt to generate from. */
  generationStart: number;
  /** Number of images the segments refer to (indices 0 … imageCount-1, each exactly once). */
  imageCount: number;
}

/** A full training example: prompt + answer, with the answer segments marked as targets. */
export interface TrainingLayout extends PromptPlan {
  /** Segments whose tokens carry labels (the answer and its end token); all other positions are masked. */
  labels: SegmentRange;
}
