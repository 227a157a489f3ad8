import type { Command } from "commander";
import { checkTexts, Siglip } from "../../encoders/index.js";
import { InvalidArgumentError } from "../../errors.js";
import { writeFileAtomic } from "../../util/fs.js";
import { addEncoderOptions, type EncoderArgs, encoderDir } from "../encoder-arg.js";
import { expandImageArgs, readLines, repeatable } from "../image-args.js";
import { printJson, printLine, progressBar } from "../output.js";

interface EmbedArgs extends EncoderArgs {
  out?: string;
  text: string[];
  textsFile?: string;
}

/** One embedded input: an image (by path) or a text. */
type Row = ({ path: string } | { text: string }) & { dims: number; embedding: number[] };

export function register(program: Command): void {
  addEncoderOptions(
    program
      .command("embed")
      .description(
        "L2-normalized SigLIP embeddings of images (vision tower) and texts (text tower), in one space",
      )
      .argument("[images...]", "image files, directories of images, or data: URLs")
      .option("--text <text>", "embed this text (repeatable: --text a --text b)", repeatable, [] as string[])
      .option("--texts-file <file>", "embed each non-empty line of this file as a text")
      .option("--out <file>", "write JSON Lines {path|text, embedding} to this file instead of stdout")
      .option("--json", "print JSON: [{path|text, dims, embedding}]"),
  ).action(async (imageArgs: string[], args: EmbedArgs) => {
    const texts = [...args.text, ...(args.textsFile ? readLines(args.textsFile, "--texts-file") : [])];
    if (texts.length > 0) checkTexts(texts, args.textsFile ? "texts" : "--text");
    const images = expandImageArgs(imageArgs);
    if (images.length === 0 && texts.length === 0) {
      throw new InvalidArgumentError("embed needs images, --text <text> or --texts-file <file>");
    }
    const { dir, dtype } = await encoderDir(args);
    const model = await Siglip.load(dir, { dtype, threads: args.threads });
    const bar = progressBar("embedding", { json: args.json });
    try {
      const imageVectors = images.length
        ? await model.embedImages(images, { onProgress: (done, total) => bar.update(done, total) })
        : [];
      bar.stop();
      const textVectors = texts.length ? await model.embedTexts(texts) : [];
      const rows: Row[] = [
        ...images.map((path, i) => ({ path, vector: imageVectors[i] })),
        ...texts.map((text, i) => ({ text, vector: textVectors[i] })),
      ].map(({ vector, ...input }) => ({ ...input, dims: vector.length, embedding: Array.from(vector) }));
      if (args.out) {
        const lines = rows.map(({ dims: _, ...row }) => JSON.stringify(row));
        await writeFileAtomic(args.out, `${lines.join("\n")}\n`);
        if (args.json) printJson({ out: args.out, count: rows.length, dims: rows[0]?.dims ?? 0 });
        else printLine(`wrote ${rows.length} embeddings (${rows[0]?.dims ?? 0} dims) to ${args.out}`);
        return;
      }
      if (args.json) return printJson(rows);
      for (const r of rows) {
        const name = "path" in r ? r.path : JSON.stringify(r.text);
        printLine(`${name}\t${r.embedding.map((x) => x.toFixed(6)).join(" ")}`);
      }
    } finally {
      bar.stop();
      await model.dispose();
    }
  });
}
