/**
 * The adapter's training loss as one ONNX graph: merged image tokens → the adapter's trainable part
 * (its kind's `head`: linear, mlp, pixel-shuffle's or avgpool's projection) → the frozen gemma3 forward
 * pass → cross-entropy on the answer tokens, plus the gradients of that loss with respect to every
 * adapter parameter (`src/graph` autodiff). The LLM weights are graph inputs that get no gradients, so
 * the backward pass emits only what the adapter needs.
 *
 * The merge of the merging kinds (pixel-shuffle, avgpool) does not depend on trained weights, so the
 * trainer merges each image once (`TokenMerger`) and this graph takes merged tokens.
 *
 * Inputs (T = length bucket, P = output bucket, W = token width: Dv, or r²·Dv for pixel-shuffle, E = LLM width):
 *   features          float32 [T, W]  merged tokens at the image rows, zeros elsewhere
 *   adapter.<name>    float32         each adapter parameter under its safetensors name, e.g.
 *                                     adapter.linear.weight [E, Dv], adapter.linear.bias [E]
 *   targets           int64   [P]     the token each output row must predict (padding: any id)
 *   target_weights    float32 [P]     1 / (real targets) on real rows, 0 on padding rows
 *   + the gemma3 graph's inputs (`buildGemma3Graph`): tokens, use_embeds, positions, mask,
 *     output_positions and every GGUF weight by name
 * Outputs: loss float32 [] (mean negative log-likelihood over the real targets), and with gradients
 * grad.<name> for each adapter parameter (its shape).
 *
 * The adapter writes straight into the graph's `embeds`, which are in the scaled token-embedding
 * space: the space the adapter is defined to output (docs/adapter.md#embedding-scale) and the one the
 * runtime feeds llama.cpp for gemma3 (factor 1), so no scale sits between them.
 */
import { kindSpec } from "../../adapter/kinds/registry.js";
import type { AdapterKindName } from "../../adapter/kinds/types.js";
import { InvalidArgumentError } from "../../errors.js";
import { Graph, gradients, type Value } from "../../graph/index.js";
import { buildGemma3Graph } from "./gemma3-graph.js";
import type { Gemma3Spec } from "./gemma3-spec.js";

export const FEATURES = "features";
export const TARGETS = "targets";
export const TARGET_WEIGHTS = "target_weights";
export const LOSS = "loss";

/** The graph input that feeds adapter parameter `name`. */
export const paramInput = (name: string) => `adapter.${name}`;
/** The graph output that carries d loss / d (adapter parameter `name`). */
export const gradOutput = (name: string) => `grad.${name}`;

export interface AdapterLossGraphOptions {
  /** T: the fixed sequence length. */
  length: number;
  /** P: the fixed number of output rows. */
  outputs: number;
  /** Dv: the width of the encoder's patch features. */
  featureSize: number;
  /** The adapter kind. Default "linear". */
  kind?: AdapterKindName;
  /** Its merge factor. Default 1 (linear, mlp). */
  factor?: number;
  /** Append the backward pass (the grad.* outputs). Default true; false gives a loss-only graph for validation. */
  gradients?: boolean;
}

export interface AdapterLossGraph {
  graph: Graph;
  loss: Value;
  /** d loss / d parameter by safetensors name, present when built with gradients. */
  gradients?: Map<string, Value>;
}

export function buildAdapterLossGraph(spec: Gemma3Spec, options: AdapterLossGraphOptions): AdapterLossGraph {
  const { length: T, outputs: P, featureSize: Dv } = options;
  const kind = kindSpec(options.kind ?? "linear");
  const factor = options.factor ?? 1;
  const E = spec.embedding;
  if (!Number.isInteger(Dv) || Dv < 1) {
    throw new InvalidArgumentError(`featureSize ${Dv}; expected a positive integer`);
  }
  const g = new Graph("adapter_loss");
  const features = g.input(FEATURES, "float32", [T, kind.tokenWidth(Dv, factor)]);
  const params = new Map<string, Value>();
  for (const p of kind.params(Dv, E, factor))
    params.set(p.name, g.input(paramInput(p.name), "float32", p.dims));
  const embeds = kind.head(g, features, params); // [T, W] → [T, E]

  const llm = buildGemma3Graph(spec, { length: T, outputs: P, graph: g, embeds });
  // Only the loss and the gradients leave the session: [P, V] logits would be a large copy per run.
  g.outputs.splice(g.outputs.indexOf(llm.logits), 1);

  const targets = g.input(TARGETS, "int64", [P]);
  const targetWeights = g.input(TARGET_WEIGHTS, "float32", [P]);
  const logp = g.logSoftmax(llm.logits, -1); // [P, V]
  const picked = g.gatherElements(logp, g.unsqueeze(targets, [1]), 1); // [P, V] → [P, 1]
  const nll = g.neg(g.mul(g.reshape(picked, [P]), targetWeights)); // [P], zero on padding rows
  const loss = g.output(g.reduceSum(nll, [0], false), LOSS); // []

  if (options.gradients === false) return { graph: g, loss };
  const grads = gradients(g, loss, [...params.values()]);
  const out = new Map<string, Value>();
  for (const [name, value] of params) out.set(name, g.output(grads.get(value) as Value, gradOutput(name)));
  return { graph: g, loss, gradients: out };
}
