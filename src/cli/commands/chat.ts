import type { Command } from "commander";
import { chatLoop } from "../chat-session.js";
import { addSamplingOptions, addVlmOptions, loadVlm, type SamplingArgs, type VlmArgs } from "../vlm-args.js";

export function register(program: Command): void {
  addSamplingOptions(
    addVlmOptions(
      program
        .command("chat")
        .description("interactive chat about images (/image <path>, /clear, /quit)")
        .argument("[images...]", "images to start with"),
    ),
  ).action(async (initial: string[], args: VlmArgs & SamplingArgs) => {
    const vlm = await loadVlm(args);
    try {
      await chatLoop(vlm, initial, args);
    } finally {
      await vlm.dispose();
    }
  });
}
