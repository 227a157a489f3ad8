/** Flags shared by the commands that run a whole VLM (`ask`, `chat`, `serve`): parts and sampling. */
import type { Command } from "commander";
import type { SamplerOptions } from "../llm/native.js";
import { Vlm } from "../vlm.js";
import { adapterParts } from "./adapter-parts.js";
import { addEncoderOptions, type EncoderArgs } from "./encoder-arg.js";
import { num, repeatable } from "./parse.js";

/** `withAdapter: false` leaves out `--adapter` (a command that takes the adapter positionally). */
export function addVlmOptions(cmd: Command, { withAdapter = true } = {}): Command {
  const withEncoder = addEncoderOptions(cmd, {
    defaultEncoder: false,
    encoderHelp: "(default: the adapter card's)",
  });
  if (withAdapter) {
    withEncoder.requiredOption(
      "--adapter <dir|name>",
      "adapter or bundle: a directory (adapter.json + adapter.safetensors), or a name `vlmkit models` lists",
    );
  }
  return withEncoder
    .option(
      "--llm <gguf|id|hf:uri>",
      "the LLM: a GGUF file, a known id, or an hf: URI (default: the adapter card's)",
    )
    .option("--ctx <n>", "context size in positions", num("--ctx", 256, 1 << 20, true), 4096)
    .option(
      "--gpu-layers <n>",
      "layers to offload to the GPU (-1 = all)",
      num("--gpu-layers", -1, 10_000, true),
    );
}

export function addSamplingOptions(cmd: Command): Command {
  return cmd
    .option("--max-tokens <n>", "most tokens to generate", num("--max-tokens", 1, 1 << 20, true), 256)
    .option("--temperature <t>", "0 = greedy", num("--temperature", 0, 10), 0)
    .option("--top-k <k>", "top-k (0 = off)", num("--top-k", 0, 1 << 20, true))
    .option("--top-p <p>", "nucleus sampling (1 = off)", num("--top-p", 0, 1))
    .option("--min-p <p>", "min-p (0 = off)", num("--min-p", 0, 1))
    .option("--repeat-penalty <r>", "repetition penalty (1 = off)", num("--repeat-penalty", 0, 10))
    .option("--seed <n>", "sampling seed", num("--seed", 0, 2 ** 32 - 1, true))
    .option("--stop <text>", "a stop string (repeatable)", repeatable("--stop"));
}

export interface VlmArgs extends Omit<EncoderArgs, "encoder"> {
  encoder?: string;
  adapter: string;
  llm?: string;
  ctx: number;
  gpuLayers?: number;
}

export interface SamplingArgs {
  maxTokens: number;
  temperature: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repeatPenalty?: number;
  seed?: number;
  stop?: string[];
}

export function samplingOptions(args: SamplingArgs): {
  sampling: SamplerOptions;
  maxTokens: number;
  stop: string[];
} {
  return {
    sampling: {
      temperature: args.temperature,
      topK: args.topK,
      topP: args.topP,
      minP: args.minP,
      repeatPenalty: args.repeatPenalty,
      seed: args.seed,
    },
    maxTokens: args.maxTokens,
    stop: args.stop ?? [],
  };
}

/** Loads the VLM of `--adapter`, on `--encoder` / `--llm` when given, else on the parts its card records. */
export async function loadVlm(args: VlmArgs): Promise<Vlm> {
  const { adapter, encoder, dtype, llm } = await adapterParts(args);
  return Vlm.load({
    encoder,
    adapter,
    llm,
    encoderOptions: { dtype, threads: args.threads },
    llmOptions: { contextSize: args.ctx, gpuLayers: args.gpuLayers, threads: args.threads },
  });
}
