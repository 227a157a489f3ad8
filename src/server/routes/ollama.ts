/**
 * Ollama-compatible routes: `POST /api/chat` and `POST /api/generate` (NDJSON streaming unless
 * `stream: false`, ending with a `done: true` object that carries `done_reason`, token counts and
 * durations in nanoseconds) and `GET /api/version`. Model information: ollama-models.ts.
 */
import fs from "node:fs";
import type { Context, Hono } from "hono";
import type { GenerationResult } from "../../llm/engine.js";
import { readBody } from "../body.js";
import { type ChatRequest, fromOllamaChat, fromOllamaGenerate } from "../chat-request.js";
import type { AppEnv, ServerContext } from "../context.js";
import { startChat } from "../generation.js";
import { OllamaChatRequest, OllamaGenerateRequest } from "../schemas/ollama.js";
import { ndjsonResponse } from "../streaming.js";

const VERSION: string = JSON.parse(
  fs.readFileSync(new URL("../../../package.json", import.meta.url), "utf8"),
).version;

const ns = (ms: number) => Math.round(ms * 1e6);

/** The closing fields of an answer; Ollama reports durations in nanoseconds. */
function doneFields(result: GenerationResult, startMs: number) {
  const t = result.timings;
  return {
    done: true,
    done_reason: result.finishReason,
    total_duration: ns(performance.now() - startMs),
    load_duration: 0, // models are loaded when the server starts
    prompt_eval_count: result.usage.promptTokens,
    prompt_eval_duration: ns(t.queuedMs + t.prefillMs),
    eval_count: result.usage.completionTokens,
    eval_duration: ns(t.decodeMs),
  };
}

/** Ollama clients often add the default tag: "name:latest" finds "name" (undefined: the only model). */
export function servedName(ctx: ServerContext, model: string | undefined): string | undefined {
  if (model === undefined || !model.endsWith(":latest")) return model;
  const base = model.slice(0, -":latest".length);
  return ctx.models.list().some((m) => m.id === base) ? base : model;
}

async function answer(
  c: Context<AppEnv>,
  ctx: ServerContext,
  request: ChatRequest,
  shape: (text: string) => Record<string, unknown>,
): Promise<Response> {
  const start = performance.now();
  const run = await startChat(
    ctx,
    { ...request, model: servedName(ctx, request.model) },
    { maxTokensParam: "options.num_predict", signal: c.var.signal },
  );
  const model = request.model ?? run.served.name;
  const at = () => new Date().toISOString();
  if (!request.stream) {
    const result = await run.result;
    return c.json({ model, created_at: at(), ...shape(result.text), ...doneFields(result, start) });
  }
  return ndjsonResponse(c, (out) =>
    run.pipe(out, async () => {
      for await (const text of run.deltas) {
        if (!(await out.send({ model, created_at: at(), ...shape(text), done: false }))) return;
      }
      const result = await run.result;
      await out.send({ model, created_at: at(), ...shape(""), ...doneFields(result, start) });
    }),
  );
}

export function registerOllamaRoutes(app: Hono<AppEnv>, ctx: ServerContext): void {
  app.post("/api/chat", async (c) => {
    const request = fromOllamaChat(await readBody(c, OllamaChatRequest));
    return answer(c, ctx, request, (content) => ({ message: { role: "assistant", content } }));
  });

  app.post("/api/generate", async (c) => {
    const request = fromOllamaGenerate(await readBody(c, OllamaGenerateRequest));
    return answer(c, ctx, request, (response) => ({ response }));
  });

  app.get("/api/version", (c) => c.json({ version: VERSION }));
}
