/** What `compareEncoders` returns (and `--json` prints), and the names of tasks and metrics. */

export const TASKS = ["zeroshot", "retrieval", "linear-probe", "knn", "vlm", "speed"] as const;
export type TaskName = (typeof TASKS)[number];

export interface EncoderSummary {
  name: string;
  /** What was given: a registry id, `org/repo` or a directory. */
  source: string;
  dtype: string;
  /** Patch features per image (NaFlex: the mean over the dataset's images). */
  tokensPerImage: number;
  /** Width of the pooled image embedding and of each patch feature (Dv). */
  embeddingWidth: number;
  /** NaFlex `max_num_patches` the comparison ran with; null for fixed resolution. */
  maxPatches: number | null;
  /** Size of the vision ONNX file (and its external data) in bytes. */
  fileBytes: number;
  /** The model directory on disk. */
  dir: string;
}

export interface ResultRow {
  encoder: string;
  task: TaskName;
  metric: string;
  value: number;
  /** 95 % bootstrap interval for accuracies and recalls; null for other figures (speed, loss). */
  ci: [number, number] | null;
  /** Samples (images, queries, rows) the figure is over. */
  n: number;
}

export interface PairRow {
  task: TaskName;
  metric: string;
  a: string;
  b: string;
  /** value(a) − value(b) */
  delta: number;
  /** Two-sided p-value: exact McNemar for accuracies, paired bootstrap for recalls. */
  p: number;
  /** The better encoder when p < 0.05, else null. */
  winner: string | null;
}

export interface CompareResult {
  encoders: EncoderSummary[];
  results: ResultRow[];
  pairs: PairRow[];
}
