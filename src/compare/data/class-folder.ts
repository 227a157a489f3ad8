/**
 * A labelled imagefolder: `<dir>/<class>/*.jpg`, or `<dir>/train/<class>/…` with `<dir>/val/<class>/…`
 * (or `test/`), or only `<dir>/val/<class>/…` for evaluation without training images. Without split folders, a seeded hash of each image's relative path decides its side
 * (`splitHash`, the same hash training's validation split uses), so the split is stable across runs
 * and encoders.
 */
import fs from "node:fs";
import path from "node:path";
import { DatasetError } from "../../errors.js";
import { splitHash } from "../../train/index.js";

const IMAGE_EXTENSIONS = new Set([
  ".jpg",
  ".jpeg",
  ".png",
  ".webp",
  ".gif",
  ".bmp",
  ".tif",
  ".tiff",
  ".avif",
]);

export interface LabelledImage {
  /** Path relative to the dataset folder: the sample's identity, the same for every encoder. */
  key: string;
  imagePath: string;
  /** Index into `classes`. */
  label: number;
}

export interface ClassFolderData {
  kind: "classes";
  dir: string;
  /** Folder names, sorted. */
  folders: string[];
  /** Class names for prompts (from `classNames`, else the folder name with `_` as a space). */
  classes: string[];
  train: LabelledImage[];
  test: LabelledImage[];
}

export interface ClassFolderOptions {
  /** Share of images held out for testing when the folder has no split folders. Default 0.3. */
  testFraction?: number;
  /** Seed of the hash split. Default 0. */
  seed?: number;
  /**
   * Class names for prompts: a file with one name per line in sorted folder order, or a JSON object
   * folder → name. Default: folder names with `_` read as spaces.
   */
  classNamesFile?: string;
}

function isImage(name: string): boolean {
  return IMAGE_EXTENSIONS.has(path.extname(name).toLowerCase());
}

function subdirs(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith("."))
    .map((e) => e.name)
    .sort();
}

/** Whether `dir` looks like a labelled imagefolder (class subfolders holding images, or split folders). */
export function isClassFolder(dir: string): boolean {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) return false;
  if (fs.existsSync(path.join(dir, "metadata.jsonl"))) return false;
  const sub = subdirs(dir);
  const split = ["train", "val", "test"].find((n) => sub.includes(n));
  const root = split ? path.join(dir, split) : dir;
  return subdirs(root).some((c) => fs.readdirSync(path.join(root, c)).some(isImage));
}

function listImages(
  root: string,
  folders: readonly string[],
  base: string,
): { key: string; imagePath: string; folder: string }[] {
  const out: { key: string; imagePath: string; folder: string }[] = [];
  for (const folder of folders) {
    const classDir = path.join(root, folder);
    if (!fs.existsSync(classDir)) continue;
    for (const name of fs.readdirSync(classDir).filter(isImage).sort()) {
      const imagePath = path.join(classDir, name);
      out.push({ key: path.relative(base, imagePath).split(path.sep).join("/"), imagePath, folder });
    }
  }
  return out;
}

function readClassNames(file: string, folders: readonly string[]): string[] {
  const text = fs.readFileSync(file, "utf8");
  if (text.trimStart().startsWith("{")) {
    const map = JSON.parse(text) as Record<string, unknown>;
    return folders.map((f) => {
      const name = map[f];
      if (typeof name !== "string" || name.trim() === "") {
        throw new DatasetError(`${file} gives no class name for folder "${f}"`);
      }
      return name.trim();
    });
  }
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  if (lines.length !== folders.length) {
    throw new DatasetError(
      `${file} has ${lines.length} class names; the dataset has ${folders.length} class folders (one name per line, in sorted folder order)`,
    );
  }
  return lines;
}

export function readClassFolder(dir: string, options: ClassFolderOptions = {}): ClassFolderData {
  const { testFraction = 0.3, seed = 0 } = options;
  const root = path.resolve(dir);
  if (!isClassFolder(root)) {
    throw new DatasetError(
      `${dir} is not a labelled imagefolder; expected <dir>/<class>/<image> (optionally under train/ and val/ or test/)`,
    );
  }
  const top = subdirs(root);
  const testName = ["val", "test"].find((n) => top.includes(n));
  // With a val/ (or test/) folder the split is given: train/ may be absent (evaluation only:
  // zeroshot, retrieval, speed), as for an ImageNet validation folder.
  const split = testName !== undefined;
  const trainRoot = path.join(root, "train");
  const folders = split
    ? [
        ...new Set([
          ...(fs.existsSync(trainRoot) ? subdirs(trainRoot) : []),
          ...subdirs(path.join(root, testName)),
        ]),
      ].sort()
    : subdirs(root);
  const labelOf = new Map(folders.map((f, i) => [f, i]));
  const toSample = (x: { key: string; imagePath: string; folder: string }): LabelledImage => ({
    key: x.key,
    imagePath: x.imagePath,
    label: labelOf.get(x.folder)!,
  });
  let train: LabelledImage[];
  let test: LabelledImage[];
  if (split) {
    train = fs.existsSync(trainRoot) ? listImages(trainRoot, folders, root).map(toSample) : [];
    test = listImages(path.join(root, testName), folders, root).map(toSample);
  } else {
    const all = listImages(root, folders, root).map(toSample);
    train = all.filter((s) => splitHash(s.key, seed) >= testFraction);
    test = all.filter((s) => splitHash(s.key, seed) < testFraction);
  }
  if (test.length === 0)
    throw new DatasetError(`${dir}: no test images (hold out more, or add a val/ folder)`);
  const classes = options.classNamesFile
    ? readClassNames(options.classNamesFile, folders)
    : folders.map((f) => f.replace(/_/g, " "));
  return { kind: "classes", dir: root, folders, classes, train, test };
}
