/**
 * SigLIP text tokenization: canonicalize (text-rules.ts), tokenize with the model's `tokenizer.json`
 * (@huggingface/tokenizers), add BOS/EOS as `tokenizer_config.json` says, truncate and pad to exactly
 * `length` tokens. Padding to the full length matters: the towers pool the last position and were
 * trained without an attention mask.
 */
import fs from "node:fs";
import path from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { ModelFormatError } from "../errors.js";
import type { EncoderFamily } from "./model-config.js";
import { canonicalizeText } from "./text-rules.js";

interface TokenizerConfigJson {
  add_bos_token?: boolean;
  add_eos_token?: boolean;
  padding_side?: "left" | "right";
  bos_token?: string | { content: string };
  eos_token?: string | { content: string };
  pad_token?: string | { content: string };
  [key: string]: unknown;
}

function tokenName(t: string | { content: string } | undefined): string | undefined {
  return typeof t === "string" ? t : t?.content;
}

export class SiglipTextTokenizer {
  private constructor(
    private readonly tokenizer: Tokenizer,
    readonly family: EncoderFamily,
    /** Every sequence comes out exactly this long. */
    readonly length: number,
    readonly padId: number,
    readonly bosId: number | undefined,
    readonly eosId: number | undefined,
    readonly padLeft: boolean,
  ) {}

  static load(dir: string, family: EncoderFamily, length: number): SiglipTextTokenizer {
    const file = path.join(dir, "tokenizer.json");
    if (!fs.existsSync(file))
      throw new ModelFormatError(`${file} not found: the text tower needs tokenizer.json`);
    const configFile = path.join(dir, "tokenizer_config.json");
    const config: TokenizerConfigJson = fs.existsSync(configFile)
      ? JSON.parse(fs.readFileSync(configFile, "utf8"))
      : {};
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(JSON.parse(fs.readFileSync(file, "utf8")), config);
    } catch (cause) {
      throw new ModelFormatError(`${file} could not be loaded as a tokenizer: ${(cause as Error).message}`, {
        cause,
      });
    }
    const idOf = (name: string | undefined) => (name === undefined ? undefined : tokenizer.token_to_id(name));
    // SigLIP 1 (T5 SentencePiece) pads with and ends on </s>; SigLIP 2 (Gemma) pads with <pad>.
    const eosId = idOf(tokenName(config.eos_token) ?? (family === "siglip" ? "</s>" : "<eos>"));
    const padId = idOf(tokenName(config.pad_token) ?? (family === "siglip" ? "</s>" : "<pad>")) ?? eosId;
    const bosId = idOf(tokenName(config.bos_token) ?? "<bos>");
    if (padId === undefined) throw new ModelFormatError(`${dir}: the tokenizer has no pad token`);
    const addEos = config.add_eos_token ?? family === "siglip";
    const addBos = config.add_bos_token ?? false;
    return new SiglipTextTokenizer(
      tokenizer,
      family,
      length,
      padId,
      addBos ? bosId : undefined,
      addEos ? eosId : undefined,
      config.padding_side === "left",
    );
  }

  /** `texts` → ids `[B, length]` (row-major) */
  encode(texts: readonly string[]): Int32Array {
    const out = new Int32Array(texts.length * this.length);
    for (const [b, text] of texts.entries()) out.set(this.encodeOne(text), b * this.length);
    return out;
  }

  encodeOne(text: string): Int32Array {
    const canonical = canonicalizeText(text, this.family);
    const body = this.tokenizer.encode(canonical, { add_special_tokens: false }).ids;
    const room = this.length - (this.bosId === undefined ? 0 : 1) - (this.eosId === undefined ? 0 : 1);
    const ids = [
      ...(this.bosId === undefined ? [] : [this.bosId]),
      ...body.slice(0, room),
      ...(this.eosId === undefined ? [] : [this.eosId]),
    ];
    const out = new Int32Array(this.length).fill(this.padId);
    out.set(ids, this.padLeft ? this.length - ids.length : 0);
    return out;
  }
}
