/**
 * Structural check of `tokenizer.json` before the tokenizers library builds a tokenizer from it: the
 * library trusts its input (a vocabulary score that is a string made it concatenate strings until the
 * heap ran out), so the fields it computes with are checked here — the model's type, its vocabulary
 * (Unigram: `[piece, finite score]` pairs; BPE / WordPiece / WordLevel: piece → id), BPE merges,
 * `unk_id` and the added tokens — with pieces of bounded length.
 */
import { z } from "zod";
import { ModelFormatError } from "../errors.js";

/** Longest vocabulary piece or added token accepted; real pieces are tens of characters. */
export const MAX_PIECE_CHARS = 1024;

const piece = z.string().max(MAX_PIECE_CHARS);
const id = z
  .number()
  .int()
  .nonnegative()
  .max(2 ** 31 - 1);

const unigram = z.object({
  type: z.literal("Unigram"),
  vocab: z.array(z.tuple([piece, z.number().finite()])).min(1),
  unk_id: id.nullable().optional(),
});
const bpe = z.object({
  type: z.literal("BPE"),
  vocab: z.record(piece, id),
  merges: z.array(z.union([piece, z.tuple([piece, piece])])).optional(),
  unk_token: piece.nullable().optional(),
});
const byId = z.object({
  type: z.enum(["WordPiece", "WordLevel"]),
  vocab: z.record(piece, id),
  unk_token: piece.nullable().optional(),
});
const component = z.record(z.string(), z.unknown()).nullable().optional();

const schema = z.object({
  model: z.discriminatedUnion("type", [unigram, bpe, byId]),
  added_tokens: z.array(z.object({ id, content: piece }).loose()).optional(),
  normalizer: component,
  pre_tokenizer: component,
  post_processor: component,
  decoder: component,
});

/** Throws ModelFormatError naming the first field of `json` (read from `file`) that cannot be used. */
export function checkTokenizerJson(json: unknown, file: string): void {
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue.path.length > 0 ? issue.path.join(".") : "(root)";
    throw new ModelFormatError(`${file} is not a usable tokenizer: field ${where}: ${issue.message}`);
  }
  const model = parsed.data.model;
  if (model.type === "Unigram" && model.unk_id != null && model.unk_id >= model.vocab.length) {
    throw new ModelFormatError(
      `${file}: model.unk_id ${model.unk_id} is outside the ${model.vocab.length}-piece vocabulary`,
    );
  }
}
