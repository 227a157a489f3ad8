// tokenizer.json and tokenizer_config.json are checked before the tokenizers library sees them; each
// case here once ended in a SyntaxError, a runaway allocation or a hang (found by `npm run fuzz`).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SiglipTextTokenizer } from "../../src/encoders/text-tokenizer.js";
import { checkTokenizerJson } from "../../src/encoders/tokenizer-json.js";

let dir: string;
const demo = (f: string) => JSON.parse(fs.readFileSync(path.join("models/demo/siglip", f), "utf8"));

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-tokenizer-json-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function folder(tokenizer: unknown, config: unknown | string = demo("tokenizer_config.json")): string {
  const d = fs.mkdtempSync(path.join(dir, "t-"));
  fs.writeFileSync(path.join(d, "tokenizer.json"), JSON.stringify(tokenizer));
  fs.writeFileSync(
    path.join(d, "tokenizer_config.json"),
    typeof config === "string" ? config : JSON.stringify(config),
  );
  return d;
}

describe("tokenizer.json check", () => {
  it("accepts the demo tokenizers (Unigram and BPE)", () => {
    checkTokenizerJson(demo("tokenizer.json"), "siglip");
    checkTokenizerJson(JSON.parse(fs.readFileSync("models/demo/siglip2/tokenizer.json", "utf8")), "siglip2");
    expect(
      SiglipTextTokenizer.load(folder(demo("tokenizer.json")), "siglip", 16).encodeOne("a red circle").length,
    ).toBe(16);
  });

  it("refuses a vocabulary score that is not a number (the library concatenated strings until out of memory)", () => {
    const t = demo("tokenizer.json");
    t.model.vocab[32][1] = "x".repeat(1000);
    expect(() => SiglipTextTokenizer.load(folder(t), "siglip", 16)).toThrow(
      /not a usable tokenizer: field model\.vocab\.32\.1/,
    );
  });

  it("refuses pieces longer than 1024 characters, a missing model and an unk_id outside the vocabulary", () => {
    const t = demo("tokenizer.json");
    t.model.vocab[36][0] = "x".repeat(200_000);
    expect(() => checkTokenizerJson(t, "f")).toThrow(/field model\.vocab\.36\.0/);
    expect(() => checkTokenizerJson({}, "f")).toThrow(/field model/);
    const u = demo("tokenizer.json");
    u.model.unk_id = u.model.vocab.length;
    expect(() => checkTokenizerJson(u, "f")).toThrow(/unk_id \d+ is outside/);
  });

  it("names a tokenizer_config.json that is not JSON or has fields of the wrong type", () => {
    const t = demo("tokenizer.json");
    expect(() => SiglipTextTokenizer.load(folder(t, '{"eos_token": '), "siglip", 16)).toThrow(
      /tokenizer_config\.json is not readable JSON/,
    );
    expect(() => SiglipTextTokenizer.load(folder(t, { pad_token: 5 }), "siglip", 16)).toThrow(
      /tokenizer_config\.json: field pad_token/,
    );
    try {
      SiglipTextTokenizer.load(folder(t, "[1"), "siglip", 16);
    } catch (error) {
      expect((error as { code: string }).code).toBe("MODEL_FORMAT");
    }
  });
});
