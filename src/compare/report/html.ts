/**
 * report.html: one self-contained page (inline CSS and SVG, thumbnails as data: URLs, no script, no
 * network): the encoders, a bar chart with 95 % intervals per figure, the paired tests, accuracy
 * against speed, per-class recall, and the test images on which the encoders disagree.
 */
import sharp from "sharp";
import type { ComparisonDetails } from "../compare.js";
import type { Predictions } from "../measured.js";
import { perClassRecall } from "../metrics/classification.js";
import type { ResultRow, TaskName } from "../types.js";
import { escapeHtml, formatP, formatValue, PALETTE } from "./format.js";
import { barChart, groupedBarChart, scatterChart } from "./svg.js";

/** The headline figure of each task, in order of preference for the scatter. */
const HEADLINE: [TaskName, string][] = [
  ["linear-probe", "accuracy"],
  ["vlm", "accuracy"],
  ["zeroshot", "acc1"],
  ["knn", "accuracy"],
  ["retrieval", "image_retrieval_recall@1"],
];
/** Figures where less is better: their chart titles say so. */
const LOWER_IS_BETTER = new Set(["loss", "latency_ms_p50", "peak_rss_mib", "file_size_mib"]);
const CLASS_TASK_ORDER: TaskName[] = ["linear-probe", "zeroshot", "knn"];
const GALLERY_LIMIT = 24;

async function thumbnail(file: string): Promise<string> {
  try {
    const png = await sharp(file)
      .resize(72, 72, { fit: "inside", withoutEnlargement: true })
      .png()
      .toBuffer(); // small images stay small: the page scales them up pixelated
    return `data:image/png;base64,${png.toString("base64")}`;
  } catch {
    return "";
  }
}

function colorOf(details: ComparisonDetails): (name: string) => string {
  const names = details.result.encoders.map((e) => e.name);
  return (name) => PALETTE[Math.max(0, names.indexOf(name)) % PALETTE.length];
}

function metricCharts(details: ComparisonDetails, color: (n: string) => string): string {
  const out: string[] = [];
  for (const task of details.tasks) {
    const rows = details.result.results.filter((r) => r.task === task);
    const metrics = [...new Set(rows.map((r) => r.metric))];
    const charts = metrics.map((metric) =>
      barChart(
        LOWER_IS_BETTER.has(metric) ? `${metric} (lower is better)` : metric,
        rows
          .filter((r) => r.metric === metric)
          .map((r) => ({ label: r.encoder, value: r.value, ci: r.ci, color: color(r.encoder) })),
      ),
    );
    out.push(`<h3>${escapeHtml(task)}</h3><div class="charts">${charts.join("")}</div>`);
  }
  return out.join("");
}

