/**
 * Image and text arguments of the encoder commands: a directory stands for the images directly inside
 * it (sorted by name, not recursive), and list files hold one entry per line.
 */
import fs from "node:fs";
import { InvalidArgumentError } from "../errors.js";
import { imagesInDir } from "../image/dir.js";

/** Each argument that is a directory becomes the images inside it; anything else is kept as given. */
export function expandImageArgs(args: readonly string[]): string[] {
  return args.flatMap((arg) => {
    return !arg.startsWith("data:") && isDirectory(arg) ? imagesInDir(arg) : [arg];
  });
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false; // not a file either: the image loader says what is wrong with it
  }
}

/** Non-empty lines of a text file (trailing whitespace and `\r` removed), one entry each. */
export function readLines(file: string, flag: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new InvalidArgumentError(
      `${flag} ${file}: ${code === "ENOENT" ? "no such file" : (cause as Error).message}`,
      { cause },
    );
  }
  const lines = text
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l.trim().length > 0);
  if (lines.length === 0) throw new InvalidArgumentError(`${flag} ${file} holds no line of text`);
  return lines;
}

/** Commander collector for a repeatable single-value option (`--text a --text b`). */
export function repeatable(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
