import type { Command } from "commander";
import { Siglip } from "../../encoders/index.js";
import { writeFileAtomic } from "../../util/fs.js";
import { addEncoderOptions, type EncoderArgs, encoderDir } from "../encoder-arg.js";
import { printJson, printLine, progressBar } from "../output.js";

interface EmbedArgs extends EncoderArgs {
  out?: string;
}

export function register(program: Command): void {
  addEncoderOptions(
    program
      .command("embed")
      .description("L2-normalized image embeddings (SigLIP pooled output)")
      .argument("<images...>", "image files (or data: URLs)")
      .option("--out <file>", "write JSON Lines {path, embedding} to this file instead of stdout")
      .option("--json", "print JSON: [{path, dims, embedding}]"),
  ).action(async (images: string[], args: EmbedArgs) => {
    const { dir, dtype } = await encoderDir(args);
    const model = await Siglip.load(dir, { dtype, threads: args.threads });
    const bar = progressBar("embedding", { json: args.json });
    try {
      const vectors = await model.embedImages(images, {
        onProgress: (done, total) => bar.update(done, total),
      });
      bar.stop();
      const rows = images.map((path, i) => ({
        path,
        dims: vectors[i].length,
        embedding: Array.from(vectors[i]),
      }));
      if (args.out) {
        await writeFileAtomic(
          args.out,
          `${rows.map((r) => JSON.stringify({ path: r.path, embedding: r.embedding })).join("\n")}\n`,
        );
        if (args.json) printJson({ out: args.out, count: rows.length, dims: rows[0]?.dims ?? 0 });
        else printLine(`wrote ${rows.length} embeddings (${rows[0]?.dims ?? 0} dims) to ${args.out}`);
        return;
      }
      if (args.json) return printJson(rows);
      for (const r of rows) printLine(`${r.path}\t${r.embedding.map((x) => x.toFixed(6)).join(" ")}`);
    } finally {
      bar.stop();
      await model.dispose();
    }
  });
}
