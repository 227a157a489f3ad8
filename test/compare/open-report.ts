// Opens a report.html in real headless Chromium (Debian's /usr/bin/chromium through puppeteer-core) and
// reports console errors, charts with drawn marks, and gallery thumbnails that decoded.
import fs from "node:fs";
import { pathToFileURL } from "node:url";
import puppeteer from "puppeteer-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export interface OpenedReport {
  errors: string[];
  /** SVG charts holding at least one bar or point. */
  charts: number;
  /** Charts with nothing drawn. */
  emptyCharts: number;
  /** Gallery images that decoded (naturalWidth > 0). */
  galleryImages: number;
  /** Requests to anything but the file itself and data: URLs. */
  externalRequests: string[];
}

export async function openReport(
  file: string,
  options: { screenshot?: string; width?: number } = {},
): Promise<OpenedReport> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found (apt-get install chromium)`);
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: options.width ?? 1200, height: 900 });
    const errors: string[] = [];
    const externalRequests: string[] = [];
    const url = pathToFileURL(file).href;
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("request", (r) => {
      if (r.url() !== url && !r.url().startsWith("data:")) externalRequests.push(r.url());
    });
    await page.goto(url, { waitUntil: "load" });
    // Runs in the page (a string: this project's TypeScript has no DOM types).
    const counts = (await page.evaluate(`(() => {
      const charts = [...document.querySelectorAll("svg.chart")];
      const drawn = charts.filter((c) => c.querySelectorAll("rect.bar, circle.point").length > 0);
      const imgs = [...document.querySelectorAll(".gallery img")];
      return {
        charts: drawn.length,
        emptyCharts: charts.length - drawn.length,
        galleryImages: imgs.filter((i) => i.complete && i.naturalWidth > 0).length,
      };
    })()`)) as { charts: number; emptyCharts: number; galleryImages: number };
    if (options.screenshot)
      await page.screenshot({ path: options.screenshot as `${string}.png`, fullPage: true });
    return { errors, externalRequests, ...counts };
  } finally {
    await browser.close();
  }
}
