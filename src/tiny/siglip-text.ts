/** SigLIP text tower: token + position embeddings, encoder, final LayerNorm, last-position pooling, head. */
import type { Graph, Value } from "../graph/index.js";
import { type BlockSizes, encoder, layerNorm, linear } from "./siglip-layers.js";
import type { WeightFactory } from "./siglip-weights.js";

export interface TextSizes extends BlockSizes {
  layers: number;
  vocab: number;
  /** Sequence length = max_position_embeddings (64 in SigLIP / SigLIP 2). */
  length: number;
  /** Output width of the head (projection_size; = hidden in SigLIP 1). */
  projection: number;
}

const P = "text_model";

/** input_ids [B, L] int64 → last_hidden_state [B, L, D], pooled [B, projection] */
export function textTower(
  g: Graph,
  w: WeightFactory,
  inputIds: Value,
  s: TextSizes,
): { lastHiddenState: Value; pooled: Value } {
  const tokens = w.normal(`${P}.embeddings.token_embedding.weight`, [s.vocab, s.hidden], 0.5);
  const positions = w.normal(`${P}.embeddings.position_embedding.weight`, [s.length, s.hidden], 0.2);
  const x = g.add(g.gather(tokens, inputIds), positions); // [B, L, D]
  const hidden = encoder(g, w, `${P}.encoder`, x, null, s.layers, s);
  const lastHiddenState = layerNorm(g, w, `${P}.final_layer_norm`, hidden, s);
  // SigLIP pools the last position (the model was trained on text padded to the full length).
  const last = g.squeeze(g.slice(lastHiddenState, [-1], [Number.MAX_SAFE_INTEGER], [1]), [1]); // [B, D]
  const pooled = linear(g, last, w.linear(`${P}.head`, s.hidden, s.projection));
  return { lastHiddenState, pooled };
}
