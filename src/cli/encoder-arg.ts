/** Shared handling of `--encoder <id|dir>` and `--dtype` for the commands that run an encoder. */
import type { Command } from "commander";
import { type OnnxDtype, parseOnnxDtype } from "../hub/dtypes.js";
import { resolveModelDir } from "../hub/index.js";
import { progressBar } from "./output.js";
import { int } from "./parse.js";

export const DEFAULT_ENCODER = "siglip2-base-patch16-224";

export interface EncoderOptionsSpec {
  /** Default `--encoder` to DEFAULT_ENCODER. Default true. */
  defaultEncoder?: boolean;
  /** Appended to the flag's help. */
  encoderHelp?: string;
}

export function addEncoderOptions(cmd: Command, spec: EncoderOptionsSpec = {}): Command {
  const help = `encoder: a known model id, an org/repo on the hub, or a local directory${spec.encoderHelp ? ` ${spec.encoderHelp}` : ""}`;
  return cmd
    .option("--encoder <id|dir>", help, spec.defaultEncoder === false ? undefined : DEFAULT_ENCODER)
    .option("--dtype <dtype>", "ONNX weight variant (fp32, fp16, q8, int8, uint8, q4, q4f16, bnb4)", "fp32")
    .option("--threads <n>", "onnxruntime threads (default: physical cores)", int("--threads", 1, 1024));
}

export interface EncoderArgs {
  encoder: string;
  dtype: string;
  threads?: number;
  json?: boolean;
  /** `encoder` is a name from a file (an adapter card): resolve it on the hub only, never as a directory. */
  hubOnly?: boolean;
}

/** Resolves `--encoder` to a local directory, downloading a known model with a progress bar if needed. */
export async function encoderDir(args: EncoderArgs): Promise<{ dir: string; dtype: OnnxDtype }> {
  const dtype = parseOnnxDtype(args.dtype);
  const bar = progressBar(`downloading ${args.encoder}`, { json: args.json, unit: "bytes" });
  try {
    const dir = await resolveModelDir(args.encoder, {
      dtype,
      localDir: !args.hubOnly,
      onProgress: (done, total) => bar.update(done, total),
    });
    return { dir, dtype };
  } finally {
    bar.stop();
  }
}
