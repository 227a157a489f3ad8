import type { Command } from "commander";
import { parseOnnxDtype, snapshotDownload } from "../../hub/index.js";
import { printJson, printLine, progressBar } from "../output.js";
import { repeatable } from "../parse.js";

interface PullArgs {
  dtype: string;
  revision?: string;
  file?: string[];
  textTower: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command("pull")
    .description("download a model into the Hugging Face cache and print its snapshot folder")
    .argument("<model>", "a known model id (see `vlmkit models`) or an org/repo on the hub")
    .option("--dtype <dtype>", "ONNX weight variant (fp32, fp16, q8, int8, uint8, q4, q4f16, bnb4)", "fp32")
    .option("--revision <rev>", "branch, tag or commit (default: the registry's, else main)")
    .option("--file <path>", "fetch exactly this file of the repo (repeatable)", repeatable("--file"))
    .option("--no-text-tower", "skip the SigLIP text tower (a VLM needs only the vision tower)")
    .option("--json", "print JSON: {dir, repo, revision, commit, files: [{path, size, fromCache}]}")
    .action(async (model: string, args: PullArgs) => {
      const dtype = parseOnnxDtype(args.dtype);
      const bar = progressBar(`pulling ${model}`, { json: args.json, unit: "bytes" });
      let snap: Awaited<ReturnType<typeof snapshotDownload>>;
      try {
        snap = await snapshotDownload(model, {
          dtype,
          revision: args.revision,
          files: args.file,
          textTower: args.textTower,
          onProgress: (done, total) => bar.update(done, total),
        });
      } finally {
        bar.stop();
      }
      if (args.json) {
        const files = snap.files.map((f) => ({ path: f.path, size: f.size, fromCache: f.fromCache }));
        return printJson({
          dir: snap.dir,
          repo: snap.repo,
          revision: snap.revision,
          commit: snap.commit,
          files,
        });
      }
      printLine(snap.dir);
    });
}
