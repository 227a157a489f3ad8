/**
 * A SigLIP vision tower in the public ONNX export layout, built by src/graph from given weights (those of
 * an mmproj): `onnx/vision_model.onnx` (pixel_values [B, 3, S, S] → last_hidden_state [B, N, D],
 * pooler_output [B, D]), `config.json` and `preprocessor_config.json`. The graph is vlmkit's SigLIP
 * tower (src/tiny/siglip-vision.ts) with its weights taken from a map instead of drawn at random. An
 * mmproj carries no attention-pooling head, so `pooler_output` is the mean of the patch features.
 */
import path from "node:path";
import { ModelFormatError } from "../errors.js";
import { Graph, saveModel, type Value } from "../graph/index.js";
import type { Tensor } from "../tensor.js";
import { fixedVision } from "../tiny/siglip-vision.js";
import { WeightFactory } from "../tiny/siglip-weights.js";
import { writeFileAtomic } from "../util/fs.js";

/** Initializers from `weights` by their ONNX name; a tensor the graph asks for must be there with its dims. */
class GivenWeights extends WeightFactory {
  constructor(
    graph: Graph,
    private readonly weights: ReadonlyMap<string, Tensor>,
  ) {
    super(graph, 0);
  }

  override normal(name: string, dims: readonly number[]): Value {
    const t = this.weights.get(name);
    if (!t) throw new ModelFormatError(`the vision tower needs weight "${name}", which was not provided`);
    if (t.dims.length !== dims.length || t.dims.some((d, i) => d !== dims[i])) {
      throw new ModelFormatError(
        `weight "${name}" is [${t.dims.join(", ")}]; the vision tower needs [${dims.join(", ")}]`,
      );
    }
    return this.graph.initializer(name, "float32", dims, t.data);
  }
}

export interface TowerConfig {
  /** D */
  hidden: number;
  heads: number;
  /** F */
  mlp: number;
  /** Layers the graph runs. */
  layers: number;
  eps: number;
  imageSize: number;
  patch: number;
  imageMean: [number, number, number];
  imageStd: [number, number, number];
  /** PIL resample id written to preprocessor_config.json: 2 bilinear, 3 bicubic. */
  resample: 2 | 3;
}

/** Above this many bytes of weights the ONNX file keeps them in `vision_model.onnx_data` (protobuf's 2 GiB limit). */
const EXTERNAL_DATA_BYTES = 1 << 30;

/** Writes an encoder directory `dir` for the tower; returns the files written. */
export async function writeTowerDir(
  dir: string,
  c: TowerConfig,
  weights: ReadonlyMap<string, Tensor>,
): Promise<string[]> {
  const g = new Graph("vision_model");
  const pixels = g.input("pixel_values", "float32", ["batch_size", 3, c.imageSize, c.imageSize]);
  const sizes = {
    hidden: c.hidden,
    heads: c.heads,
    mlp: c.mlp,
    eps: c.eps,
    layers: c.layers,
    imageSize: c.imageSize,
    patch: c.patch,
    numPositions: (c.imageSize / c.patch) ** 2,
  };
  const out = fixedVision(g, new GivenWeights(g, weights), pixels, sizes, "mean");
  g.output(out.lastHiddenState, "last_hidden_state"); // [B, N, D]
  g.output(out.pooled, "pooler_output"); // [B, D]
  let bytes = 0;
  for (const t of weights.values()) bytes += t.data.byteLength;
  const files = await saveModel(g, path.join(dir, "onnx", "vision_model.onnx"), {
    externalData: bytes > EXTERNAL_DATA_BYTES,
  });
  const config = {
    architectures: ["SiglipVisionModel"],
    model_type: "siglip",
    vision_config: {
      model_type: "siglip_vision_model",
      hidden_size: c.hidden,
      intermediate_size: c.mlp,
      num_attention_heads: c.heads,
      num_hidden_layers: c.layers,
      layer_norm_eps: c.eps,
      hidden_act: "gelu_pytorch_tanh",
      num_channels: 3,
      image_size: c.imageSize,
      patch_size: c.patch,
    },
  };
  const preprocessor = {
    image_processor_type: "SiglipImageProcessor",
    do_resize: true,
    do_rescale: true,
    do_normalize: true,
    rescale_factor: 1 / 255,
    image_mean: c.imageMean,
    image_std: c.imageStd,
    resample: c.resample,
    size: { height: c.imageSize, width: c.imageSize },
  };
  for (const [name, value] of [
    ["config.json", config],
    ["preprocessor_config.json", preprocessor],
  ] as const) {
    const file = path.join(dir, name);
    await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
    files.push(file);
  }
  return files;
}
