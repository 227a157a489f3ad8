// Finds the fenced command blocks of a markdown file marked runnable (docs/dev.md#runnable-examples):
//   ```sh runnable [expect=<regex>]…  run to completion; stdout matches each regex (multiline, no spaces)
//   ```sh runnable serve              a `vlmkit serve` the file's later runnable blocks run against
import MarkdownIt from "markdown-it";

export interface RunnableBlock {
  /** `file:line` of the fence. */
  where: string;
  code: string;
  serve: boolean;
  /** What stdout must match, each (multiline: `^red$` is a line that says red). */
  expect: RegExp[];
}

const md = new MarkdownIt();

export function findRunnableBlocks(markdown: string, file: string): RunnableBlock[] {
  const blocks: RunnableBlock[] = [];
  for (const token of md.parse(markdown, {})) {
    if (token.type !== "fence") continue;
    const [lang, ...words] = token.info.trim().split(/\s+/);
    if (lang !== "sh" || !words.includes("runnable")) continue;
    const expect = words.filter((w) => w.startsWith("expect=")).map((w) => new RegExp(w.slice(7), "m"));
    blocks.push({
      where: `${file}:${(token.map?.[0] ?? 0) + 1}`,
      code: token.content,
      serve: words.includes("serve"),
      expect,
    });
  }
  return blocks;
}
