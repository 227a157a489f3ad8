/**
 * SigLIP text tokenization: canonicalize (text-rules.ts), tokenize with the model's `tokenizer.json`
 * (@huggingface/tokenizers) and its post-processor's special tokens, truncate and pad to exactly
 * `length` tokens. Padding to the full length matters: the towers pool the last position and were
 * trained without an attention mask.
 */
import fs from "node:fs";
import path from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { z } from "zod";
import { ModelFormatError } from "../errors.js";
import type { EncoderFamily } from "./model-config.js";
import { canonicalizeText } from "./text-rules.js";
import { checkTokenizerJson, MAX_PIECE_CHARS } from "./tokenizer-json.js";

const piece = z.string().max(MAX_PIECE_CHARS);

const specialToken = z
  .union([piece, z.object({ content: piece }).loose()])
  .nullable()
  .optional();

/** The fields of `tokenizer_config.json` read here; the others pass to the tokenizers library. */
const tokenizerConfigSchema = z
  .object({
    padding_side: z.enum(["left", "right"]).optional(),
    eos_token: specialToken,
    pad_token: specialToken,
  })
  .loose();

type TokenizerConfigJson = z.infer<typeof tokenizerConfigSchema>;

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (cause) {
    throw new ModelFormatError(`${file} is not readable JSON: ${(cause as Error).message}`, { cause });
  }
}

/** `tokenizer_config.json` when present, else {}; ModelFormatError when it is not JSON or has fields of the wrong type. */
function readTokenizerConfig(file: string): TokenizerConfigJson {
  if (!fs.existsSync(file)) return {};
  const parsed = tokenizerConfigSchema.safeParse(readJson(file));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ModelFormatError(`${file}: field ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  return parsed.data;
}

function tokenName(t: string | { content: string } | null | undefined): string | undefined {
  return typeof t === "string" ? t : (t?.content ?? undefined);
}

/** Characters read per token of `length`: far above any real token's length, so nothing kept changes. */
const MAX_CHARS_PER_TOKEN = 64;

export class SiglipTextTokenizer {
  private constructor(
    private readonly tokenizer: Tokenizer,
    readonly family: EncoderFamily,
    /** Every sequence comes out exactly this long. */
    readonly length: number,
    readonly padId: number,
    /** Appended when the tokenizer's own post-processor adds nothing (SigLIP 1 always ends on EOS). */
    readonly eosId: number | undefined,
    readonly padLeft: boolean,
  ) {}

  static load(dir: string, family: EncoderFamily, length: number): SiglipTextTokenizer {
    const file = path.join(dir, "tokenizer.json");
    if (!fs.existsSync(file))
      throw new ModelFormatError(`${file} not found: the text tower needs tokenizer.json`);
    const config = readTokenizerConfig(path.join(dir, "tokenizer_config.json"));
    const json = readJson(file);
    checkTokenizerJson(json, file);
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(json as object, config);
    } catch (cause) {
      throw new ModelFormatError(`${file} could not be loaded as a tokenizer: ${(cause as Error).message}`, {
        cause,
      });
    }
    const idOf = (name: string | undefined) => (name === undefined ? undefined : tokenizer.token_to_id(name));
    // SigLIP 1 (T5 SentencePiece) pads with and ends on </s>; SigLIP 2 (Gemma) pads with <pad>.
    const eosId = idOf(tokenName(config.eos_token) ?? (family === "siglip" ? "</s>" : "<eos>"));
    const padId = idOf(tokenName(config.pad_token) ?? (family === "siglip" ? "</s>" : "<pad>")) ?? eosId;
    if (padId === undefined) throw new ModelFormatError(`${dir}: the tokenizer has no pad token`);
    return new SiglipTextTokenizer(
      tokenizer,
      family,
      length,
      padId,
      family === "siglip" ? eosId : undefined,
      config.padding_side === "left",
    );
  }

  /** `texts` → ids `[B, length]` (row-major) */
  encode(texts: readonly string[]): Int32Array {
    const out = new Int32Array(texts.length * this.length);
    for (const [b, text] of texts.entries()) out.set(this.encodeOne(text), b * this.length);
    return out;
  }

  /**
   * One text → exactly `length` ids. Special tokens come from tokenizer.json's post-processor, as the
   * hub's fast tokenizers apply them; truncation cuts the body and keeps them (EOS stays last).
   */
  encodeOne(text: string): Int32Array {
    // Only the first `length` tokens survive; cutting the characters first bounds the work for any input.
    const canonical = canonicalizeText(text.slice(0, this.length * MAX_CHARS_PER_TOKEN), this.family);
    const body = this.tokenizer.encode(canonical, { add_special_tokens: false }).ids;
    const full = this.tokenizer.encode(canonical, { add_special_tokens: true }).ids;
    const pre = body.length === 0 ? 0 : Math.max(0, full.indexOf(body[0]));
    let post = full.slice(pre + body.length);
    if (post.length === 0 && this.eosId !== undefined) post = [this.eosId];
    const room = Math.max(0, this.length - pre - post.length);
    const ids = [...full.slice(0, pre), ...body.slice(0, room), ...post].slice(0, this.length);
    const out = new Int32Array(this.length).fill(this.padId);
    out.set(ids, this.padLeft ? this.length - ids.length : 0);
    return out;
  }
}
