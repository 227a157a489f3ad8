/** The tiny demo set served as VLMs: "chat" (Gemma chat prompt, NaFlex) and "pali" (PaliGemma prompt) on one LLM. */
import fs from "node:fs";
import type { LlmOptions } from "../../src/llm/llm.js";
import { loadVlms } from "../../src/server/load-vlms.js";
import { ServedModels } from "../../src/server/models.js";
import { type TinyDemo, writeTinyDemo } from "../../src/tiny/demo.js";
import { tempDir } from "./helpers.js";

export interface DemoServer {
  demo: TinyDemo;
  models: ServedModels;
  cleanup(): Promise<void>;
}

/** Writes the demo set and loads both VLMs on one shared LLM; `encoder` also serves siglip2 as "enc". */
export async function demoModels(
  llm: LlmOptions = {},
  options: { encoder?: boolean } = {},
): Promise<DemoServer> {
  const dir = tempDir("vlmkit-chat-");
  process.env.VLMKIT_CACHE = `${dir}/cache`;
  const demo = await writeTinyDemo(dir, { seed: 3 });
  const models = new ServedModels();
  await models.loading(async () => {
    if (options.encoder) await models.addEncoders({ enc: demo.parts.siglip2 }, { siglip: { threads: 1 } });
    await loadVlms(
      models,
      {
        chat: {
          encoder: demo.parts["siglip2-naflex"],
          adapter: demo.parts["adapter-chat"],
          llm: demo.parts.llm,
        },
        pali: { encoder: demo.parts.siglip2, adapter: demo.parts.adapter, llm: demo.parts.llm },
      },
      // One thread each: on a small shared machine, spinning thread pools stall each other.
      { llm: { gpu: false, contextSize: 2048, sequences: 8, threads: 1, ...llm }, encoder: { threads: 1 } },
    );
  });
  return {
    demo,
    models,
    async cleanup() {
      await models.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Parses an SSE body into its `data:` payloads ("[DONE]" kept as a string). */
export function sseEvents(text: string): unknown[] {
  return text
    .split("\n\n")
    .filter((e) => e.startsWith("data: "))
    .map((e) => e.slice(6))
    .map((d) => (d === "[DONE]" ? d : JSON.parse(d)));
}

/** Parses an NDJSON body. */
export function ndjsonLines(text: string): Record<string, unknown>[] {
  return text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
}
