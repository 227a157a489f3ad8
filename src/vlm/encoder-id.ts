/**
 * The name an adapter card records for its encoder, stable across machines: the registry id for a
 * known hub model, `org/repo` for another hub snapshot, else the directory's name.
 */
import path from "node:path";
import { findModel } from "../hub/registry.js";

export function encoderId(dir: string): string {
  const parts = path.resolve(dir).split(path.sep);
  const cached = parts.findLast((p) => p.startsWith("models--"));
  if (cached) {
    const repo = cached.slice("models--".length).replace("--", "/");
    return findModel(repo)?.id ?? repo;
  }
  return path.basename(path.resolve(dir));
}
