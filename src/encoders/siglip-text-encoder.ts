/** The SigLIP / SigLIP 2 text tower over `onnx/text_model*.onnx`: texts → pooled embeddings [B, Dt]. */
import { type Tensor, tensor } from "../tensor.js";
import {
  type EncoderSession,
  floatData,
  intTensor,
  onnxFile,
  openEncoderSession,
  requireNames,
  type SessionOptions,
} from "./encoder-session.js";
import { type EncoderConfig, readEncoderConfig } from "./model-config.js";
import { SiglipTextTokenizer } from "./text-tokenizer.js";

export class SiglipTextEncoder {
  private constructor(
    readonly dir: string,
    readonly config: EncoderConfig,
    readonly tokenizer: SiglipTextTokenizer,
    private readonly s: EncoderSession,
  ) {}

  static async load(dir: string, options: SessionOptions = {}): Promise<SiglipTextEncoder> {
    const config = readEncoderConfig(dir);
    const tokenizer = SiglipTextTokenizer.load(dir, config.family, config.textLength);
    const s = await openEncoderSession(onnxFile(dir, "text_model", options.dtype), options);
    try {
      requireNames(s, "inputs", ["input_ids"]);
      requireNames(s, "outputs", ["pooler_output"]);
    } catch (error) {
      await s.session.release();
      throw error;
    }
    return new SiglipTextEncoder(dir, config, tokenizer, s);
  }

  /** texts → pooled text embeddings (not normalized) [B, Dt] */
  async encode(texts: readonly string[], options: { batchSize?: number } = {}): Promise<Tensor> {
    const batchSize = Math.max(1, options.batchSize ?? 32);
    const L = this.tokenizer.length;
    const chunks: Float32Array[] = [];
    let width = 0;
    for (let start = 0; start < texts.length; start += batchSize) {
      const part = texts.slice(start, start + batchSize);
      const ids = this.tokenizer.encode(part); // [b, L]
      const feeds: Record<string, import("onnxruntime-node").Tensor> = {
        input_ids: intTensor(this.s, "input_ids", ids, [part.length, L]),
      };
      // Some exports also take an attention mask; SigLIP was trained without one, so it is all ones.
      if (this.s.inputs.has("attention_mask")) {
        feeds.attention_mask = intTensor(this.s, "attention_mask", new Int32Array(ids.length).fill(1), [
          part.length,
          L,
        ]);
      }
      const result = await this.s.session.run(feeds);
      const pooled = result.pooler_output; // [b, Dt]
      width = Number(pooled.dims[1]);
      chunks.push(floatData(pooled, "pooler_output").slice());
    }
    const data = new Float32Array(texts.length * width);
    let offset = 0;
    for (const c of chunks) {
      data.set(c, offset);
      offset += c.length;
    }
    return tensor(data, [texts.length, width]);
  }

  async dispose(): Promise<void> {
    await this.s.session.release();
  }
}
