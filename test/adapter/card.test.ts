import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  type AdapterCardInput,
  LinearAdapter,
  loadAdapter,
  readAdapterCard,
  saveAdapter,
  serializeSafetensors,
} from "../../src/adapter/index.js";
import { IncompatibleModelError, InvalidArgumentError, ModelFormatError } from "../../src/errors.js";
import { vocabFingerprint } from "../../src/llm/identity.js";
import { tensor } from "../../src/tensor.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-card-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const VOCAB = ["<pad>", "<eos>", "<bos>", "hello", "▁world", "\n"];

function cardInput(overrides: Partial<AdapterCardInput> = {}): AdapterCardInput {
  return {
    encoder: {
      id: "siglip2-base-patch16-224",
      family: "siglip2",
      hidden: 12,
      preprocessing: { kind: "fixed", size: 224, patch_size: 16 },
    },
    llm: {
      architecture: "gemma3",
      n_embd: 8,
      n_vocab: VOCAB.length,
      vocab_fingerprint: vocabFingerprint(VOCAB),
      name: "tiny",
    },
    prompt: { style: "paligemma", image_tokens: 196 },
    attention: "prefix-lm",
    training: { dataset: "captions.jsonl", steps: 100, final_loss: 1.25, seed: 3 },
    ...overrides,
  };
}

let counter = 0;
async function saved(
  overrides: Partial<AdapterCardInput> = {},
): Promise<{ dir: string; adapter: LinearAdapter }> {
  const dir = path.join(tmp, `a${counter++}`);
  const adapter = LinearAdapter.init({ inputSize: 12, outputSize: 8, seed: 5 });
  await saveAdapter(dir, adapter, cardInput(overrides));
  return { dir, adapter };
}

// biome-ignore lint/suspicious/noExplicitAny: the tests corrupt the card JSON freely
function editCard(dir: string, edit: (card: Record<string, any>) => void): void {
  const file = path.join(dir, "adapter.json");
  const card = JSON.parse(fs.readFileSync(file, "utf8"));
  edit(card);
  fs.writeFileSync(file, JSON.stringify(card));
}

describe("vocabFingerprint", () => {
  it("is sha256 over length-prefixed UTF-8 tokens", () => {
    const fp = vocabFingerprint(["a", "bc"]);
    expect(fp).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(fp).toBe(vocabFingerprint(["a", "bc"]));
    expect(fp).not.toBe(vocabFingerprint(["ab", "c"]));
    expect(fp).not.toBe(vocabFingerprint(["bc", "a"]));
    expect(vocabFingerprint([])).toBe(
      "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    expect(vocabFingerprint(["a"])).toBe(
      `sha256:${crypto
        .createHash("sha256")
        .update(Buffer.from([1, 0, 0, 0, 0x61]))
        .digest("hex")}`,
    );
  });
});

