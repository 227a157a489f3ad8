/**
 * The loss curve as a picture: training loss (line) and validation loss (line with dots) against the
 * step, drawn as SVG and turned into PNG by sharp (librsvg), written atomically to `<out>/loss.png`.
 */
import sharp from "sharp";
import { writeFileAtomic } from "../../util/fs.js";
import type { MetricsRecord } from "./metrics.js";

export interface LossCurveOptions {
  /** Pixels. Default 800. */
  width?: number;
  /** Pixels. Default 480. */
  height?: number;
  /** Heading above the plot. Default "Adapter training loss". */
  title?: string;
}

/** What the curve needs of a metrics record. */
export type LossPoint = Pick<MetricsRecord, "step" | "loss" | "valLoss">;

const TRAIN_COLOUR = "#1f77b4";
const VAL_COLOUR = "#ff7f0e";

/** About `count` round tick values (1, 2 or 5 × 10ᵏ apart) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function fmt(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(1) : String(Number(v.toPrecision(4)));
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]!);
}

/** The SVG document for the records' train and validation losses. */
export function lossCurveSvg(records: readonly LossPoint[], options: LossCurveOptions = {}): string {
  const { width = 800, height = 480, title = "Adapter training loss" } = options;
  const train = records.filter((r) => Number.isFinite(r.loss)).map((r) => [r.step, r.loss] as const);
  const val = records
    .filter((r) => r.valLoss !== undefined && Number.isFinite(r.valLoss))
    .map((r) => [r.step, r.valLoss!] as const);
  const all = [...train, ...val];
  const m = { left: 70, right: 20, top: 50, bottom: 55 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const steps = all.map(([s]) => s);
  const losses = all.map(([, l]) => l);
  let [x0, x1] = steps.length ? [Math.min(...steps), Math.max(...steps)] : [0, 1];
  let [y0, y1] = losses.length ? [Math.min(...losses), Math.max(...losses)] : [0, 1];
  if (x1 === x0) [x0, x1] = [x0 - 1, x1 + 1];
  if (y1 === y0) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const pad = (y1 - y0) * 0.05;
  y0 = Math.max(0, y0 - pad);
  y1 += pad;
  const sx = (s: number) => m.left + ((s - x0) / (x1 - x0)) * pw;
  const sy = (l: number) => m.top + ph - ((l - y0) / (y1 - y0)) * ph;
  const path = (pts: readonly (readonly [number, number])[]) =>
    pts.map(([s, l], i) => `${i ? "L" : "M"}${sx(s).toFixed(1)},${sy(l).toFixed(1)}`).join(" ");
  const font = `font-family="DejaVu Sans, sans-serif"`;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="28" ${font} font-size="18" text-anchor="middle">${escapeXml(title)}</text>`,
  ];
  for (const t of niceTicks(y0, y1, 6)) {
    const y = sy(t).toFixed(1);
    parts.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
    parts.push(
      `<text x="${m.left - 8}" y="${y}" ${font} font-size="12" text-anchor="end" dominant-baseline="middle">${fmt(t)}</text>`,
    );
  }
  for (const t of niceTicks(x0, x1, 8).filter((t) => Number.isInteger(t))) {
    const x = sx(t).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${m.top}" y2="${m.top + ph}" stroke="#f0f0f0"/>`);
    parts.push(
      `<text x="${x}" y="${m.top + ph + 18}" ${font} font-size="12" text-anchor="middle">${fmt(t)}</text>`,
    );
  }
  parts.push(
    `<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`,
    `<text x="${m.left + pw / 2}" y="${height - 12}" ${font} font-size="14" text-anchor="middle">step</text>`,
    `<text transform="translate(18 ${m.top + ph / 2}) rotate(-90)" ${font} font-size="14" text-anchor="middle">loss</text>`,
  );
  if (train.length)
    parts.push(`<path d="${path(train)}" fill="none" stroke="${TRAIN_COLOUR}" stroke-width="2"/>`);
  if (val.length) {
    parts.push(
      `<path d="${path(val)}" fill="none" stroke="${VAL_COLOUR}" stroke-width="2" stroke-dasharray="6 3"/>`,
    );
    for (const [s, l] of val) {
      parts.push(`<circle cx="${sx(s).toFixed(1)}" cy="${sy(l).toFixed(1)}" r="3.5" fill="${VAL_COLOUR}"/>`);
    }
  }
  // Legend, top right inside the plot.
  const lx = m.left + pw - 150;
  const ly = m.top + 12;
  parts.push(
    `<rect x="${lx - 10}" y="${ly - 12}" width="150" height="${val.length ? 48 : 28}" fill="white" stroke="#999"/>`,
  );
  parts.push(
    `<line x1="${lx}" x2="${lx + 28}" y1="${ly}" y2="${ly}" stroke="${TRAIN_COLOUR}" stroke-width="2"/>`,
  );
  parts.push(
    `<text x="${lx + 36}" y="${ly}" ${font} font-size="12" dominant-baseline="middle">train loss</text>`,
  );
  if (val.length) {
    parts.push(
      `<line x1="${lx}" x2="${lx + 28}" y1="${ly + 20}" y2="${ly + 20}" stroke="${VAL_COLOUR}" stroke-width="2" stroke-dasharray="6 3"/>`,
    );
    parts.push(`<circle cx="${lx + 14}" cy="${ly + 20}" r="3.5" fill="${VAL_COLOUR}"/>`);
    parts.push(
      `<text x="${lx + 36}" y="${ly + 20}" ${font} font-size="12" dominant-baseline="middle">validation loss</text>`,
    );
  }
  parts.push("</svg>");
  return parts.join("\n");
}

/** Renders the curve to PNG bytes. */
export async function renderLossCurve(
  records: readonly LossPoint[],
  options: LossCurveOptions = {},
): Promise<Buffer> {
  return sharp(Buffer.from(lossCurveSvg(records, options)))
    .png()
    .toBuffer();
}

/** Renders the curve and writes it atomically to `file` (normally `<out>/loss.png`). */
export async function writeLossCurve(
  file: string,
  records: readonly LossPoint[],
  options: LossCurveOptions = {},
): Promise<void> {
  await writeFileAtomic(file, await renderLossCurve(records, options));
}
