/**
 * Zero-shot prompt text: a template with one `{}` where each label goes. Both are bounded so that a
 * request cannot make the process build and tokenize hundreds of megabytes: the text tower reads at
 * most 64 tokens, so a longer label or template changes nothing but the cost.
 */
import { InvalidArgumentError } from "../errors.js";

export const DEFAULT_TEMPLATE = "This is a photo of {}.";
/** Longest label, in characters. */
export const MAX_LABEL_CHARS = 1024;
/** Longest template, in characters. */
export const MAX_TEMPLATE_CHARS = 1024;

/** Why `template` is unusable, or undefined when it holds exactly one `{}` within the length bound. */
export function templateProblem(template: string): string | undefined {
  if (template.length > MAX_TEMPLATE_CHARS) {
    return `the template is ${template.length} characters long; at most ${MAX_TEMPLATE_CHARS} are accepted`;
  }
  const holes = template.split("{}").length - 1;
  if (holes !== 1) return `the template must hold exactly one "{}" where the label goes; it holds ${holes}`;
  return undefined;
}

/** Why `label` is unusable, or undefined. */
export function labelProblem(label: string): string | undefined {
  if (label.length === 0) return "a label is empty";
  if (label.length > MAX_LABEL_CHARS) {
    return `a label is ${label.length} characters long; at most ${MAX_LABEL_CHARS} are accepted`;
  }
  return undefined;
}

/** One prompt per label (labels trimmed, empty ones dropped); throws InvalidArgumentError on bad input. */
export function zeroShotPrompts(
  labels: readonly string[],
  template = DEFAULT_TEMPLATE,
): {
  labels: string[];
  prompts: string[];
} {
  const problem = templateProblem(template);
  if (problem) throw new InvalidArgumentError(problem);
  const clean = labels.map((l) => l.trim()).filter((l) => l.length > 0);
  if (clean.length === 0) throw new InvalidArgumentError("classify needs at least one non-empty label");
  for (const label of clean) {
    const bad = labelProblem(label);
    if (bad) throw new InvalidArgumentError(`${bad} (starts "${label.slice(0, 40)}…")`);
  }
  return { labels: clean, prompts: clean.map((l) => template.replace("{}", l)) };
}
