/** File helpers: every file vlmkit writes goes through a temp file and a rename, so readers never see half a file. */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { VlmkitError } from "../errors.js";

export function tempPathFor(file: string): string {
  return path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`,
  );
}

/**
 * Writes `data` to `file` atomically (temp file in the same directory, fsync, rename). When anything
 * fails — disk full, read-only file system, no permission — the temp file is removed, `file` keeps
 * its previous contents and the error is a VlmkitError WRITE_FAILED naming the file and the reason.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempPathFor(file);
  try {
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    const handle = await fs.promises.open(tmp, "w");
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.promises.rename(tmp, file);
  } catch (cause) {
    await fs.promises.rm(tmp, { force: true }).catch(() => {});
    throw writeFailed(file, cause);
  }
}

/**
 * Writes several files that belong together: every temp file is written and synced first, then all
 * are renamed in order. A write that fails (disk full, …) leaves every file as it was: WRITE_FAILED.
 */
export async function writeFilesAtomic(
  files: readonly (readonly [file: string, data: string | Uint8Array])[],
): Promise<void> {
  const temps: string[] = [];
  let current = files[0]?.[0] ?? "";
  try {
    for (const [file, data] of files) {
      current = file;
      await fs.promises.mkdir(path.dirname(file), { recursive: true });
      const tmp = tempPathFor(file);
      temps.push(tmp);
      const handle = await fs.promises.open(tmp, "w");
      try {
        await handle.writeFile(data);
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    for (const [i, [file]] of files.entries()) {
      current = file;
      await fs.promises.rename(temps[i], file);
    }
  } catch (cause) {
    await Promise.all(temps.map((t) => fs.promises.rm(t, { force: true }).catch(() => {})));
    throw writeFailed(current, cause);
  }
}

export function writeFileAtomicSync(file: string, data: string | Uint8Array): void {
  const tmp = tempPathFor(file);
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const fd = fs.openSync(tmp, "w");
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (cause) {
    fs.rmSync(tmp, { force: true });
    throw writeFailed(file, cause);
  }
}

const REASONS: Record<string, string> = {
  ENOSPC: "no space left on the device",
  EDQUOT: "the disk quota is exhausted",
  EROFS: "the file system is read-only",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EFBIG: "the file is larger than the system allows",
};

/**
 * The WRITE_FAILED error for `file` (a VlmkitError `cause` passes through unchanged); `state` says
 * what became of the file.
 */
export function writeFailed(
  file: string,
  cause: unknown,
  state = "its previous version, if any, is unchanged",
): VlmkitError {
  if (cause instanceof VlmkitError) return cause;
  const code = (cause as NodeJS.ErrnoException).code;
  const why = (code && REASONS[code]) ?? (cause as Error).message;
  return new VlmkitError(
    "WRITE_FAILED",
    `cannot write ${file}: ${why}${code ? ` (${code})` : ""}; ${state}`,
    { cause, details: { file, errno: code } },
  );
}
