/**
 * The sha256 an adapter card records for a part it carries (an encoder directory or a GGUF file), so a
 * part is verified before it is loaded.
 *
 *   file       sha256 of its bytes
 *   directory  sha256 of the lines `<sha256 of file>  <relative/path>\n` of every file under it,
 *              sorted by path (what `sha256sum` prints, in a fixed order); files and folders whose
 *              names start with "." are left out (temp files, editor state)
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";

async function fileSha256(file: string): Promise<string> {
  const hash = crypto.createHash("sha256");
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Relative paths (with "/") of the regular files under `dir`, sorted; symlinks are followed by `stat`. */
function filesUnder(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    if (entry.name.startsWith(".")) continue;
    const rel = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    const stat = fs.statSync(path.join(dir, rel));
    if (stat.isDirectory()) out.push(...filesUnder(dir, rel));
    else if (stat.isFile()) out.push(rel);
  }
  return out.sort();
}

/** The content hash of a file or a directory (lowercase hex), as described above. */
export async function contentSha256(p: string): Promise<string> {
  const stat = await fs.promises.stat(p);
  if (stat.isFile()) return fileSha256(p);
  const hash = crypto.createHash("sha256");
  for (const rel of filesUnder(p)) hash.update(`${await fileSha256(path.join(p, rel))}  ${rel}\n`);
  return hash.digest("hex");
}
