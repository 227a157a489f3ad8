import fs from "node:fs";
import type { Command } from "commander";
import { askOnce, chatLoop } from "../chat-session.js";
import { addSamplingOptions, addVlmOptions, loadVlm, type SamplingArgs, type VlmArgs } from "../vlm-args.js";

/**
 * `run <adapter|bundle> [image...] [prompt]`: the trailing argument is the prompt unless it is an
 * existing file; with a prompt, one answer; without, the interactive chat (images attached first).
 */
export function register(program: Command): void {
  const cmd = addSamplingOptions(
    addVlmOptions(
      program
        .command("run")
        .description(
          "run an adapter or bundle: one answer with a prompt, an interactive chat without (vlmkit run shapes img.png)",
        )
        .argument("<adapter>", "adapter or bundle directory, or its name (see `vlmkit models`)")
        .argument("[images-and-prompt...]", "image files, then optionally the prompt")
        .option("--json", "with a prompt: print {text, finishReason, usage, timings} as JSON"),
      { withAdapter: false },
    ),
  );
  cmd.action(
    async (
      adapter: string,
      rest: string[],
      args: Omit<VlmArgs, "adapter"> & SamplingArgs & { json?: boolean },
    ) => {
      const last = rest.at(-1);
      const prompt = last !== undefined && !fs.existsSync(last) ? last : undefined;
      const images = prompt === undefined ? rest : rest.slice(0, -1);
      const vlm = await loadVlm({ ...args, adapter });
      try {
        if (prompt !== undefined) await askOnce(vlm, images, prompt, args);
        else await chatLoop(vlm, images, args);
      } finally {
        await vlm.dispose();
      }
    },
  );
}
