/**
 * Bounds on texts given to the text tower for embedding (CLI `embed --text`, HTTP `/v1/embeddings`,
 * `/api/embed`). The tower reads at most its text length (64 tokens) and the tokenizer only a bounded
 * prefix, so a longer text changes nothing but the cost: it is refused with a clear message instead.
 */
import { InvalidArgumentError } from "../errors.js";
import { MAX_LABEL_CHARS } from "./zero-shot-text.js";

/** Longest text, in characters (the same bound as a zero-shot label). */
export const MAX_TEXT_CHARS = MAX_LABEL_CHARS;
/** Most texts in one call (OpenAI's embeddings API accepts 2048 inputs). */
export const MAX_TEXTS = 2048;

/** Why `text` cannot be embedded, or undefined. */
export function textProblem(text: string): string | undefined {
  if (text.trim().length === 0) return "the text is empty";
  if (text.length > MAX_TEXT_CHARS) {
    return `the text is ${text.length} characters long; at most ${MAX_TEXT_CHARS} are accepted (the text tower reads 64 tokens)`;
  }
  return undefined;
}

/** Throws InvalidArgumentError naming the first bad text (`name` labels it, e.g. "--text"). */
export function checkTexts(texts: readonly string[], name = "text"): void {
  if (texts.length === 0) throw new InvalidArgumentError(`${name}: expected at least one text`);
  if (texts.length > MAX_TEXTS) {
    throw new InvalidArgumentError(`${name}: ${texts.length} texts given; at most ${MAX_TEXTS} are accepted`);
  }
  texts.forEach((text, i) => {
    const problem = textProblem(text);
    if (problem) {
      throw new InvalidArgumentError(`${name} ${i + 1}: ${problem} (starts "${text.slice(0, 40)}")`, {
        details: { param: name, index: i },
      });
    }
  });
}
