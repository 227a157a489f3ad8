/**
 * PIL's separable resampling (`Image.resize` with BILINEAR or BICUBIC, `reducing_gap=None`) for 8-bit
 * RGB, reproduced bit for bit: pixel-centre aligned, the kernel widened by the scale when shrinking,
 * taps cut at the image border and renormalized, weights in 22-bit fixed point, a uint8 image between
 * the horizontal and the vertical pass.
 */
import type { Resample } from "./preprocessor-config.js";
import type { RgbImage } from "./types.js";

interface Filter {
  /** Half-width of the kernel at scale 1, in input pixels. */
  readonly support: number;
  readonly weight: (x: number) => number;
}

const FILTERS: Record<Resample, Filter> = {
  bilinear: {
    support: 1,
    weight: (x) => {
      const t = Math.abs(x);
      return t < 1 ? 1 - t : 0;
    },
  },
  // Keys cubic with a = −0.5 (Catmull-Rom); the operation order follows PIL's so the doubles agree.
  bicubic: {
    support: 2,
    weight: (x) => {
      const a = -0.5;
      const t = Math.abs(x);
      if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
      if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
      return 0;
    },
  },
};

/** Weights are integers scaled by 2^22; the sum of 255 · weights then stays inside int32. */
const PRECISION_BITS = 22;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

/** Per output position: the first input index, how many taps, and `ksize` fixed-point weights. */
interface Taps {
  readonly first: Int32Array;
  readonly count: Int32Array;
  readonly weights: Int32Array;
  readonly ksize: number;
}

function taps(inSize: number, outSize: number, filter: Filter): Taps {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const inverse = 1 / filterScale; // PIL multiplies by the reciprocal; dividing can differ in the last bit
  const ksize = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let o = 0; o < outSize; o++) {
    // Centre of output pixel o in input coordinates, where input pixel i covers [i, i + 1).
    const center = (o + 0.5) * scale;
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const n = Math.min(Math.trunc(center + support + 0.5), inSize) - lo;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      k[i] = filter.weight((i + lo - center + 0.5) * inverse);
      sum += k[i];
    }
    for (let i = 0; i < n; i++) {
      const w = sum !== 0 ? k[i] / sum : k[i];
      weights[o * ksize + i] = Math.trunc(w < 0 ? w * ONE - 0.5 : w * ONE + 0.5);
    }
    first[o] = lo;
    count[o] = n;
  }
  return { first, count, weights, ksize };
}

/** Fixed-point sum → uint8, clamped. */
function clip8(acc: number): number {
  if (acc >= ONE * 256) return 255;
  if (acc <= 0) return 0;
  return acc >> PRECISION_BITS;
}

/** Resamples the width only. */
// [H, W, 3] → [H, width, 3]
export function resampleWidth(img: RgbImage, width: number, resample: Resample): RgbImage {
  const { data, width: inW, height } = img;
  const { first, count, weights, ksize } = taps(inW, width, FILTERS[resample]);
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const row = y * inW * 3;
    let o = y * width * 3;
    for (let x = 0; x < width; x++) {
      let r = HALF;
      let g = HALF;
      let b = HALF;
      let s = row + first[x] * 3;
      const w0 = x * ksize;
      for (let i = 0; i < count[x]; i++) {
        const w = weights[w0 + i];
        r += data[s++] * w;
        g += data[s++] * w;
        b += data[s++] * w;
      }
      out[o++] = clip8(r);
      out[o++] = clip8(g);
      out[o++] = clip8(b);
    }
  }
  return { data: out, width, height };
}

/** Resamples the height only. */
// [H, W, 3] → [height, W, 3]
export function resampleHeight(img: RgbImage, height: number, resample: Resample): RgbImage {
  const { data, width, height: inH } = img;
  const { first, count, weights, ksize } = taps(inH, height, FILTERS[resample]);
  const stride = width * 3;
  const out = new Uint8Array(height * stride);
  const acc = new Int32Array(stride); // int32 sums, as PIL's
  for (let y = 0; y < height; y++) {
    acc.fill(HALF);
    const w0 = y * ksize;
    for (let i = 0; i < count[y]; i++) {
      const w = weights[w0 + i];
      const row = (first[y] + i) * stride;
      for (let j = 0; j < stride; j++) acc[j] += data[row + j] * w;
    }
    const o = y * stride;
    for (let j = 0; j < stride; j++) out[o + j] = clip8(acc[j]);
  }
  return { data: out, width, height };
}