describe("saveAdapter / loadAdapter", () => {
  it("round-trips weights and card, filling format, scale and version", async () => {
    const { dir, adapter } = await saved();
    expect(fs.readdirSync(dir).sort()).toEqual(["adapter.json", "adapter.safetensors"]);
    const loaded = await loadAdapter(dir, {
      expectEncoder: { id: "siglip2-base-patch16-224", hidden: 12 },
      expectLlm: {
        architecture: "gemma3",
        nEmbd: 8,
        nVocab: VOCAB.length,
        vocabFingerprint: vocabFingerprint(VOCAB),
      },
    });
    expect(loaded.projection.toTensors()).toEqual(adapter.toTensors());
    expect(loaded.card.adapter).toEqual({ kind: "linear", factor: 1 });
    expect(loaded.embeddingScale).toBe(1);
    expect(loaded.card.format_version).toBe(1);
    expect(loaded.card.embedding_scale).toEqual({ convention: "scaled-token-space", runtime_factor: 1 });
    expect(loaded.card.created_with).toMatch(/^vlmkit \d+\.\d+\.\d+/);
    expect(loaded.card.training?.final_loss).toBe(1.25);
    const json = JSON.parse(fs.readFileSync(path.join(dir, "adapter.json"), "utf8"));
    expect(Object.keys(json)).toEqual([
      "format_version",
      "encoder",
      "llm",
      "adapter",
      "prompt",
      "attention",
      "embedding_scale",
      "training",
      "created_with",
    ]);
  });

  it("records 1/√n_embd for gemma2, whose llama.cpp graph scales raw embeddings", async () => {
    const { dir } = await saved({
      llm: {
        architecture: "gemma2",
        n_embd: 8,
        n_vocab: 6,
        vocab_fingerprint: vocabFingerprint(VOCAB),
        name: "g2",
      },
    });
    const loaded = await loadAdapter(dir);
    expect(loaded.embeddingScale).toBeCloseTo(1 / Math.sqrt(8), 12);
    expect(loaded.card.embedding_scale.runtime_factor).toBeCloseTo(1 / Math.sqrt(8), 12);
  });

  it("names both sides when the encoder does not match", async () => {
    const { dir } = await saved();
    const attempt = loadAdapter(dir, { expectEncoder: { id: "siglip-base-patch16-224", hidden: 12 } });
    await expect(attempt).rejects.toThrow(IncompatibleModelError);
    await expect(attempt).rejects.toThrow(
      `adapter ${dir} was trained for encoder "siglip2-base-patch16-224" (Dv 12) but the loaded encoder is "siglip-base-patch16-224" (Dv 12)`,
    );
    await expect(
      loadAdapter(dir, { expectEncoder: { id: "siglip2-base-patch16-224", hidden: 768 } }),
    ).rejects.toThrow(/\(Dv 12\) but the loaded encoder is "siglip2-base-patch16-224" \(Dv 768\)/);
  });

  it("names both sides when the LLM does not match", async () => {
    const { dir } = await saved();
    await expect(loadAdapter(dir, { expectLlm: { nEmbd: 640, name: "gemma-3-270m" } })).rejects.toThrow(
      `adapter ${dir} was trained for LLM "tiny" with n_embd 8 but the loaded LLM "gemma-3-270m" has n_embd 640`,
    );
    const other = vocabFingerprint(["x"]);
    await expect(loadAdapter(dir, { expectLlm: { nEmbd: 8, vocabFingerprint: other } })).rejects.toThrow(
      `with vocabulary fingerprint ${vocabFingerprint(VOCAB)} but the loaded LLM has vocabulary fingerprint ${other}`,
    );
    await expect(loadAdapter(dir, { expectLlm: { nEmbd: 8, nVocab: 262144 } })).rejects.toThrow(
      /n_vocab 6 but the loaded LLM has n_vocab 262144/,
    );
    await expect(loadAdapter(dir, { expectLlm: { nEmbd: 8, architecture: "gemma2" } })).rejects.toThrow(
      /architecture "gemma3" but the loaded LLM has architecture "gemma2"/,
    );
  });

  it("rejects weights whose dims disagree with the card", async () => {
    const { dir } = await saved();
    fs.writeFileSync(
      path.join(dir, "adapter.safetensors"),
      serializeSafetensors({
        "linear.weight": tensor(new Float32Array(8 * 10), [8, 10]),
        "linear.bias": tensor(new Float32Array(8), [8]),
      }),
    );
    const attempt = loadAdapter(dir);
    await expect(attempt).rejects.toThrow(ModelFormatError);
    await expect(attempt).rejects.toThrow(
      /encoder\.hidden 12 → llm\.n_embd 8, but the linear adapter maps 10 → 8/,
    );
  });

  it("refuses to save a card whose dims disagree with the adapter, or an invalid card", async () => {
    const adapter = LinearAdapter.init({ inputSize: 4, outputSize: 8 });
    await expect(saveAdapter(path.join(tmp, "x"), adapter, cardInput())).rejects.toThrow(
      InvalidArgumentError,
    );
    await expect(
      saveAdapter(
        path.join(tmp, "y"),
        LinearAdapter.init({ inputSize: 12, outputSize: 8 }),
        cardInput({ attention: "causal", prompt: { style: "gemma-chat", image_tokens: 100 } }),
      ),
    ).rejects.toThrow(/prompt\.image_tokens: fixed 224px images with 16px patches give 196 tokens, got 100/);
    expect(fs.existsSync(path.join(tmp, "y"))).toBe(false);
  });
});

