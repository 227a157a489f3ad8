/**
 * The name an adapter card records for its encoder, stable across machines: the registry id for a
 * known hub model, `org/repo` for another hub snapshot, else the directory's name.
 */
import path from "node:path";
import { cachedRepoOf } from "../hub/cache.js";
import { findModel } from "../hub/registry.js";

export function encoderId(dir: string): string {
  const repo = cachedRepoOf(dir);
  if (repo !== undefined) return findModel(repo)?.id ?? repo;
  return path.basename(path.resolve(dir));
}
