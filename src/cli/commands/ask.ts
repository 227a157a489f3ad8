import type { Command } from "commander";
import { InvalidArgumentError } from "../../errors.js";
import { askOnce } from "../chat-session.js";
import { addSamplingOptions, addVlmOptions, loadVlm, type SamplingArgs, type VlmArgs } from "../vlm-args.js";

export function register(program: Command): void {
  addSamplingOptions(
    addVlmOptions(
      program
        .command("ask")
        .description("ask a question about one or more images")
        .argument(
          "<images-and-question...>",
          'image files, then the question: ask a.jpg b.jpg "what differs?"',
        )
        .option("--json", "print {text, finishReason, usage, timings} as JSON"),
    ),
  ).action(async (positionals: string[], args: VlmArgs & SamplingArgs & { json?: boolean }) => {
    if (positionals.length < 2) throw new InvalidArgumentError("ask needs at least one image and a question");
    const question = positionals.at(-1)!;
    const images = positionals.slice(0, -1);
    const vlm = await loadVlm(args);
    try {
      await askOnce(vlm, images, question, args);
    } finally {
      await vlm.dispose();
    }
  });
}
