/**
 * Dynamic int8 quantization, as onnxruntime's `quantize_dynamic` (IntegerOps mode, per-tensor weights,
 * `MatMulConstBOnly`) makes the public `*_quantized.onnx` (`q8`) files that transformers.js conversions
 * publish:
 *
 *   MatMul(x, W)      → DynamicQuantizeLinear(x) → MatMulInteger(x_q, W_q, x_zp, W_zp) → Cast(float)
 *                       → Mul(·, x_scale · W_scale)
 *   Conv(x, W, b)     → DynamicQuantizeLinear(x) → ConvInteger(x_q, W_q, x_zp, W_zp) → Cast(float)
 *                       → Mul(·, x_scale · W_scale) → Add(·, b as [C, 1, 1])
 *
 * Weights: uint8 with a zero point (asymmetric) when the model has a Conv (onnxruntime's ConvInteger
 * takes uint8 weights only; transformers.js picks uint8 for such models), else int8 symmetric (zero
 * point 0, range ±127). Activations are quantized per run to uint8. A value read by several MatMuls is
 * quantized once. onnxruntime fuses each chain into `DynamicQuantizeMatMul` when it loads the file.
 */

import { GraphView } from "../optimize/graph-view.js";
import type { ModelProto, NodeProto } from "../proto/onnx_pb.js";

export interface QuantizeCounts {
  matmul: number;
  conv: number;
  weightType: "uint8" | "int8";
}

/** Per-tensor quantization of `w`: the codes, the scale and the zero point. */
export function quantizeWeights(
  w: Float32Array,
  type: "uint8" | "int8",
): { codes: Uint8Array | Int8Array; scale: number; zeroPoint: number } {
  let min = 0;
  let max = 0;
  for (const v of w) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (type === "int8") {
    const scale = Math.max(Math.abs(min), Math.abs(max)) / 127 || 1;
    const codes = Int8Array.from(w, (v) => Math.max(-127, Math.min(127, Math.round(v / scale))));
    return { codes, scale, zeroPoint: 0 };
  }
  const scale = (max - min) / 255 || 1;
  const zeroPoint = Math.max(0, Math.min(255, Math.round(-min / scale)));
  const codes = Uint8Array.from(w, (v) => Math.max(0, Math.min(255, Math.round(v / scale) + zeroPoint)));
  return { codes, scale, zeroPoint };
}

export function quantizeDynamic(model: ModelProto): { model: ModelProto; counts: QuantizeCounts } {
  const g = new GraphView(model);
  const weightType = g.nodesOf("Conv").length > 0 ? "uint8" : "int8";
  const dynamic = new Map<string, { q: string; scale: string; zp: string }>();
  /** DynamicQuantizeLinear(x), once per value. */
  const quantized = (x: string) => {
    let d = dynamic.get(x);
    if (!d) {
      d = { q: g.fresh(`${x}_quantized`), scale: g.fresh(`${x}_scale`), zp: g.fresh(`${x}_zero_point`) };
      g.addNode("DynamicQuantizeLinear", [x], [d.q, d.scale, d.zp]);
      dynamic.set(x, d);
    }
    return d;
  };
  /** The float weight of a node input, if it is a float32 initializer of `rank`. */
  const weightOf = (name: string, rank: number) => {
    const t = g.initializer(name);
    if (t?.dataType !== 1 || t.dims.length !== rank) return undefined;
    return { dims: t.dims.map(Number), values: g.constant(name)!.values as Float32Array };
  };
  /** Integer op output → float: Cast, then one Mul by x_scale · W_scale. */
  const rescale = (intOut: string, xScale: string, wScale: number, out: string) => {
    const asFloat = g.fresh(`${out}_int_cast`);
    g.addNode("Cast", [intOut], [asFloat], { to: { int: 1 } });
    const scales = g.fresh(`${out}_scales`);
    g.addNode(
      "Mul",
      [xScale, g.addInitializer(`${out}_weight_scale`, [], Float32Array.of(wScale))],
      [scales],
    );
    g.addNode("Mul", [asFloat, scales], [out]);
  };
  const quantWeight = (prefix: string, dims: number[], values: Float32Array, type: "uint8" | "int8") => {
    const q = quantizeWeights(values, type);
    return {
      codes: g.addInitializer(`${prefix}_quantized`, dims, q.codes),
      zp: g.addInitializer(
        `${prefix}_zero_point`,
        [],
        type === "int8" ? Int8Array.of(q.zeroPoint) : Uint8Array.of(q.zeroPoint),
      ),
      scale: q.scale,
    };
  };

  let matmul = 0;
  for (const n of g.nodesOf("MatMul")) {
    const w = weightOf(n.input[1], 2);
    if (!w || g.isConstantDerived(n.input[0])) continue;
    const x = quantized(n.input[0]);
    const q = quantWeight(n.input[1], w.dims, w.values, weightType);
    const acc = g.fresh(`${n.output[0]}_int32`);
    g.remove([n]);
    g.addNode("MatMulInteger", [x.q, q.codes, x.zp, q.zp], [acc]);
    rescale(acc, x.scale, q.scale, n.output[0]);
    matmul++;
  }
  let conv = 0;
  for (const n of g.nodesOf("Conv")) {
    const w = weightOf(n.input[1], 4);
    const bias = n.input[2] ? weightOf(n.input[2], 1) : undefined;
    if (!w || (n.input[2] && !bias)) continue;
    const x = quantized(n.input[0]);
    const q = quantWeight(n.input[1], w.dims, w.values, "uint8");
    const acc = g.fresh(`${n.output[0]}_int32`);
    g.remove([n]);
    g.addNode("ConvInteger", [x.q, q.codes, x.zp, q.zp], [acc]);
    copyAttributes(g.producer(acc)!, n);
    if (bias) {
      const scaled = g.fresh(`${n.output[0]}_no_bias`);
      rescale(acc, x.scale, q.scale, scaled);
      const b = g.addInitializer(`${n.input[2]}_chw`, [bias.dims[0], 1, 1], bias.values); // [C] → [C, 1, 1]
      g.addNode("Add", [scaled, b], [n.output[0]]);
    } else {
      rescale(acc, x.scale, q.scale, n.output[0]);
    }
    conv++;
  }
  g.pruneDead();
  g.commit();
  return { model, counts: { matmul, conv, weightType } };
}

/** Conv's attributes (strides, pads, dilations, group, kernel_shape, auto_pad) carry over to ConvInteger. */
function copyAttributes(to: NodeProto, from: NodeProto): void {
  to.attribute = from.attribute.map((a) => ({ ...a }));
}
