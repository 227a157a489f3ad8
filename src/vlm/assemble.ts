/**
 * Prompt plan + image embeddings → the chunks the generation engine decodes. Text segments become
 * tokens; each bidirectional range becomes one non-causal embedding block (its text tokens turned into
 * their embedding rows, so images and prefix attend to each other as in PaliGemma's prefix-LM).
 */
import { ShapeError, VlmkitError } from "../errors.js";
import type { PromptChunk } from "../llm/engine.js";
import type { Llm } from "../llm/llm.js";
import type { PromptPlan } from "../prompt/index.js";

/** `images[i]`: adapter output of image i, already scaled for the LLM: [N_i, n_embd] row-major. */
export async function assembleChunks(
  plan: PromptPlan,
  images: readonly Float32Array[],
  llm: Llm,
): Promise<PromptChunk[]> {
  if (images.length !== plan.imageCount) {
    throw new VlmkitError(
      "PROMPT_MISMATCH",
      `the prompt refers to ${plan.imageCount} images but ${images.length} were given`,
    );
  }
  const width = llm.identity.nEmbd;
  const tokens = plan.segments.map((s) =>
    s.kind === "text" ? llm.model.tokenize(s.text, { parseSpecial: s.special }) : undefined,
  );
  checkFits(plan, tokens, llm);
  const rangeAt = new Map(plan.bidirectional.map((r) => [r.start, r]));
  const chunks: PromptChunk[] = [];
  const pushTokens = (ids: Int32Array) => {
    if (ids.length === 0) return;
    const last = chunks.at(-1);
    if (last?.kind === "tokens") {
      const merged = new Int32Array(last.tokens.length + ids.length);
      merged.set(last.tokens);
      merged.set(ids, last.tokens.length);
      last.tokens = merged;
    } else chunks.push({ kind: "tokens", tokens: ids });
  };
  for (let i = 0; i < plan.segments.length; ) {
    const range = rangeAt.get(i);
    const end = range ? range.end : i + 1;
    const parts: Float32Array[] = [];
    for (let k = i; k < end; k++) {
      const seg = plan.segments[k];
      if (seg.kind === "image") {
        const rows = images[seg.image];
        if (rows.length !== seg.tokens * width) {
          throw new ShapeError(
            `image ${seg.image}: [${rows.length / width}, ${width}] embeddings, the prompt expects [${seg.tokens}, ${width}]`,
          );
        }
        parts.push(rows);
      } else if (range) {
        parts.push(await llm.tokenEmbeddings(tokens[k]!));
      } else {
        pushTokens(tokens[k]!);
      }
    }
    if (parts.length > 0) {
      const data = concat(parts);
      chunks.push({ kind: "embeddings", data, rows: data.length / width, causal: !range });
    }
    i = end;
  }
  return chunks;
}

/**
 * Refuses prompts the engine would refuse, and bidirectional blocks larger than a ubatch, before any
 * embedding row is built: a long text in a prefix-LM block would otherwise read one GGUF row per token first.
 */
function checkFits(plan: PromptPlan, tokens: (Int32Array | undefined)[], llm: Llm): void {
  const rows = (k: number) => {
    const seg = plan.segments[k];
    return seg.kind === "image" ? seg.tokens : tokens[k]!.length;
  };
  let total = 0;
  for (let k = 0; k < plan.segments.length; k++) total += rows(k);
  // The engine's own admission check (context size, queue), before any row is built.
  const admission = llm.engine.admissible(total);
  if (!admission.ok) throw admission.error;
  const { ubatchSize } = llm.engine.context.info;
  for (const range of plan.bidirectional) {
    let block = 0;
    for (let k = range.start; k < range.end; k++) block += rows(k);
    if (block > ubatchSize) {
      throw new VlmkitError(
        "CONTEXT_OVERFLOW",
        `a bidirectional block of ${block} positions (images and, for PaliGemma prompts, the question) exceeds the LLM's batch size ${ubatchSize}; shorten the question or load the LLM with a larger batchSize`,
      );
    }
  }
}

function concat(parts: Float32Array[]): Float32Array {
  if (parts.length === 1) return parts[0];
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
