/**
 * An independent float64 forward pass of the SigLIP towers (HF modeling_siglip / modeling_siglip2),
 * over weights read back from the ONNX initializers. Matrices are number[][] (rows).
 */
export type Mat = number[][];
export type Weights = (name: string) => Float32Array;

const matmul = (a: Mat, w: Float32Array, inDim: number, outDim: number, b?: Float32Array): Mat =>
  a.map((row) => {
    const out = new Array<number>(outDim).fill(0);
    for (let i = 0; i < inDim; i++) {
      const x = row[i];
      for (let j = 0; j < outDim; j++) out[j] += x * w[i * outDim + j];
    }
    if (b) for (let j = 0; j < outDim; j++) out[j] += b[j];
    return out;
  });

export function layerNorm(x: Mat, scale: Float32Array, bias: Float32Array, eps = 1e-6): Mat {
  return x.map((r) => {
    const mean = r.reduce((s, v) => s + v, 0) / r.length;
    const v = r.reduce((s, x) => s + (x - mean) ** 2, 0) / r.length;
    return r.map((x, i) => ((x - mean) / Math.sqrt(v + eps)) * scale[i] + bias[i]);
  });
}

const geluTanh = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

export interface Dims {
  hidden: number;
  heads: number;
  mlp: number;
}

function linear(w: Weights, prefix: string, x: Mat, inDim: number, outDim: number): Mat {
  return matmul(x, w(`${prefix}.weight`), inDim, outDim, w(`${prefix}.bias`));
}

/** keyMask[j] false → key j excluded. */
export function attention(w: Weights, p: string, q0: Mat, kv: Mat, keyMask: boolean[] | null, d: Dims): Mat {
  const D = d.hidden;
  const hd = D / d.heads;
  const q = linear(w, `${p}.q_proj`, q0, D, D);
  const k = linear(w, `${p}.k_proj`, kv, D, D);
  const v = linear(w, `${p}.v_proj`, kv, D, D);
  const out: Mat = q.map(() => new Array<number>(D).fill(0));
  for (let h = 0; h < d.heads; h++) {
    for (let i = 0; i < q.length; i++) {
      const s = k.map((kr, j) => {
        if (keyMask && !keyMask[j]) return Number.NEGATIVE_INFINITY;
        let dot = 0;
        for (let c = 0; c < hd; c++) dot += q[i][h * hd + c] * kr[h * hd + c];
        return dot / Math.sqrt(hd);
      });
      const m = Math.max(...s);
      const e = s.map((x) => Math.exp(x - m));
      const z = e.reduce((a, b) => a + b, 0);
      for (let j = 0; j < k.length; j++)
        for (let c = 0; c < hd; c++) out[i][h * hd + c] += (e[j] / z) * v[j][h * hd + c];
    }
  }
  return linear(w, `${p}.out_proj`, out, D, D);
}

const add = (a: Mat, b: Mat): Mat => a.map((r, i) => r.map((x, j) => x + b[i][j]));

function mlp(w: Weights, p: string, x: Mat, d: Dims): Mat {
  const h = linear(w, `${p}.fc1`, x, d.hidden, d.mlp).map((r) => r.map(geluTanh));
  return linear(w, `${p}.fc2`, h, d.mlp, d.hidden);
}

const ln = (w: Weights, p: string, x: Mat) => layerNorm(x, w(`${p}.weight`), w(`${p}.bias`));

export function encoder(w: Weights, p: string, x: Mat, layers: number, mask: boolean[] | null, d: Dims): Mat {
  let h = x;
  for (let l = 0; l < layers; l++) {
    const q = `${p}.layers.${l}`;
    const a = ln(w, `${q}.layer_norm1`, h);
    h = add(h, attention(w, `${q}.self_attn`, a, a, mask, d));
    h = add(h, mlp(w, `${q}.mlp`, ln(w, `${q}.layer_norm2`, h), d));
  }
  return h;
}

