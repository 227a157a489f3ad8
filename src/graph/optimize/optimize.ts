/**
 * `optimizeModel`: rewrites a SigLIP / SigLIP 2 ONNX model (vision or text tower, fixed or NaFlex) into
 * onnxruntime's fused contrib ops. Passes, in order:
 *
 * 1. `fuseLayerNorm`: LayerNorm written out in elementary ops → LayerNormalization;
 * 2. `fuseGelu`: tanh-approximated GELU (either form) → FastGelu with the Linear's bias;
 * 3. `fuseAttention`: biased Q/K/V self-attention → Attention (packed QKV);
 * 4. `fuseSkipLayerNorm`: residual Add + LayerNormalization → SkipLayerNormalization with the bias.
 *
 * Nodes left without a reader (run-time shape arithmetic of fused Reshapes) are removed. The model is
 * changed in place and returned with the number of rewrites per pass.
 */
import type { ModelProto } from "../proto/onnx_pb.js";
import { fuseAttention } from "./fuse-attention.js";
import { fuseGelu } from "./fuse-gelu.js";
import { fuseLayerNorm } from "./fuse-layer-norm.js";
import { fuseSkipLayerNorm } from "./fuse-skip-layer-norm.js";
import { GraphView } from "./graph-view.js";

export interface FusionCounts {
  layerNorm: number;
  gelu: number;
  attention: number;
  skipLayerNorm: number;
}

export function optimizeModel(model: ModelProto): { model: ModelProto; fused: FusionCounts } {
  const g = new GraphView(model);
  const layerNorm = fuseLayerNorm(g);
  const gelu = fuseGelu(g);
  const attention = fuseAttention(g);
  g.pruneDead();
  g.commit();
  const view = new GraphView(model); // fresh indexes over the committed graph
  const skipLayerNorm = fuseSkipLayerNorm(view);
  view.pruneDead();
  view.commit();
  return { model, fused: { layerNorm, gelu, attention, skipLayerNorm } };
}