function pairsTable(details: ComparisonDetails): string {
  if (details.result.pairs.length === 0) return "<p>Only one encoder: no paired tests.</p>";
  const rows = details.result.pairs.map(
    (p) =>
      `<tr class="${p.winner ? "sig" : ""}"><td>${escapeHtml(p.task)}</td><td>${escapeHtml(p.metric)}</td><td>${escapeHtml(p.a)}</td><td>${escapeHtml(p.b)}</td><td class="num">${formatValue(p.delta)}</td><td class="num">${formatP(p.p)}</td><td>${p.winner ? `<b>${escapeHtml(p.winner)}</b>` : "–"}</td></tr>`,
  );
  return `<table><thead><tr><th>task</th><th>metric</th><th>a</th><th>b</th><th>delta (a − b)</th><th>p</th><th>winner</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

function find(
  rows: readonly ResultRow[],
  encoder: string,
  task: string,
  metric: string,
): ResultRow | undefined {
  return rows.find((r) => r.encoder === encoder && r.task === task && r.metric === metric);
}

function scatter(details: ComparisonDetails, color: (n: string) => string): string {
  const rows = details.result.results;
  const headline = HEADLINE.find(([task]) => details.tasks.includes(task));
  if (!details.tasks.includes("speed") || !headline) {
    return "<p>Run the <code>speed</code> task with an accuracy task to plot accuracy against speed.</p>";
  }
  const points = details.result.encoders.flatMap((e) => {
    const y = find(rows, e.name, headline[0], headline[1]);
    const x = find(rows, e.name, "speed", "images_per_second_batch8");
    return y && x ? [{ label: e.name, x: x.value, y: y.value, ci: y.ci, color: color(e.name) }] : [];
  });
  return scatterChart(
    `${headline[0]} ${headline[1]} vs speed`,
    "images per second (batch 8)",
    headline[1],
    points,
  );
}

function classPredictions(
  details: ComparisonDetails,
): { task: TaskName; list: ComparisonDetails["predictions"] } | undefined {
  for (const task of CLASS_TASK_ORDER) {
    const list = details.predictions.filter((p) => p.task === task);
    if (list.length > 0) return { task, list };
  }
  return undefined;
}

function perClassChart(details: ComparisonDetails, color: (n: string) => string): string {
  const chosen = classPredictions(details);
  if (!chosen) return "<p>No classification task ran.</p>";
  const classes = chosen.list[0].predictions.classes;
  const series = chosen.list.map(({ encoder, predictions: p }) => {
    const recall = perClassRecall(p.predicted, p.truth);
    return { label: encoder, color: color(encoder), values: classes.map((_, c) => recall.get(c) ?? 0) };
  });
  const shown = classes.length > 40 ? "<p>(first 40 classes)</p>" : "";
  return (
    groupedBarChart(
      `${chosen.task}: recall per class`,
      classes.slice(0, 40),
      series.map((s) => ({ ...s, values: s.values.slice(0, 40) })),
    ) + shown
  );
}

async function gallery(details: ComparisonDetails, color: (n: string) => string): Promise<string> {
  const chosen = classPredictions(details);
  if (!chosen || chosen.list.length < 2)
    return "<p>The gallery needs two encoders and a classification task.</p>";
  const first: Predictions = chosen.list[0].predictions;
  const items: string[] = [];
  let disagreements = 0;
  for (let i = 0; i < first.keys.length; i++) {
    const answers = chosen.list.map(({ encoder, predictions }) => ({
      encoder,
      pred: predictions.predicted[i],
    }));
    if (new Set(answers.map((a) => a.pred)).size < 2) continue;
    disagreements++;
    if (items.length >= GALLERY_LIMIT) continue;
    const src = await thumbnail(first.imagePaths[i]);
    const lines = answers
      .map(
        (a) =>
          `<li><span class="dot" style="background:${color(a.encoder)}"></span>${escapeHtml(a.encoder)}: <span class="${a.pred === first.truth[i] ? "ok" : "bad"}">${escapeHtml(first.classes[a.pred])}</span></li>`,
      )
      .join("");
    items.push(
      `<figure class="item"><img alt="${escapeHtml(first.keys[i])}" src="${src}"><figcaption><div class="truth">truth: ${escapeHtml(first.classes[first.truth[i]])}</div><ul>${lines}</ul></figcaption></figure>`,
    );
  }
  if (disagreements === 0)
    return `<p>The encoders agree on every test image (${escapeHtml(chosen.task)}).</p>`;
  return `<p>${disagreements} of ${first.keys.length} test images get different ${escapeHtml(chosen.task)} answers${disagreements > GALLERY_LIMIT ? ` (first ${GALLERY_LIMIT} shown)` : ""}.</p><div class="gallery">${items.join("")}</div>`;
}

const CSS = `
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}h3{font-size:15px}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}tr.sig{background:#eef7ee}
.charts{display:flex;flex-wrap:wrap;gap:16px}.chart{background:#fafafa;border:1px solid #eee;padding:6px}
.gallery{display:flex;flex-wrap:wrap;gap:10px}.item{margin:0;border:1px solid #ddd;padding:6px;width:170px;font-size:12px}
.item img{width:72px;height:72px;object-fit:contain;image-rendering:pixelated;display:block}
.item ul{list-style:none;padding:0;margin:4px 0 0}.ok{color:#1a7f37}.bad{color:#c62828;font-weight:600}
.dot{display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:4px}.muted{color:#666}
`;

export async function reportHtml(details: ComparisonDetails): Promise<string> {
  const color = colorOf(details);
  const enc = details.result.encoders
    .map(
      (e) =>
        `<tr><td><span class="dot" style="background:${color(e.name)}"></span>${escapeHtml(e.name)}</td><td>${escapeHtml(e.source)}</td><td>${escapeHtml(e.dtype)}</td><td class="num">${e.tokensPerImage}</td><td class="num">${e.embeddingWidth}</td><td class="num">${e.maxPatches ?? "–"}</td><td class="num">${formatValue(e.fileBytes / 2 ** 20)}</td></tr>`,
    )
    .join("");
  const d = details.data;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vlmkit compare</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<style>${CSS}</style></head><body>
<h1>Encoder comparison</h1>
<p class="muted">data: ${escapeHtml(d.source)} (${d.kind === "classes" ? `${d.classes?.length} classes, ${d.train} train / ${d.test} test images` : `image–text rows`}) · tasks: ${escapeHtml(details.tasks.join(", "))} · seed ${details.seed} · ${formatValue(details.seconds)} s.
Intervals are 95 % bootstrap intervals (1000 resamples); pairs are tested on the same samples (exact McNemar for accuracies, paired bootstrap for recalls), and a winner is named only where p &lt; 0.05.</p>
<h2>Encoders</h2>
<table><thead><tr><th>name</th><th>source</th><th>dtype</th><th>tokens / image</th><th>width</th><th>max patches</th><th>file MiB</th></tr></thead><tbody>${enc}</tbody></table>
<h2>Figures</h2>${metricCharts(details, color)}
<h2>Paired tests</h2>${pairsTable(details)}
<h2>Accuracy and speed</h2>${scatter(details, color)}
<h2>Recall per class</h2>${perClassChart(details, color)}
<h2>Where the encoders disagree</h2>${await gallery(details, color)}
</body></html>
`;
}
