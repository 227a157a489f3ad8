// An adapter card's names are free text (llm.name is copied from GGUF general.name): they may name a
// registry model or a hub repo, never a file path or a URL. `vlmkit eval` asks for --llm / --encoder instead.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AdapterCard, buildAdapterCard, CARD_FILE } from "../../src/adapter/index.js";
import { encoderRefFromCard, llmEntryFromCard } from "../../src/cli/card-refs.js";
import { InvalidArgumentError } from "../../src/errors.js";
import { spawnCli } from "../helpers/spawn-cli.js";

let dir: string;
let gguf: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-card-refs-"));
  gguf = path.join(dir, "model.gguf");
  fs.writeFileSync(gguf, "GGUF");
  fs.mkdirSync(path.join(dir, "enc"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function card(llmName: string, encoderId = "siglip2-base-patch16-224"): AdapterCard {
  return buildAdapterCard({
    encoder: {
      id: encoderId,
      family: "siglip2",
      hidden: 32,
      preprocessing: { kind: "fixed", size: 32, patch_size: 16 },
    },
    llm: {
      architecture: "gemma3",
      n_embd: 64,
      n_vocab: 300,
      vocab_fingerprint: `sha256:${"0".repeat(64)}`,
      name: llmName,
    },
    prompt: { style: "paligemma", image_tokens: 4 },
    attention: "prefix-lm",
  });
}

function refused(fn: () => unknown): InvalidArgumentError {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(InvalidArgumentError);
  return error as InvalidArgumentError;
}

describe("card names never become paths or URLs", () => {
  it("resolves an LLM name only through the model registry", () => {
    expect(llmEntryFromCard(card("gemma-3-270m-it"), "ad")).toMatchObject({
      id: "gemma-3-270m-it",
      kind: "llm",
    });
    for (const name of [
      gguf,
      "../model.gguf",
      "model.gguf",
      "https://example.com/model.gguf",
      "http://127.0.0.1:9/x.gguf",
      "hf:org/repo/model.gguf",
      "Gemma 3 270m It",
      "",
      "siglip2-base-patch16-224", // a registry id, but not an LLM
    ]) {
      const error = refused(() => llmEntryFromCard(card(name), "ad"));
      expect(error.message, name).toBe(
        `adapter ad names its LLM ${JSON.stringify(name)}, which is not a known LLM id (see \`vlmkit models\`); a card's name is never read as a path or URL: pass --llm <gguf|id|hf:uri>`,
      );
    }
  });

  it("resolves an encoder id only as a registry id or an org/repo on the hub", () => {
    expect(encoderRefFromCard(card("x"), "ad")).toBe("siglip2-base-patch16-224");
    expect(encoderRefFromCard(card("x", "acme/my-encoder"), "ad")).toBe("acme/my-encoder");
    for (const id of [
      path.join(dir, "enc"),
      "./enc",
      "../enc",
      "enc",
      "https://example.com/enc",
      "hf:acme/enc",
      "acme/../enc",
      "a/b/c",
    ]) {
      const error = refused(() => encoderRefFromCard(card("x", id), "ad"));
      expect(error.message, id).toMatch(
        /^adapter ad names its encoder ".*", which is neither a known encoder id nor an org\/repo on the hub; .* pass --encoder <id\|dir>$/,
      );
    }
  });

  it("vlmkit eval refuses a card whose LLM name is an existing file or a URL, and says to pass --llm", async () => {
    for (const name of [gguf, "http://127.0.0.1:9/x.gguf"]) {
      const adapter = fs.mkdtempSync(path.join(dir, "adapter-"));
      fs.writeFileSync(path.join(adapter, CARD_FILE), JSON.stringify(card(name)));
      const run = await spawnCli(
        [
          "eval",
          "--data",
          path.join(dir, "none.jsonl"),
          "--adapter",
          adapter,
          "--encoder",
          path.join(dir, "enc"),
        ],
        { HF_HUB_OFFLINE: "1" },
      ).exited;
      expect(run.code).not.toBe(0);
      expect(run.stderr).toContain("pass --llm <gguf|id|hf:uri>");
    }
  });
});
