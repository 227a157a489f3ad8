/** Inline SVG charts for the report: bars with confidence intervals, a scatter, grouped bars. No scripts, no fonts fetched. */
import { escapeHtml, formatValue } from "./format.js";

export interface Bar {
  label: string;
  value: number;
  ci?: [number, number] | null;
  color: string;
}

const FONT = 'font-family="system-ui, sans-serif" font-size="11"';

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  if (v <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return Math.ceil(v / p) * p;
}

/** Horizontal bars, one per encoder, with a whisker for the interval. */
export function barChart(title: string, bars: readonly Bar[]): string {
  const rowH = 26;
  const left = 130;
  const width = 420;
  const plotW = width - left - 60;
  const height = 28 + bars.length * rowH + 22;
  const max = niceMax(Math.max(...bars.map((b) => Math.max(b.value, b.ci?.[1] ?? 0))));
  const x = (v: number) => left + (Math.max(0, v) / max) * plotW;
  const parts: string[] = [`<text x="0" y="14" ${FONT} font-weight="600">${escapeHtml(title)}</text>`];
  for (const [i, b] of bars.entries()) {
    const y = 26 + i * rowH;
    parts.push(
      `<text x="${left - 6}" y="${y + 15}" ${FONT} text-anchor="end">${escapeHtml(b.label)}</text>`,
      `<rect class="bar" x="${left}" y="${y + 3}" width="${(x(b.value) - left).toFixed(1)}" height="${rowH - 8}" fill="${b.color}"><title>${escapeHtml(`${b.label}: ${formatValue(b.value)}${b.ci ? ` [${formatValue(b.ci[0])}, ${formatValue(b.ci[1])}]` : ""}`)}</title></rect>`,
    );
    if (b.ci && Number.isFinite(b.ci[0])) {
      const [lo, hi] = [x(b.ci[0]), x(b.ci[1])];
      const cy = y + 3 + (rowH - 8) / 2;
      parts.push(
        `<path class="ci" d="M${lo.toFixed(1)},${cy} H${hi.toFixed(1)} M${lo.toFixed(1)},${cy - 5} V${cy + 5} M${hi.toFixed(1)},${cy - 5} V${cy + 5}" stroke="#222" stroke-width="1.5" fill="none"/>`,
      );
    }
    const labelX = Math.max(x(b.value), b.ci ? x(b.ci[1]) : 0) + 4;
    parts.push(`<text x="${labelX.toFixed(1)}" y="${y + 15}" ${FONT}>${formatValue(b.value)}</text>`);
  }
  const axisY = 26 + bars.length * rowH + 4;
  parts.push(`<line x1="${left}" y1="${axisY}" x2="${left + plotW}" y2="${axisY}" stroke="#999"/>`);
  for (const t of [0, 0.5, 1]) {
    parts.push(
      `<text x="${x(t * max).toFixed(1)}" y="${axisY + 14}" ${FONT} text-anchor="middle" fill="#666">${formatValue(t * max)}</text>`,
    );
  }
  return `<svg class="chart" role="img" aria-label="${escapeHtml(title)}" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join("")}</svg>`;
}

export interface Point {
  label: string;
  x: number;
  y: number;
  ci?: [number, number] | null;
  color: string;
}

