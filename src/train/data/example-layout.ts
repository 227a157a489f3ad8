/**
 * One training example as the loss graph reads it: token ids with the image rows marked, the
 * attention ranges, and the rows that predict each answer token. Text is tokenized by the caller's
 * tokenizer — the LLM's own (llama.cpp through `Llm.model.tokenize`), segment by segment with the
 * segment's `special` flag, exactly as `assembleChunks` does at inference — so that training and
 * inference see the same ids and the same attention.
 */
import { InvalidArgumentError } from "../../errors.js";
import {
  type AttentionMode,
  buildTrainingLayout,
  type PromptStyle,
  resolveTokenLayout,
  type TokenRange,
  type TrainingLayout,
} from "../../prompt/index.js";

/** Text → token ids; `special` says whether control tokens like `<bos>` are parsed (`TextSegment.special`). */
export type Tokenize = (text: string, special: boolean) => ArrayLike<number>;

export interface ExampleLayoutOptions {
  /** The question (PaliGemma: the prefix; `<image>` placeholders allowed as the builders allow them). */
  prompt: string;
  /** The answer the model learns to write. */
  answer: string;
  /** Embeddings the image contributes (N patch rows). */
  imageTokens: number;
  /** Prompt style the adapter is trained for. Default "paligemma". */
  style?: PromptStyle;
  /** Attention mode. Default: the style's own ("prefix-lm" for paligemma, "bidirectional-image" for gemma-chat). */
  attention?: AttentionMode;
}

export interface ExampleLayout {
  /** L token ids; rows of the image block hold 0 (the graph reads `features` there). */
  tokens: Int32Array;
  /** First row of the image block (N rows). */
  imageStart: number;
  imageTokens: number;
  /** Ranges with bidirectional attention. */
  bidirectional: TokenRange[];
  /** Rows whose logits predict an answer token (P of them): labels.start − 1 … labels.end − 2. */
  outputPositions: number[];
  /** The answer tokens (and the closing `<eos>` / `<end_of_turn>`) those rows predict. */
  targets: number[];
}

/** The training layout (segments, ranges, label segments) for one single-image example. */
export function trainingLayout(options: ExampleLayoutOptions): TrainingLayout {
  return buildTrainingLayout({
    style: options.style ?? "paligemma",
    attention: options.attention,
    messages: [
      { role: "user", content: options.prompt },
      { role: "assistant", content: options.answer },
    ],
    imageTokens: [options.imageTokens],
  });
}

/** Tokenizes a training layout and finds the rows the loss reads. */
export function layoutExample(options: ExampleLayoutOptions, tokenize: Tokenize): ExampleLayout {
  const plan = trainingLayout(options);
  const pieces = plan.segments.map((s) =>
    s.kind === "text" ? Array.from(tokenize(s.text, s.special)) : null,
  );
  const layout = resolveTokenLayout(
    plan,
    plan.segments.map((s, i) => (s.kind === "image" ? s.tokens : (pieces[i]?.length ?? 0))),
  );
  const tokens = new Int32Array(layout.length);
  let imageStart = -1;
  plan.segments.forEach((s, i) => {
    const at = layout.segmentStarts[i];
    if (s.kind === "image") imageStart = at;
    else tokens.set(pieces[i] as number[], at);
  });
  const labels = layout.labels as TokenRange;
  if (labels.end - labels.start < 1 || labels.start < 1) {
    throw new InvalidArgumentError(
      `answer ${JSON.stringify(options.answer)} gave no label tokens; expected at least one`,
    );
  }
  const outputPositions: number[] = [];
  const targets: number[] = [];
  for (let p = labels.start; p < labels.end; p++) {
    outputPositions.push(p - 1); // the logits at p − 1 predict the token at p
    targets.push(tokens[p]);
  }
  return {
    tokens,
    imageStart,
    imageTokens: options.imageTokens,
    bidirectional: layout.bidirectional,
    outputPositions,
    targets,
  };
}
