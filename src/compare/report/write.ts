/**
 * Writes the report files of a comparison into a folder as one set: all three are written to temp
 * files first and renamed only when every one was written, so a full disk or a read-only folder
 * leaves the previous report (all three files) as it was, with a WRITE_FAILED error naming the file.
 */
import fs from "node:fs";
import path from "node:path";
import { tempPathFor, writeFailed, writeFilesAtomic } from "../../util/fs.js";
import type { ComparisonDetails } from "../compare.js";
import { resultsCsv } from "./csv.js";
import { reportHtml } from "./html.js";

export interface ReportFiles {
  json: string;
  csv: string;
  html: string;
}

/**
 * The folder `out` exists (made when missing) and a file can be created in it; WRITE_FAILED naming
 * the folder otherwise. Missing folders are made one level at a time, so the error is the real one
 * (a recursive mkdir on a read-only file system says ENOENT).
 */
export async function checkWritableDir(out: string): Promise<void> {
  const dir = path.resolve(out);
  const probe = tempPathFor(path.join(dir, "results.json"));
  try {
    const missing: string[] = [];
    for (let d = dir; !fs.existsSync(d) && path.dirname(d) !== d; d = path.dirname(d)) missing.unshift(d);
    for (const d of missing)
      await fs.promises.mkdir(d).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== "EEXIST") throw e;
      });
    await fs.promises.writeFile(probe, "");
  } catch (cause) {
    throw writeFailed(dir, cause, "nothing was written");
  } finally {
    await fs.promises.rm(probe, { force: true }).catch(() => {});
  }
}

export async function writeReport(out: string, details: ComparisonDetails): Promise<ReportFiles> {
  const files = {
    json: path.join(out, "results.json"),
    csv: path.join(out, "results.csv"),
    html: path.join(out, "report.html"),
  };
  await writeFilesAtomic([
    [files.json, `${JSON.stringify(details.result, null, 2)}\n`],
    [files.csv, resultsCsv(details.result, path.basename(details.data.source))],
    [files.html, await reportHtml(details)],
  ]);
  return files;
}
