/**
 * Opens a compare report in headless Chromium and saves a screenshot (docs/images/compare-report.png
 * by default); fails on any console error or page error.
 *
 *   node --import tsx scripts/screenshot-report.ts <report.html> [out.png]
 */
import path from "node:path";
import { openReport } from "../test/compare/open-report.js";

const [report, out = path.join(import.meta.dirname, "..", "docs", "images", "compare-report.png")] =
  process.argv.slice(2);
if (!report) {
  process.stderr.write("usage: screenshot-report.ts <report.html> [out.png]\n");
  process.exit(2);
}
const page = await openReport(path.resolve(report), { screenshot: path.resolve(out), width: 1000 });
if (page.errors.length > 0) {
  process.stderr.write(`console errors:\n${page.errors.join("\n")}\n`);
  process.exitCode = 1;
}
process.stdout.write(`${page.charts} charts, ${page.galleryImages} gallery images; screenshot ${out}\n`);
