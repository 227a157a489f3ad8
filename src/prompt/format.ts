/** A readable listing of a prompt plan, one segment per line, for logs, debugging and snapshot tests. */
import type { PromptPlan, TrainingLayout } from "./types.js";

/**
 * ```
 * 0  special  "<bos><start_of_turn>"
 * 1  text     "user\nDescribe "
 * 3  image    #0 × 256                 bidirectional
 * 9  ▶ generation
 * ```
 * Text is JSON-quoted so whitespace shows. Marks: `bidirectional` (inside a non-causal range),
 * `label` (training target).
 */
export function formatPlan(plan: PromptPlan | TrainingLayout): string {
  const width = String(plan.segments.length).length;
  const lines = [`${plan.style}, attention ${plan.attention}, ${plan.imageCount} image(s)`];
  const inRange = (i: number, r: { start: number; end: number }) => i >= r.start && i < r.end;
  plan.segments.forEach((s, i) => {
    if (i === plan.generationStart) lines.push(`${" ".repeat(width)}  ▶ generation`);
    const body =
      s.kind === "image"
        ? `image    #${s.image} × ${s.tokens}`
        : `${s.special ? "special" : "text   "}  ${JSON.stringify(s.text)}`;
    const marks = [
      plan.bidirectional.some((r) => inRange(i, r)) ? "bidirectional" : "",
      "labels" in plan && inRange(i, plan.labels) ? "label" : "",
    ].filter(Boolean);
    lines.push(`${String(i).padStart(width)}  ${body}${marks.length > 0 ? `   [${marks.join(", ")}]` : ""}`);
  });
  if (plan.generationStart === plan.segments.length) lines.push(`${" ".repeat(width)}  ▶ generation`);
  return lines.join("\n");
}
