/**
 * The demo model set: every tiny model vlmkit can write, in one directory, laid out the way real models
 * are, so each command runs offline on real formats (weights are random: answers are meaningless).
 */
import path from "node:path";
import { writeTinySiglip } from "./siglip.js";

export interface TinyDemoOptions {
  /** Weight seed. Default 0. */
  seed?: number;
}

export interface TinyDemo {
  dir: string;
  /** Part name → path. */
  parts: Record<string, string>;
}

export async function writeTinyDemo(dir: string, options: TinyDemoOptions = {}): Promise<TinyDemo> {
  const seed = options.seed ?? 0;
  const parts: Record<string, string> = {};
  for (const variant of ["siglip", "siglip2", "siglip2-naflex"] as const) {
    const out = path.join(dir, variant);
    await writeTinySiglip(out, { variant, seed });
    parts[variant] = out;
  }
  return { dir, parts };
}
