/**
 * Figures into result rows (with bootstrap intervals) and paired comparisons between encoders: exact
 * McNemar for accuracies, paired bootstrap for recalls, both on the same samples; a winner is named
 * only where p < 0.05.
 */
import crypto from "node:crypto";
import type { Measured } from "./measured.js";
import { meanOf } from "./metrics/classification.js";
import { bootstrapCi, pairedBootstrap, type Statistic } from "./stats/bootstrap.js";
import { mcnemar } from "./stats/mcnemar.js";
import type { PairRow, ResultRow, TaskName } from "./types.js";

export const SIGNIFICANCE = 0.05;
export const RESAMPLES = 1000;

/** One seed per (run seed, task, metric): every encoder's figure resamples the same indices. */
function figureSeed(seed: number, task: string, metric: string): number {
  return crypto.createHash("sha256").update(`${seed}\0${task}\0${metric}`).digest().readUInt32BE(0);
}

function statOf(m: Measured): Statistic | undefined {
  if (!m.test) return undefined;
  if (m.test.kind === "bootstrap") return m.test.stat;
  const correct = m.test.correct;
  return (idx) => meanOf(correct, idx);
}

export interface EncoderFigures {
  encoder: string;
  task: TaskName;
  metrics: readonly Measured[];
}

export function resultRows(figures: readonly EncoderFigures[], seed: number): ResultRow[] {
  const rows: ResultRow[] = [];
  for (const f of figures) {
    for (const m of f.metrics) {
      const stat = statOf(m);
      const ci =
        stat && m.n > 0
          ? bootstrapCi(m.n, stat, { resamples: RESAMPLES, seed: figureSeed(seed, f.task, m.metric) })
          : null;
      rows.push({ encoder: f.encoder, task: f.task, metric: m.metric, value: m.value, ci, n: m.n });
    }
  }
  return rows;
}

function sameKeys(a: Measured, b: Measured): boolean {
  if (!a.keys || !b.keys || a.keys.length !== b.keys.length) return false;
  return a.keys.every((k, i) => k === b.keys![i]);
}

/** Every pair of encoders (in the order given) for every tested figure of every task. */
export function pairRows(figures: readonly EncoderFigures[], seed: number): PairRow[] {
  const byTask = new Map<TaskName, EncoderFigures[]>();
  for (const f of figures) byTask.set(f.task, [...(byTask.get(f.task) ?? []), f]);
  const rows: PairRow[] = [];
  for (const [task, list] of byTask) {
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        for (const ma of list[i].metrics) {
          const mb = list[j].metrics.find((m) => m.metric === ma.metric);
          if (!ma.test || !mb?.test || !sameKeys(ma, mb)) continue;
          let delta: number;
          let p: number;
          if (ma.test.kind === "mcnemar" && mb.test.kind === "mcnemar") {
            delta = ma.value - mb.value;
            p = mcnemar(ma.test.correct, mb.test.correct).p;
          } else {
            const r = pairedBootstrap(ma.n, statOf(ma)!, statOf(mb)!, {
              resamples: RESAMPLES,
              seed: figureSeed(seed, task, `${ma.metric}:pair`),
            });
            delta = r.delta;
            p = r.p;
          }
          const a = list[i].encoder;
          const b = list[j].encoder;
          rows.push({
            task,
            metric: ma.metric,
            a,
            b,
            delta,
            p,
            winner: p < SIGNIFICANCE && delta !== 0 ? (delta > 0 ? a : b) : null,
          });
        }
      }
    }
  }
  return rows;
}
