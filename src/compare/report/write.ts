/** Writes the report files of a comparison into a folder, each atomically. */
import fs from "node:fs";
import path from "node:path";
import { writeFileAtomic } from "../../util/fs.js";
import type { ComparisonDetails } from "../compare.js";
import { resultsCsv } from "./csv.js";
import { reportHtml } from "./html.js";

export interface ReportFiles {
  json: string;
  csv: string;
  html: string;
}

export async function writeReport(out: string, details: ComparisonDetails): Promise<ReportFiles> {
  await fs.promises.mkdir(out, { recursive: true });
  const files = {
    json: path.join(out, "results.json"),
    csv: path.join(out, "results.csv"),
    html: path.join(out, "report.html"),
  };
  await writeFileAtomic(files.json, `${JSON.stringify(details.result, null, 2)}\n`);
  await writeFileAtomic(files.csv, resultsCsv(details.result, path.basename(details.data.source)));
  await writeFileAtomic(files.html, await reportHtml(details));
  return files;
}
