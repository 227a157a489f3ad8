// Text bounds in the chat schemas: stop strings (count and length) and the request's text as a whole,
// each refused with a 400 naming the field.
import { describe, expect, it } from "vitest";
import {
  MAX_STOP_LENGTH,
  MAX_STOP_SEQUENCES,
  MAX_TEXT_BYTES,
  OllamaChatRequest,
  OllamaGenerateRequest,
  OpenAiChatRequest,
  parseWith,
} from "../../src/server/schemas/index.js";

const user = (content: unknown) => ({ role: "user", content });
const openai = (extra: Record<string, unknown>) => ({ model: "m", messages: [user("hi")], ...extra });
const ollama = (options: Record<string, unknown>) => ({ model: "m", messages: [user("hi")], options });

describe("stop strings", () => {
  it("Ollama accepts up to 16 and refuses more, and any longer than 256 characters", () => {
    expect(MAX_STOP_SEQUENCES).toBe(16);
    const stops = (n: number) => Array.from({ length: n }, (_, i) => `s${i}`);
    expect(parseWith(OllamaChatRequest, ollama({ stop: stops(16) })).options?.stop).toHaveLength(16);
    expect(() => parseWith(OllamaChatRequest, ollama({ stop: stops(200_000) }))).toThrow(
      "options.stop: expected at most 16 stop sequences",
    );
    expect(() =>
      parseWith(OllamaGenerateRequest, { model: "m", prompt: "p", options: { stop: stops(17) } }),
    ).toThrow("options.stop: expected at most 16 stop sequences");
    const long = "x".repeat(MAX_STOP_LENGTH + 1);
    expect(() => parseWith(OllamaChatRequest, ollama({ stop: ["ok", long] }))).toThrow(
      "options.stop[1]: expected a stop sequence of at most 256 characters",
    );
    expect(parseWith(OllamaChatRequest, ollama({ stop: ["x".repeat(MAX_STOP_LENGTH)] }))).toBeTruthy();
  });

  it("OpenAI keeps its 4 and refuses long strings, alone or in a list", () => {
    const long = "y".repeat(MAX_STOP_LENGTH + 1);
    expect(() => parseWith(OpenAiChatRequest, openai({ stop: ["a", "b", "c", "d", "e"] }))).toThrow(
      "stop: expected at most 4 stop sequences",
    );
    expect(() => parseWith(OpenAiChatRequest, openai({ stop: long }))).toThrow(/^stop: /);
    expect(() => parseWith(OpenAiChatRequest, openai({ stop: ["a", long] }))).toThrow(
      "stop[1]: expected a stop sequence of at most 256 characters",
    );
  });
});

describe("text size", () => {
  const over = `${"é".repeat(MAX_TEXT_BYTES / 2)}a`; // 2 bytes a character in UTF-8: 1 byte over
  const message = `the request holds ${MAX_TEXT_BYTES + 1} bytes of text; at most ${MAX_TEXT_BYTES} (256 KiB) are accepted`;

  it("counts UTF-8 bytes of all messages together (OpenAI strings and text parts)", () => {
    const half = "a".repeat(MAX_TEXT_BYTES / 2);
    expect(parseWith(OpenAiChatRequest, { model: "m", messages: [user(half), user(half)] })).toBeTruthy();
    expect(() =>
      parseWith(OpenAiChatRequest, { model: "m", messages: [user(half), user(`${half}a`)] }),
    ).toThrow(`messages: ${message}`);
    const parts = [user([{ type: "text", text: half }]), user([{ type: "text", text: `${half}!` }])];
    expect(() => parseWith(OpenAiChatRequest, { model: "m", messages: parts })).toThrow(
      `messages: ${message}`,
    );
    expect(() => parseWith(OpenAiChatRequest, { model: "m", messages: [user(over)] })).toThrow(message);
  });

  it("bounds Ollama chat messages, and prompt plus system in /api/generate", () => {
    expect(() => parseWith(OllamaChatRequest, { model: "m", messages: [user(over)] })).toThrow(
      `messages: ${message}`,
    );
    const half = "a".repeat(MAX_TEXT_BYTES / 2);
    expect(() => parseWith(OllamaGenerateRequest, { model: "m", prompt: half, system: `${half}a` })).toThrow(
      `prompt: ${message}`,
    );
    expect(parseWith(OllamaGenerateRequest, { model: "m", prompt: half, system: half })).toBeTruthy();
  });
});
