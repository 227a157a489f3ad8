/**
 * Encoder speed on the dataset's own images: decode + preprocess + inference, nothing cached.
 * `images_per_second_batch1` / `_batch8`, `latency_ms_p50` (one image at batch 1), `peak_rss_mib`
 * (the process's resident set, sampled after each batch of this encoder's run), `file_size_mib`,
 * `tokens_per_image` and `embedding_width`.
 */
import { VisionEncoder } from "../../encoders/index.js";
import type { OnnxDtype } from "../../hub/dtypes.js";
import { plainFigure, type TaskOutput } from "../measured.js";
import type { EncoderSummary } from "../types.js";

export interface SpeedOptions {
  dir: string;
  dtype: OnnxDtype;
  threads?: number;
  /** Images timed (the first of the dataset, repeated when fewer). Default 16. */
  images?: number;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export async function speedTask(
  imagePaths: readonly string[],
  summary: EncoderSummary,
  options: SpeedOptions,
): Promise<TaskOutput> {
  const count = options.images ?? 16;
  const images = Array.from({ length: count }, (_, i) => imagePaths[i % imagePaths.length]);
  const encoder = await VisionEncoder.load(options.dir, { dtype: options.dtype, threads: options.threads });
  let rss = process.memoryUsage().rss;
  const sample = () => {
    rss = Math.max(rss, process.memoryUsage().rss);
  };
  try {
    await encoder.encode(images.slice(0, 8), { batchSize: 8 }); // warm-up: first-run allocations
    sample();
    const latencies: number[] = [];
    const t1 = performance.now();
    for (const img of images) {
      const t = performance.now();
      await encoder.encode([img], { batchSize: 1 });
      latencies.push(performance.now() - t);
      sample();
    }
    const batch1 = count / ((performance.now() - t1) / 1000);
    const t8 = performance.now();
    await encoder.encode(images, { batchSize: 8, onProgress: sample });
    const batch8 = count / ((performance.now() - t8) / 1000);
    return {
      task: "speed",
      metrics: [
        plainFigure("images_per_second_batch1", batch1, count),
        plainFigure("images_per_second_batch8", batch8, count),
        plainFigure("latency_ms_p50", median(latencies), count),
        plainFigure("peak_rss_mib", rss / 2 ** 20, count),
        plainFigure("file_size_mib", summary.fileBytes / 2 ** 20, 1),
        plainFigure("tokens_per_image", summary.tokensPerImage, imagePaths.length),
        plainFigure("embedding_width", summary.embeddingWidth, 1),
      ],
    };
  } finally {
    await encoder.dispose();
  }
}
