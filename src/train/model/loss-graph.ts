/**
 * The adapter's training loss as one ONNX graph: cached vision features → linear adapter → the frozen
 * gemma3 forward pass → cross-entropy on the answer tokens, plus the gradients of that loss with
 * respect to the adapter's weight and bias (`src/graph` autodiff). The LLM weights are graph inputs
 * that get no gradients, so the backward pass emits only what the adapter needs.
 *
 * Inputs (T = length bucket, P = output bucket, Dv = feature width, E = LLM width):
 *   features          float32 [T, Dv]  patch features at the image rows, zeros elsewhere
 *   adapter.weight    float32 [E, Dv]  the adapter's W (LinearAdapter layout)
 *   adapter.bias      float32 [E]
 *   targets           int64   [P]      the token each output row must predict (padding: any id)
 *   target_weights    float32 [P]      1 / (real targets) on real rows, 0 on padding rows
 *   + the gemma3 graph's inputs (`buildGemma3Graph`): tokens, use_embeds, positions, mask,
 *     output_positions and every GGUF weight by name
 * Outputs: loss float32 [] (mean negative log-likelihood over the real targets), and with gradients
 * grad_weight [E, Dv] and grad_bias [E].
 *
 * The adapter writes straight into the graph's `embeds`, which are in the scaled token-embedding
 * space: the space the adapter is defined to output (docs/adapter.md#embedding-scale) and the one the runtime feeds llama.cpp
 * for gemma3 (factor 1), so no scale sits between them.
 */
import { InvalidArgumentError } from "../../errors.js";
import { Graph, gradients, type Value } from "../../graph/index.js";
import { buildGemma3Graph } from "./gemma3-graph.js";
import type { Gemma3Spec } from "./gemma3-spec.js";

export const FEATURES = "features";
export const ADAPTER_WEIGHT = "adapter.weight";
export const ADAPTER_BIAS = "adapter.bias";
export const TARGETS = "targets";
export const TARGET_WEIGHTS = "target_weights";
export const LOSS = "loss";
export const GRAD_WEIGHT = "grad_weight";
export const GRAD_BIAS = "grad_bias";

export interface AdapterLossGraphOptions {
  /** T: the fixed sequence length. */
  length: number;
  /** P: the fixed number of output rows. */
  outputs: number;
  /** Dv: the width of the vision features. */
  featureSize: number;
  /** Append the backward pass (grad_weight, grad_bias). Default true; false gives a loss-only graph for validation. */
  gradients?: boolean;
}

export interface AdapterLossGraph {
  graph: Graph;
  loss: Value;
  /** Present when built with gradients. */
  gradWeight?: Value;
  gradBias?: Value;
}

export function buildAdapterLossGraph(spec: Gemma3Spec, options: AdapterLossGraphOptions): AdapterLossGraph {
  const { length: T, outputs: P, featureSize: Dv } = options;
  const E = spec.embedding;
  if (!Number.isInteger(Dv) || Dv < 1) {
    throw new InvalidArgumentError(`featureSize ${Dv}; expected a positive integer`);
  }
  const g = new Graph("adapter_loss");
  const features = g.input(FEATURES, "float32", [T, Dv]);
  const weight = g.input(ADAPTER_WEIGHT, "float32", [E, Dv]);
  const bias = g.input(ADAPTER_BIAS, "float32", [E]);
  const embeds = g.add(g.matmul(features, g.transpose(weight, [1, 0])), bias); // [T, Dv] → [T, E]

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
  const grads = gradients(g, loss, [weight, bias]);
  return {
    graph: g,
    loss,
    gradWeight: g.output(grads.get(weight) as Value, GRAD_WEIGHT),
    gradBias: g.output(grads.get(bias) as Value, GRAD_BIAS),
  };
}
