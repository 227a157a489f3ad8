/**
 * Small tokenizers in the Hugging Face `tokenizer.json` format, loadable by @huggingface/tokenizers:
 * - "siglip":  T5-style SentencePiece Unigram (`<pad>`=0, `</s>`=1, `<unk>`=2; Metaspace "▁";
 *              `</s>` appended; pad token `</s>` as HF's SiglipTokenizer defaults).
 * - "siglip2": Gemma-style BPE (`<pad>`=0, `<eos>`=1, `<bos>`=2, `<unk>`=3; spaces → "▁" by the
 *              normalizer; byte fallback `<0x00>`…`<0xFF>`; `<eos>` appended, no `<bos>`).
 * Neither lowercases: as with the public files, the processor lowercases before tokenizing.
 */

/** Words every tiny vocabulary knows, so zero-shot labels tokenize into whole words. */
export const TINY_WORDS: readonly string[] = [
  // prompt words
  "a",
  "an",
  "the",
  "photo",
  "picture",
  "image",
  "drawing",
  "of",
  "with",
  "and",
  "on",
  "in",
  "is",
  "this",
  "that",
  "at",
  "to",
  "for",
  "from",
  "by",
  "it",
  "two",
  "three",
  "one",
  "small",
  "large",
  "big",
  "little",
  // colours
  "red",
  "green",
  "blue",
  "yellow",
  "orange",
  "purple",
  "pink",
  "brown",
  "black",
  "white",
  "gray",
  "grey",
  "dark",
  "light",
  "bright",
  // shapes
  "circle",
  "square",
  "triangle",
  "rectangle",
  "star",
  "line",
  "dot",
  "shape",
  "round",
  "stripe",
  "stripes",
  // things
  "cat",
  "dog",
  "bird",
  "car",
  "tree",
  "house",
  "person",
  "man",
  "woman",
  "child",
  "flower",
  "apple",
  "ball",
  "sky",
  "sea",
  "street",
  "night",
  "day",
  "diagram",
  "empty",
  "text",
  "background",
  "table",
  "book",
];

const LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789";
const PUNCT = ".,!?'-:;\"()/";

export interface TokenizerFiles {
  "tokenizer.json": unknown;
  "tokenizer_config.json": unknown;
  "special_tokens_map.json": unknown;
  /** Number of ids the tokenizer can produce (the text embedding table needs at least this many rows). */
  vocabSize: number;
}

function addedToken(id: number, content: string) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

function appendTemplate(eos: string, eosId: number) {
  return {
    type: "TemplateProcessing",
    single: [{ Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: eos, type_id: 0 } }],
    pair: [
      { Sequence: { id: "A", type_id: 0 } },
      { SpecialToken: { id: eos, type_id: 0 } },
      { Sequence: { id: "B", type_id: 0 } },
      { SpecialToken: { id: eos, type_id: 0 } },
    ],
    special_tokens: { [eos]: { id: eos, ids: [eosId], tokens: [eos] } },
  };
}

function tokenizerConfig(cls: string, specials: string[], map: Record<string, string>) {
  return {
    tokenizer_class: cls,
    model_max_length: 64,
    clean_up_tokenization_spaces: false,
    ...map,
    added_tokens_decoder: Object.fromEntries(
      specials.map((s, i) => [String(i), { ...addedToken(i, s), id: undefined }]),
    ),
  };
}

/** SigLIP 1 style: SentencePiece Unigram. Whole words score higher than their letters, so they win. */
export function siglipTokenizer(): TokenizerFiles {
  const specials = ["<pad>", "</s>", "<unk>"];
  const pieces: [string, number][] = specials.map((s) => [s, 0]);
  pieces.push(["▁", -4]);
  for (const c of LETTERS + PUNCT) pieces.push([c, -8], [`▁${c}`, -9]);
  const seen = new Set(pieces.map((p) => p[0]));
  TINY_WORDS.forEach((w, i) => {
    if (!seen.has(`▁${w}`)) pieces.push([`▁${w}`, -2 - i / 1000]);
    seen.add(`▁${w}`);
  });
  const map = { eos_token: "</s>", pad_token: "</s>", unk_token: "<unk>" };
  return {
    "tokenizer.json": {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: specials.map((s, i) => addedToken(i, s)),
      normalizer: null,
      pre_tokenizer: { type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: true },
      post_processor: appendTemplate("</s>", 1),
      decoder: { type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: true },
      model: { type: "Unigram", unk_id: 2, vocab: pieces, byte_fallback: false },
    },
    "tokenizer_config.json": { ...tokenizerConfig("SiglipTokenizer", specials, map), do_lower_case: true },
    "special_tokens_map.json": map,
    vocabSize: pieces.length,
  };
}

/**
 * SigLIP 2 style: Gemma BPE over the whole normalized string. Each word is built by left-to-right
 * merges; "▁word" merges rank before bare-word merges so a space-prefixed word always forms whole.
 */
export function siglip2Tokenizer(): TokenizerFiles {
  const specials = ["<pad>", "<eos>", "<bos>", "<unk>"];
  const vocab: Record<string, number> = {};
  const add = (t: string) => {
    if (!(t in vocab)) vocab[t] = Object.keys(vocab).length;
  };
  for (const s of specials) add(s);
  for (let b = 0; b < 256; b++) add(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
  add("▁");
  for (const c of LETTERS + PUNCT) add(c);
  const merges: [string, string][] = [];
  const seenMerge = new Set<string>();
  const chain = (word: string) => {
    const chars = [...word];
    let left = chars[0];
    for (const c of chars.slice(1)) {
      const key = `${left} ${c}`;
      if (!seenMerge.has(key)) {
        seenMerge.add(key);
        merges.push([left, c]);
      }
      left += c;
      add(left);
    }
  };
  for (const w of TINY_WORDS) chain(`▁${w}`);
  for (const w of TINY_WORDS) chain(w);
  const map = { bos_token: "<bos>", eos_token: "<eos>", pad_token: "<pad>", unk_token: "<unk>" };
  return {
    "tokenizer.json": {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: specials.map((s, i) => addedToken(i, s)),
      normalizer: { type: "Replace", pattern: { String: " " }, content: "▁" },
      pre_tokenizer: null,
      post_processor: appendTemplate("<eos>", 1),
      decoder: {
        type: "Sequence",
        decoders: [
          { type: "Replace", pattern: { String: "▁" }, content: " " },
          { type: "ByteFallback" },
          { type: "Fuse" },
        ],
      },
      model: {
        type: "BPE",
        dropout: null,
        unk_token: "<unk>",
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: true,
        byte_fallback: true,
        ignore_merges: false,
        vocab,
        merges,
      },
    },
    "tokenizer_config.json": {
      ...tokenizerConfig("GemmaTokenizer", specials, map),
      add_bos_token: false,
      add_eos_token: true,
    },
    "special_tokens_map.json": map,
    vocabSize: Object.keys(vocab).length,
  };
}