/** A scatter of encoders (x: speed, y: accuracy), each point labelled, with its interval as a whisker. */
export function scatterChart(
  title: string,
  xLabel: string,
  yLabel: string,
  points: readonly Point[],
): string {
  const width = 460;
  const height = 300;
  const m = { left: 50, right: 20, top: 26, bottom: 40 };
  const maxX = niceMax(Math.max(...points.map((p) => p.x)) * 1.1);
  const maxY = niceMax(Math.max(...points.map((p) => p.ci?.[1] ?? p.y)));
  const sx = (v: number) => m.left + (v / maxX) * (width - m.left - m.right);
  const sy = (v: number) => height - m.bottom - (v / maxY) * (height - m.top - m.bottom);
  const parts = [
    `<text x="0" y="14" ${FONT} font-weight="600">${escapeHtml(title)}</text>`,
    `<line x1="${m.left}" y1="${height - m.bottom}" x2="${width - m.right}" y2="${height - m.bottom}" stroke="#999"/>`,
    `<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${height - m.bottom}" stroke="#999"/>`,
    `<text x="${(m.left + width - m.right) / 2}" y="${height - 6}" ${FONT} text-anchor="middle">${escapeHtml(xLabel)}</text>`,
    `<text x="12" y="${(m.top + height - m.bottom) / 2}" ${FONT} text-anchor="middle" transform="rotate(-90 12 ${(m.top + height - m.bottom) / 2})">${escapeHtml(yLabel)}</text>`,
  ];
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(
      `<text x="${m.left - 4}" y="${sy(t * maxY) + 4}" ${FONT} text-anchor="end" fill="#666">${formatValue(t * maxY)}</text>`,
      `<text x="${sx(t * maxX)}" y="${height - m.bottom + 14}" ${FONT} text-anchor="middle" fill="#666">${formatValue(t * maxX)}</text>`,
    );
  }
  for (const p of points) {
    const cx = sx(p.x);
    if (p.ci && Number.isFinite(p.ci[0])) {
      parts.push(
        `<path class="ci" d="M${cx.toFixed(1)},${sy(p.ci[0]).toFixed(1)} V${sy(p.ci[1]).toFixed(1)}" stroke="${p.color}" stroke-width="2"/>`,
      );
    }
    parts.push(
      `<circle class="point" cx="${cx.toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="6" fill="${p.color}"><title>${escapeHtml(`${p.label}: ${formatValue(p.y)} at ${formatValue(p.x)}`)}</title></circle>`,
      `<text x="${(cx + 9).toFixed(1)}" y="${(sy(p.y) - 8).toFixed(1)}" ${FONT}>${escapeHtml(p.label)}</text>`,
    );
  }
  return `<svg class="chart" role="img" aria-label="${escapeHtml(title)}" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join("")}</svg>`;
}

/** Grouped vertical bars: per class, one bar per encoder (values in [0, 1]). */
export function groupedBarChart(
  title: string,
  groups: readonly string[],
  series: readonly { label: string; color: string; values: readonly number[] }[],
): string {
  const barW = 14;
  const groupW = series.length * barW + 14;
  const m = { left: 40, top: 26, bottom: 56 };
  const plotH = 160;
  const width = Math.max(320, m.left + groups.length * groupW + 10);
  const height = m.top + plotH + m.bottom;
  const sy = (v: number) => m.top + plotH - Math.max(0, Math.min(1, v)) * plotH;
  const parts = [
    `<text x="0" y="14" ${FONT} font-weight="600">${escapeHtml(title)}</text>`,
    `<line x1="${m.left}" y1="${m.top + plotH}" x2="${width}" y2="${m.top + plotH}" stroke="#999"/>`,
  ];
  for (const t of [0, 0.5, 1])
    parts.push(`<text x="${m.left - 4}" y="${sy(t) + 4}" ${FONT} text-anchor="end" fill="#666">${t}</text>`);
  for (const [g, name] of groups.entries()) {
    const gx = m.left + 8 + g * groupW;
    for (const [s, ser] of series.entries()) {
      const v = ser.values[g];
      parts.push(
        `<rect class="bar" x="${gx + s * barW}" y="${sy(v).toFixed(1)}" width="${barW - 2}" height="${(m.top + plotH - sy(v)).toFixed(1)}" fill="${ser.color}"><title>${escapeHtml(`${name} — ${ser.label}: ${formatValue(v)}`)}</title></rect>`,
      );
    }
    const tx = gx + (series.length * barW) / 2;
    parts.push(
      `<text x="${tx}" y="${m.top + plotH + 14}" ${FONT} text-anchor="end" transform="rotate(-35 ${tx} ${m.top + plotH + 14})">${escapeHtml(name.length > 18 ? `${name.slice(0, 17)}…` : name)}</text>`,
    );
  }
  return `<svg class="chart" role="img" aria-label="${escapeHtml(title)}" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join("")}</svg>`;
}
