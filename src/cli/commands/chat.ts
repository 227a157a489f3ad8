import readline from "node:readline/promises";
import type { Command } from "commander";
import type { ImageInput } from "../../encoders/index.js";
import { isVlmkitError } from "../../errors.js";
import { loadImage } from "../../image/index.js";
import type { VlmMessage } from "../../vlm.js";
import {
  addSamplingOptions,
  addVlmOptions,
  loadVlm,
  type SamplingArgs,
  samplingOptions,
  type VlmArgs,
} from "../vlm-args.js";

const HELP =
  "commands: /image <path> attaches an image to your next message, /clear forgets the conversation, /quit exits";

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
    const singleTurn = vlm.adapter.card.prompt.style === "paligemma";
    const rl = readline.createInterface({
      input: process.stdin,
      output: process.stdout,
      terminal: process.stdin.isTTY,
    });
    // Start listening at once: lines piped in while images load must not be lost.
    const lines = rl[Symbol.asyncIterator]();
    const history: VlmMessage[] = [];
    let pending: ImageInput[] = [];
    // PaliGemma-style adapters answer single questions: images stay attached, history is not sent.
    let sticky: ImageInput[] = [];
    const attach = async (file: string) => {
      const img = await loadImage(file);
      pending.push(img);
      process.stdout.write(`attached ${file} (${img.width}×${img.height})\n`);
    };
    try {
      for (const file of initial) await attach(file);
      process.stdout.write(
        `${HELP}${singleTurn ? "\n(this adapter uses the PaliGemma prompt: each question is answered on its own, about the attached images)" : ""}\n`,
      );
      const prompt = () => process.stdin.isTTY && process.stdout.write("> ");
      prompt();
      // The line iterator buffers piped input, so scripted sessions work as typed ones do.
      for await (const raw of { [Symbol.asyncIterator]: () => lines }) {
        const line = raw.trim();
        if (line === "/quit" || line === "/exit") break;
        if (line === "") continue;
        if (line === "/clear") {
          history.length = 0;
          pending = [];
          sticky = [];
          process.stdout.write("conversation cleared\n");
          prompt();
          continue;
        }
        if (line.startsWith("/image")) {
          const file = line.slice("/image".length).trim();
          if (!file) process.stdout.write("usage: /image <path>\n");
          else await attach(file).catch((e) => process.stdout.write(`${isVlmkitError(e) ? e.message : e}\n`));
          prompt();
          continue;
        }
        if (line.startsWith("/")) {
          process.stdout.write(`unknown command ${line.split(" ")[0]}; ${HELP}\n`);
          prompt();
          continue;
        }
        if (singleTurn) sticky = [...sticky, ...pending];
        const images = singleTurn ? sticky : pending;
        const message: VlmMessage = {
          role: "user",
          content: [
            ...images.map((image) => ({ type: "image" as const, image })),
            { type: "text" as const, text: line },
          ],
        };
        pending = [];
        const controller = new AbortController();
        const onSigint = () => controller.abort();
        process.once("SIGINT", onSigint);
        try {
          const gen = vlm.chatStream(singleTurn ? [message] : [...history, message], {
            ...samplingOptions(args),
            signal: controller.signal,
          });
          for await (const delta of gen) process.stdout.write(delta);
          const result = await gen.result;
          process.stdout.write("\n");
          if (!singleTurn) history.push(message, { role: "assistant", content: result.text });
        } catch (error) {
          process.stdout.write(`\n${isVlmkitError(error) ? error.message : String(error)}\n`);
        } finally {
          process.off("SIGINT", onSigint);
        }
        prompt();
      }
    } finally {
      rl.close();
      await vlm.dispose();
    }
  });
}
