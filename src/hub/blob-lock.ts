/**
 * An exclusive lock beside a blob (`blobs/<etag>.lock`) so that two processes pulling the same file
 * never append to one `.incomplete` at once. Created with O_EXCL; the holder refreshes its mtime while
 * it works. A lock is stale, and taken over, when its holder on this host is no longer running or
 * its mtime has not moved for `staleMs` (a holder on another host sharing the cache, or a crash).
 */

import fs from "node:fs/promises";
import os from "node:os";
import { AbortError, VlmkitError } from "../errors.js";

export interface BlobLockOptions {
  /** A lock whose mtime is older than this is taken over. Default 30 000 ms. */
  staleMs?: number;
  /** How often the holder refreshes the lock's mtime. Default 5 000 ms. */
  refreshMs?: number;
  /** How often a waiter looks again. Default 100 ms. */
  pollMs?: number;
  /** Stops waiting with AbortError. */
  signal?: AbortSignal;
  /**
   * Wait for another holder to finish (default true). When false, a live holder makes this throw
   * a VlmkitError BUSY naming `what`, the holder's pid and host instead.
   */
  wait?: boolean;
  /** What the lock guards, for the BUSY message. Default: the lock file's path. */
  what?: string;
}

interface Holder {
  pid: number;
  host: string;
}

/** Runs `work` while holding the lock file `lockPath`, waiting for another holder to finish first (or refusing: `wait`). */
export async function withBlobLock<T>(
  lockPath: string,
  work: () => Promise<T>,
  options: BlobLockOptions = {},
): Promise<T> {
  const staleMs = options.staleMs ?? 30_000;
  const refreshMs = options.refreshMs ?? 5_000;
  const pollMs = options.pollMs ?? 100;
  const me: Holder = { pid: process.pid, host: os.hostname() };
  for (;;) {
    if (options.signal?.aborted) throw new AbortError(undefined, { cause: options.signal.reason });
    try {
      const handle = await fs.open(lockPath, "wx");
      await handle.writeFile(JSON.stringify(me));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    if (await isStale(lockPath, staleMs, me.host)) {
      await fs.rm(lockPath, { force: true });
      continue;
    }
    if (options.wait === false) {
      const holder = await fs.readFile(lockPath, "utf8").catch(() => "");
      throw new VlmkitError(
        "BUSY",
        `${options.what ?? lockPath} is in use by another process (${holder || "starting"}); lock ${lockPath}`,
        {
          details: { lockPath },
        },
      );
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
  const refresh = setInterval(() => {
    const now = new Date();
    fs.utimes(lockPath, now, now).catch(() => {});
  }, refreshMs);
  refresh.unref();
  try {
    return await work();
  } finally {
    clearInterval(refresh);
    await fs.rm(lockPath, { force: true });
  }
}

async function isStale(lockPath: string, staleMs: number, host: string): Promise<boolean> {
  let text: string;
  let mtimeMs: number;
  try {
    [text, { mtimeMs }] = await Promise.all([fs.readFile(lockPath, "utf8"), fs.stat(lockPath)]);
  } catch {
    return false; // released meanwhile: the next open decides
  }
  if (Date.now() - mtimeMs > staleMs) return true;
  let holder: Partial<Holder> = {};
  try {
    holder = JSON.parse(text);
  } catch {
    return false; // being written right now
  }
  return holder.host === host && typeof holder.pid === "number" && !isRunning(holder.pid);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by someone else
  }
}
