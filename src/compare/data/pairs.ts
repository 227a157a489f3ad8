/**
 * Image–text rows in the formats training reads (plain JSONL, LLaVA JSON, imagefolder `metadata.jsonl`):
 * caption rows for retrieval (rows whose prompt is the caption prompt) and question/answer rows for
 * the `vlm` task.
 */
import path from "node:path";
import { DatasetError } from "../../errors.js";
import { DEFAULT_CAPTION_PROMPT, readDatasetRows, type TrainExample } from "../../train/index.js";

export interface CaptionedImage {
  key: string;
  imagePath: string;
  captions: string[];
}

export interface PairData {
  kind: "pairs";
  source: string;
  /** Every usable row. */
  rows: TrainExample[];
  /** Images with their captions (rows without a question), in first-seen order. */
  captioned: CaptionedImage[];
}

export async function readPairData(source: string): Promise<PairData> {
  const read = await readDatasetRows(source);
  if (read.examples.length === 0) {
    const first = read.bad[0];
    throw new DatasetError(
      `${source}: no usable rows${first ? ` (line ${first.line}: ${first.reason})` : ""}`,
    );
  }
  const base = path.dirname(read.file);
  const byImage = new Map<string, CaptionedImage>();
  for (const row of read.examples) {
    if (row.prompt !== DEFAULT_CAPTION_PROMPT) continue;
    let entry = byImage.get(row.imagePath);
    if (!entry) {
      entry = {
        key: path.relative(base, row.imagePath).split(path.sep).join("/"),
        imagePath: row.imagePath,
        captions: [],
      };
      byImage.set(row.imagePath, entry);
    }
    if (!entry.captions.includes(row.answer)) entry.captions.push(row.answer);
  }
  return { kind: "pairs", source: read.file, rows: read.examples, captioned: [...byImage.values()] };
}
