/**
 * The interactive loop of `chat` and `run` (without a prompt): lines from stdin are questions about the
 * attached images; /image, /clear and /quit are commands. Piped input works as typed input does.
 */
import readline from "node:readline/promises";
import type { ImageInput } from "../encoders/index.js";
import { isVlmkitError } from "../errors.js";
import { loadImage } from "../image/index.js";
import type { Vlm, VlmMessage } from "../vlm.js";
import { printJson } from "./output.js";
import { type SamplingArgs, samplingOptions } from "./vlm-args.js";

const HELP =
  "commands: /image <path> attaches an image to your next message, /clear forgets the conversation, /quit exits";

/** Answers one question about `images`, streaming the text to stdout (or printing the result as JSON). */
export async function askOnce(
  vlm: Vlm,
  images: string[],
  question: string,
  args: SamplingArgs & { json?: boolean },
): Promise<void> {
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once("SIGINT", onSigint);
  try {
    const generation = vlm.stream(images, question, { ...samplingOptions(args), signal: controller.signal });
    if (!args.json) for await (const delta of generation) process.stdout.write(delta);
    const result = await generation.result;
    if (args.json) printJson(result);
    else process.stdout.write("\n");
  } finally {
    process.off("SIGINT", onSigint);
  }
}

/** Runs the interactive loop until /quit or the end of input; `initial` images are attached first. */
export async function chatLoop(vlm: Vlm, initial: string[], args: SamplingArgs): Promise<void> {
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
  }
}
