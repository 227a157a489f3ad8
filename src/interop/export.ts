/**
 * `exportMmproj`: a vlmkit encoder directory (fixed-resolution SigLIP, public ONNX layout with vlmkit's
 * initializer names) and an adapter → an mmproj GGUF that llama.cpp's `mtmd` loads (llama-server
 * `--mmproj`, llama-mtmd-cli): avgpool → gemma3, pixel-shuffle → idefics3, mlp → mlp. Everything is
 * checked before the file is written (atomically, by `writeGguf`), so a combination llama.cpp would
 * compute differently — or abort on — is refused with a message instead of becoming a file.
 */
import fs from "node:fs";
import path from "node:path";
import { readAdapterCard, readSafetensors, WEIGHTS_FILE } from "../adapter/index.js";
import { readEncoderConfig } from "../encoders/index.js";
import { IncompatibleModelError, InvalidArgumentError, ModelFormatError } from "../errors.js";
import { initializerMap, readModel } from "../graph/read.js";
import { readPreprocessorConfig } from "../image/index.js";
import { type GgufTensorSpec, type GgufValue, kv, writeGguf } from "../llm/gguf-write.js";
import type { Tensor } from "../tensor.js";
import {
  EXPORTABLE_KINDS,
  GEMMA3_RMS_EPS,
  KEY,
  type ProjectorType,
  projectorForKind,
  projectorTensors,
  type TensorMapping,
  towerTensors,
  transpose2d,
} from "./mmproj-format.js";

export interface ExportMmprojOptions {
  /** Encoder directory (config.json, preprocessor_config.json, onnx/vision_model.onnx). */
  encoder: string;
  /** Adapter directory (adapter.json, adapter.safetensors) trained on that encoder. */
  adapter: string;
  /** The GGUF file to write. */
  out: string;
  /**
   * Encoding of the 2-D weights and the patch embedding: "f32" (default, exact) or "f16" (half the
   * size, as llama.cpp's converter writes). Norms, biases and position embeddings stay F32.
   */
  type?: "f32" | "f16";
  /** `general.name`; default the adapter directory's name. */
  name?: string;
}

export interface ExportMmprojResult {
  file: string;
  projector: ProjectorType;
  bytes: number;
  /** Image embeddings per image llama.cpp will produce. */
  tokens: number;
}

const VisionConfig = (json: unknown, file: string) => {
  const v = (json as { vision_config?: Record<string, unknown> })?.vision_config ?? {};
  const int = (key: string, fallback?: number): number => {
    const x = v[key] ?? fallback;
    if (typeof x !== "number" || !Number.isInteger(x) || x <= 0) {
      throw new ModelFormatError(
        `${file}: vision_config.${key} is ${String(v[key])}; expected a positive integer`,
      );
    }
    return x;
  };
  const eps = v.layer_norm_eps ?? 1e-6;
  if (typeof eps !== "number" || !(eps > 0 && eps < 1)) {
    throw new ModelFormatError(`${file}: vision_config.layer_norm_eps is ${String(eps)}`);
  }
  const act = v.hidden_act ?? "gelu_pytorch_tanh";
  if (act !== "gelu_pytorch_tanh") {
    throw new ModelFormatError(
      `${file}: vision_config.hidden_act is "${String(act)}"; llama.cpp's gelu is gelu_pytorch_tanh`,
    );
  }
  return {
    heads: int("num_attention_heads"),
    layers: int("num_hidden_layers"),
    ffn: int("intermediate_size"),
    eps,
  };
};

