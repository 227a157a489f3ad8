import path from "node:path";
import type { Command } from "commander";
import { importMmproj, PROJECTOR_TYPES } from "../../interop/index.js";
import { printJson, printLine } from "../output.js";

export function register(program: Command): void {
  const group = program.command("import").description("read other tools' model files into vlmkit's layout");
  group
    .command("mmproj")
    .description(
      `turn a llama.cpp mmproj GGUF (projector ${PROJECTOR_TYPES.join(", ")}; SigLIP tower) into an encoder and an adapter`,
    )
    .argument("<file>", "the mmproj GGUF, or a model GGUF that carries v.*/mm.* tensors")
    .requiredOption("--out <dir>", "directory for encoder/ and adapter/")
    .option("--llm <gguf>", "the LLM the projector was made for (required for a bare mmproj)")
    .option("--json", "print what was written as JSON")
    .action(async (file: string, args: { out: string; llm?: string; json?: boolean }) => {
      const result = await importMmproj(path.resolve(file), {
        out: args.out,
        llm: args.llm === undefined ? undefined : path.resolve(args.llm),
      });
      if (args.json) {
        const { card, ...rest } = result;
        return printJson({
          ...rest,
          kind: card.adapter.kind,
          factor: card.adapter.factor,
          imageTokens: card.prompt.image_tokens,
        });
      }
      printLine(
        `wrote ${result.encoderDir} and ${result.adapterDir} (${result.projector} → ${result.card.adapter.kind})`,
      );
      printLine(
        `ask: vlmkit ask <image> "<question>" --encoder ${result.encoderDir} --adapter ${result.adapterDir} --llm <llm.gguf>`,
      );
    });
}