/** Vision tower after the embeddings: encoder, post_layernorm, MAP head. */
export function visionTower(w: Weights, emb: Mat, layers: number, mask: boolean[] | null, d: Dims) {
  const P = "vision_model";
  const last = ln(w, `${P}.post_layernorm`, encoder(w, `${P}.encoder`, emb, layers, mask, d));
  const probe = [Array.from(w(`${P}.head.probe`))];
  const pooled = attention(w, `${P}.head.attention`, probe, last, mask, d);
  const pooledOut = add(pooled, mlp(w, `${P}.head.mlp`, ln(w, `${P}.head.layernorm`, pooled), d));
  return { last, pooled: pooledOut[0] };
}

/** Fixed resolution: image [3][H][W] → patches via the conv weight [D, 3, p, p]. */
export function fixedEmbeddings(w: Weights, img: Float32Array, size: number, patch: number, D: number): Mat {
  const g = size / patch;
  const cw = w("vision_model.embeddings.patch_embedding.weight");
  const cb = w("vision_model.embeddings.patch_embedding.bias");
  const pos = w("vision_model.embeddings.position_embedding.weight");
  const out: Mat = [];
  for (let py = 0; py < g; py++)
    for (let px = 0; px < g; px++) {
      const row = new Array<number>(D).fill(0);
      for (let o = 0; o < D; o++) {
        let s = cb[o];
        for (let c = 0; c < 3; c++)
          for (let y = 0; y < patch; y++)
            for (let x = 0; x < patch; x++)
              s +=
                cw[((o * 3 + c) * patch + y) * patch + x] *
                img[(c * size + py * patch + y) * size + px * patch + x];
        row[o] = s + pos[(py * g + px) * D + o];
      }
      out.push(row);
    }
  return out;
}

/** PyTorch's antialiased bilinear weights (align_corners=False) for one axis: [out][in]. */
export function aaWeights(inSize: number, outSize: number): number[][] {
  const scale = inSize / outSize;
  const support = Math.max(scale, 1);
  return Array.from({ length: outSize }, (_, i) => {
    const center = (i + 0.5) * scale;
    const row = new Array<number>(inSize).fill(0);
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    for (let j = lo; j < hi; j++) row[j] = Math.max(0, 1 - Math.abs((j - center + 0.5) / support));
    const z = row.reduce((a, b) => a + b, 0);
    return row.map((v) => v / z);
  });
}

/** NaFlex: patches [P][3p²] with `h×w` real ones → embeddings [P][D] (padding gets position row 0). */
export function naflexEmbeddings(
  w: Weights,
  patches: Mat,
  h: number,
  wd: number,
  side: number,
  D: number,
): Mat {
  const pd = patches[0].length;
  const emb = matmul(
    patches,
    w("vision_model.embeddings.patch_embedding.weight"),
    pd,
    D,
    w("vision_model.embeddings.patch_embedding.bias"),
  );
  const table = w("vision_model.embeddings.position_embedding.weight"); // [(gy, gx), D]
  const wy = aaWeights(side, h);
  const wx = aaWeights(side, wd);
  const resized: Mat = [];
  for (let y = 0; y < h; y++)
    for (let x = 0; x < wd; x++) {
      const r = new Array<number>(D).fill(0);
      for (let gy = 0; gy < side; gy++)
        for (let gx = 0; gx < side; gx++) {
          const c = wy[y][gy] * wx[x][gx];
          if (c !== 0) for (let o = 0; o < D; o++) r[o] += c * table[(gy * side + gx) * D + o];
        }
      resized.push(r);
    }
  return emb.map((r, i) => r.map((v, o) => v + (i < h * wd ? resized[i][o] : resized[0][o])));
}

export function textTower(w: Weights, ids: number[], layers: number, d: Dims) {
  const P = "text_model";
  const tok = w(`${P}.embeddings.token_embedding.weight`);
  const pos = w(`${P}.embeddings.position_embedding.weight`);
  const D = d.hidden;
  const x = ids.map((id, i) => Array.from({ length: D }, (_, o) => tok[id * D + o] + pos[i * D + o]));
  const last = ln(w, `${P}.final_layer_norm`, encoder(w, `${P}.encoder`, x, layers, null, d));
  const pooled = linear(w, `${P}.head`, [last[last.length - 1]], D, D)[0];
  return { last, pooled };
}