/** Checks, then writes `options.out`. Refusals are `InvalidArgumentError` (what cannot export) or `ModelFormatError`. */
export async function exportMmproj(options: ExportMmprojOptions): Promise<ExportMmprojResult> {
  const type = options.type ?? "f32";
  if (type !== "f32" && type !== "f16")
    throw new InvalidArgumentError(`--type "${type}"; expected f32 or f16`);
  const card = await readAdapterCard(options.adapter);
  const { kind, factor } = card.adapter;
  const projector = projectorForKind(kind);
  if (!projector) {
    throw new InvalidArgumentError(
      `a ${kind} adapter has no llama.cpp projector (its mlp projector always applies GELU); the kinds that export are ${EXPORTABLE_KINDS}`,
    );
  }
  if (card.encoder.preprocessing.kind !== "fixed") {
    throw new InvalidArgumentError(
      `adapter ${options.adapter} was trained on a NaFlex encoder; llama.cpp's ${projector} projector takes fixed-resolution square images only, so only adapters of fixed-resolution encoders export (kinds ${EXPORTABLE_KINDS})`,
    );
  }
  const config = readEncoderConfig(options.encoder);
  const pre = await readPreprocessorConfig(options.encoder);
  if (pre.kind !== "fixed") {
    throw new InvalidArgumentError(
      `encoder ${options.encoder} is a NaFlex encoder; only fixed-resolution encoders export (kinds ${EXPORTABLE_KINDS})`,
    );
  }
  const configFile = path.join(options.encoder, "config.json");
  const vc = VisionConfig(JSON.parse(fs.readFileSync(configFile, "utf8")), configFile);
  const width = config.visionHidden;
  const patch = config.patchSize;
  const imageSize = pre.height;
  if (pre.width !== pre.height || imageSize % patch !== 0) {
    throw new InvalidArgumentError(
      `encoder ${options.encoder} takes ${pre.width}×${pre.height} images with ${patch}px patches; llama.cpp needs a square image of whole patches`,
    );
  }
  if (card.encoder.hidden !== width || card.encoder.preprocessing.size !== imageSize) {
    throw new IncompatibleModelError(
      `adapter ${options.adapter} was trained for an encoder of width ${card.encoder.hidden} at ${card.encoder.preprocessing.size}px, but ${options.encoder} is ${width} wide at ${imageSize}px`,
    );
  }
  if (width % vc.heads !== 0)
    throw new ModelFormatError(`${configFile}: hidden_size ${width} is not divisible by ${vc.heads} heads`);
  const side = imageSize / patch;
  if (factor > 1 && side % factor !== 0) {
    throw new InvalidArgumentError(
      `the ${side}×${side} patch grid is not a multiple of the ${kind} factor ${factor}: llama.cpp drops (gemma3) or zero-pads (idefics3) the partial blocks and counts tokens as if there were none, while vlmkit merges them; retrain with a factor that divides ${side}`,
    );
  }
  if (projector === "gemma3" && Math.abs(vc.eps - GEMMA3_RMS_EPS) > 1e-12) {
    throw new InvalidArgumentError(
      `llama.cpp's gemma3 projector normalizes with the tower's epsilon (${vc.eps}), vlmkit's avgpool with ${GEMMA3_RMS_EPS}; they must agree`,
    );
  }
  const dl = card.llm.n_embd;

  const onnxFile = path.join(options.encoder, "onnx", "vision_model.onnx");
  const initializers = initializerMap(await readModel(onnxFile));
  const { tensors: adapterTensors } = await readSafetensors(path.join(options.adapter, WEIGHTS_FILE));
  const mappings = [
    ...towerTensors({ width, ffn: vc.ffn, blocks: vc.layers, patch, positions: side * side }),
    ...projectorTensors(projector, width, dl, factor),
  ];
  const specs: GgufTensorSpec[] = mappings.map((m) => {
    const source =
      m.part === "tower"
        ? fromInitializer(initializers, m.vlmkit, onnxFile)
        : fromAdapter(adapterTensors, m.vlmkit, options.adapter);
    return toSpec(m, source, type);
  });

  const metadata: Record<string, GgufValue> = {
    [KEY.architecture]: kv.str("clip"),
    [KEY.type]: kv.str("mmproj"),
    [KEY.name]: kv.str(options.name ?? path.basename(path.resolve(options.adapter))),
    [KEY.fileType]: kv.u32(type === "f32" ? 0 : 1),
    [KEY.hasVision]: kv.bool(true),
    [KEY.projectorType]: kv.str(projector),
    [KEY.useGelu]: kv.bool(true),
    [KEY.projectionDim]: kv.u32(dl),
    [KEY.imageSize]: kv.u32(imageSize),
    [KEY.patchSize]: kv.u32(patch),
    [KEY.width]: kv.u32(width),
    [KEY.ffn]: kv.u32(vc.ffn),
    [KEY.blocks]: kv.u32(vc.layers),
    [KEY.heads]: kv.u32(vc.heads),
    [KEY.eps]: kv.f32(vc.eps),
    [KEY.imageMean]: kv.arr("float32", pre.imageMean),
    [KEY.imageStd]: kv.arr("float32", pre.imageStd),
    ...(factor > 1 ? { [KEY.scaleFactor]: kv.u32(factor) } : {}),
    // Without it llama.cpp's llava graph stops one layer early (LLaVA's second-to-last layer).
    ...(projector === "mlp" ? { [KEY.featureLayer]: kv.arr("int32", [vc.layers]) } : {}),
    // idefics3 tiles images larger than this into image_size tiles; at image_size it takes one.
    ...(projector === "idefics3" ? { [KEY.preprocImageSize]: kv.u32(imageSize) } : {}),
  };
  const { bytes } = await writeGguf(path.resolve(options.out), { metadata, tensors: specs });
  return { file: path.resolve(options.out), projector, bytes, tokens: (side / factor) ** 2 };
}

function fromInitializer(
  map: ReturnType<typeof initializerMap>,
  name: string,
  file: string,
): { dims: number[]; data: Float32Array } {
  const t = map.get(name) ?? map.get(`${name}_fp16`);
  if (!t || !(t.values instanceof Float32Array)) {
    throw new ModelFormatError(
      `${file} has no float initializer "${name}"; vlmkit exports towers whose ONNX keeps SigLIP's weight names (vlmkit's own and imported encoders)`,
    );
  }
  return { dims: t.dims, data: t.values };
}

function fromAdapter(tensors: ReadonlyMap<string, Tensor>, name: string, dir: string): Tensor {
  const t = tensors.get(name);
  if (!t) throw new ModelFormatError(`${dir}/${WEIGHTS_FILE} has no tensor "${name}"`);
  return t;
}

/** One GGUF tensor from the vlmkit tensor `source`, after checking its dims against the mapping. */
function toSpec(
  m: TensorMapping,
  source: { dims: readonly number[]; data: Float32Array },
  type: "f32" | "f16",
): GgufTensorSpec {
  const expected = m.transpose ? [m.ggufDims[1], m.ggufDims[0]] : m.ggufDims;
  if (source.dims.length !== expected.length || source.dims.some((d, i) => d !== expected[i])) {
    throw new ModelFormatError(
      `"${m.vlmkit}" is [${source.dims.join(", ")}]; the ${m.gguf} it becomes needs [${expected.join(", ")}]`,
    );
  }
  const data = m.transpose ? transpose2d(source.data, expected[0], expected[1]) : source.data;
  const matrix = m.ggufDims.length >= 2 && m.gguf !== "v.position_embd.weight";
  return {
    name: m.gguf,
    dims: [...m.ggufDims].reverse(), // ggml order
    type: type === "f16" && matrix ? "F16" : "F32",
    data,
  };
}
