/**
 * SigLIP vision tower at any size: fixed resolution (Conv patch embedding + learned positions) and
 * SigLIP 2 NaFlex (Linear patch embedding on pre-patchified pixels + the learned G×G position grid
 * resized per image, HF `Siglip2VisionEmbeddings.resize_positional_embeddings`).
 */
import type { Graph, Value } from "../graph/index.js";
import {
  attentionPoolingHead,
  type BlockSizes,
  encoder,
  keyPaddingMask,
  layerNorm,
  linear,
} from "./siglip-layers.js";
import type { WeightFactory } from "./siglip-weights.js";

export interface VisionSizes extends BlockSizes {
  layers: number;
  imageSize: number;
  patch: number;
  /** NaFlex: number of learned positions (a square, G² with G = √numPositions). */
  numPositions: number;
}

export interface VisionOutputs {
  lastHiddenState: Value;
  pooled: Value;
}

/**
 * How `pooled` is made: "map", the attention pooling head of SigLIP checkpoints; "mean", the mean of
 * the patch features, for towers that come without a head (those of llama.cpp mmproj files).
 */
export type VisionPooling = "map" | "mean";

const P = "vision_model";

function tower(
  g: Graph,
  w: WeightFactory,
  embeddings: Value,
  mask: Value | null,
  s: VisionSizes,
  pooling: VisionPooling = "map",
): VisionOutputs {
  const hidden = encoder(g, w, `${P}.encoder`, embeddings, mask, s.layers, s);
  const lastHiddenState = layerNorm(g, w, `${P}.post_layernorm`, hidden, s);
  const pooled =
    pooling === "map"
      ? attentionPoolingHead(g, w, `${P}.head`, lastHiddenState, mask, s)
      : g.reduceMean(lastHiddenState, [1], false); // [B, N, D] → [B, D]
  return { lastHiddenState, pooled };
}

/** pixel_values [B, 3, H, W] → last_hidden_state [B, N, D], pooled [B, D] */
export function fixedVision(
  g: Graph,
  w: WeightFactory,
  pixelValues: Value,
  s: VisionSizes,
  pooling: VisionPooling = "map",
): VisionOutputs {
  const grid = s.imageSize / s.patch;
  const convW = w.normal(
    `${P}.embeddings.patch_embedding.weight`,
    [s.hidden, 3, s.patch, s.patch],
    1 / Math.sqrt(3 * s.patch * s.patch),
  );
  const convB = w.normal(`${P}.embeddings.patch_embedding.bias`, [s.hidden], 0.02);
  const patches = g.conv(pixelValues, convW, convB, { strides: [s.patch, s.patch] }); // [B, D, G, G]
  const seq = g.transpose(g.reshape(patches, [0, 0, -1]), [0, 2, 1]); // [B, N, D]
  const pos = w.normal(`${P}.embeddings.position_embedding.weight`, [grid * grid, s.hidden], 0.2);
  return tower(g, w, g.add(seq, pos), null, s, pooling);
}

/**
 * pixel_values [B, P, 3p²], pixel_attention_mask [B, P], spatial_shapes [B, 2] (int64, patches per
 * side) → last_hidden_state [B, P, D], pooled [B, D]. Padding rows get the first resized position
 * (as HF fills them), and are excluded from attention by the key mask.
 */
export function naflexVision(
  g: Graph,
  w: WeightFactory,
  pixelValues: Value,
  attentionMask: Value,
  spatialShapes: Value,
  s: VisionSizes,
): VisionOutputs {
  const side = Math.round(Math.sqrt(s.numPositions));
  const patchDim = 3 * s.patch * s.patch;
  const patchEmbeds = linear(g, pixelValues, w.linear(`${P}.embeddings.patch_embedding`, patchDim, s.hidden)); // [B, P, D]
  const table = w.normal(`${P}.embeddings.position_embedding.weight`, [side * side, s.hidden], 0.2);
  const grid = g.unsqueeze(g.transpose(g.reshape(table, [side, side, s.hidden]), [2, 0, 1]), [0]); // [1, D, G, G]
  const batch = pixelValues.shape[0];
  const numPatches = pixelValues.shape[1];
  const shape = g.shapeOf(pixelValues);
  const trip = g.gather(shape, g.scalar(0, "int64"));
  const patchCount = g.gather(shape, g.scalar(1, "int64"));
  const { scans } = g.loop({
    trip,
    tripDim: batch,
    body: (b, i) => {
      const hw = b.gather(spatialShapes, i); // [2] = (h, w)
      // F.interpolate(bilinear, align_corners=False, antialias=True) ≡ Resize linear/half_pixel/antialias/exclude_outside
      const resized = b.resize(grid, hw, { axes: [2, 3], antialias: true, excludeOutside: true }); // [1, D, h, w]
      const rows = b.transpose(b.reshape(resized, [s.hidden, -1]), [1, 0]); // [h·w, D]
      const real = b.mul(b.gather(hw, b.scalar(0, "int64")), b.gather(hw, b.scalar(1, "int64")));
      const idx = b.range(b.scalar(0, "int64"), patchCount, b.scalar(1, "int64"), numPatches); // [P]
      const pick = b.where(b.less(idx, real), idx, b.scalar(0, "int64"));
      return { scans: [b.gather(rows, pick)] }; // [P, D]
    },
  });
  const embeddings = g.add(patchEmbeds, scans[0]); // [B, P, D]
  return tower(g, w, embeddings, keyPaddingMask(g, attentionMask), s);
}