describe("adapter.json validation", () => {
  it("names the field that is wrong", async () => {
    const { dir } = await saved();
    editCard(dir, (c) => {
      c.encoder.hidden = "768";
    });
    await expect(readAdapterCard(dir)).rejects.toThrow(
      /adapter\.json is not a valid adapter card: encoder\.hidden: .*number/,
    );

    editCard(dir, (c) => {
      c.encoder.hidden = 12;
      c.prompt.style = "llava";
    });
    await expect(readAdapterCard(dir)).rejects.toThrow(/prompt\.style: .*"paligemma".*"gemma-chat"/);

    editCard(dir, (c) => {
      c.prompt.style = "paligemma";
      c.format_version = 2;
    });
    await expect(readAdapterCard(dir)).rejects.toThrow(/format_version/);

    editCard(dir, (c) => {
      c.format_version = 1;
      c.llm.vocab_fingerprint = "md5:abc";
    });
    await expect(readAdapterCard(dir)).rejects.toThrow(
      /llm\.vocab_fingerprint: expected sha256:<64 lowercase hex digits>/,
    );

    editCard(dir, (c) => {
      c.llm.vocab_fingerprint = vocabFingerprint(VOCAB);
      c.llm.extra = 1;
    });
    await expect(readAdapterCard(dir)).rejects.toThrow(/llm: .*extra/);

    editCard(dir, (c) => {
      delete c.llm.extra;
      c.embedding_scale.runtime_factor = 0.5;
    });
    await expect(readAdapterCard(dir)).rejects.toThrow(
      /embedding_scale\.runtime_factor is 0\.5 but architecture "gemma3" with n_embd 8 needs 1/,
    );

    editCard(dir, (c) => {
      c.embedding_scale.runtime_factor = 1;
      c.encoder.preprocessing = { kind: "naflex", patch_size: 16, max_num_patches: 256 };
    });
    await expect(readAdapterCard(dir)).rejects.toThrow(
      /prompt\.image_tokens: NaFlex .* expected "dynamic", got 196/,
    );

    editCard(dir, (c) => {
      c.prompt.image_tokens = "dynamic";
    });
    expect((await readAdapterCard(dir)).prompt.image_tokens).toBe("dynamic");

    editCard(dir, (c) => {
      c.llm.architecture = "llama";
    });
    await expect(readAdapterCard(dir)).rejects.toThrow(
      /architecture "llama" has no known embedding-scale convention/,
    );
  });

  it("rejects bad JSON and a missing card with the file name", async () => {
    const { dir } = await saved();
    fs.writeFileSync(path.join(dir, "adapter.json"), "{ not json");
    await expect(readAdapterCard(dir)).rejects.toThrow(new RegExp(`${dir}/adapter\\.json is not valid JSON`));
    await expect(readAdapterCard(path.join(tmp, "nope"))).rejects.toThrow(/adapter\.json cannot be read/);
  });

  it("rejects prefix-lm attention with the chat style", async () => {
    const { dir } = await saved();
    editCard(dir, (c) => {
      c.prompt.style = "gemma-chat";
    });
    await expect(readAdapterCard(dir)).rejects.toThrow(
      /attention: "prefix-lm" attention needs prompt style "paligemma"/,
    );
  });
});
