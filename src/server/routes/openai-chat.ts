/**
 * `POST /v1/chat/completions` in OpenAI's format: one `chat.completion`, or with `stream: true` SSE
 * `chat.completion.chunk`s — a first chunk with the role, content deltas, a last chunk with the
 * finish reason and an empty delta, then (with `stream_options.include_usage`) a chunk with no choices
 * and the token usage — and `data: [DONE]`.
 */
import { randomUUID } from "node:crypto";
import type { Hono } from "hono";
import { readBody } from "../body.js";
import { fromOpenAiChat } from "../chat-request.js";
import type { AppEnv, ServerContext } from "../context.js";
import { startChat } from "../generation.js";
import { OpenAiChatRequest } from "../schemas/openai-chat.js";
import { sseResponse } from "../streaming.js";

function usage(u: { promptTokens: number; completionTokens: number; totalTokens: number }) {
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.totalTokens,
  };
}

export function registerOpenAiChatRoutes(app: Hono<AppEnv>, ctx: ServerContext): void {
  app.post("/v1/chat/completions", async (c) => {
    const body = await readBody(c, OpenAiChatRequest);
    const request = fromOpenAiChat(body);
    const maxTokensParam =
      body.max_completion_tokens !== null && body.max_completion_tokens !== undefined
        ? "max_completion_tokens"
        : "max_tokens";
    const run = await startChat(ctx, request, { maxTokensParam, signal: c.var.signal });
    const id = `chatcmpl-${randomUUID().replaceAll("-", "")}`;
    const model = run.served.name;
    const head = { id, object: "chat.completion.chunk", created: run.created, model };

    if (!request.stream) {
      const result = await run.result;
      return c.json({
        id,
        object: "chat.completion",
        created: run.created,
        model,
        choices: [
          {
            index: 0,
            message: { role: "assistant", content: result.text, refusal: null },
            logprobs: null,
            finish_reason: result.finishReason,
          },
        ],
        usage: usage(result.usage),
      });
    }

    // With include_usage every chunk carries `usage: null` except the last one, as OpenAI sends them.
    const nullUsage = request.includeUsage ? { usage: null } : {};
    const chunk = (delta: Record<string, string>, finish: string | null = null) => ({
      ...head,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...nullUsage,
    });
    return sseResponse(c, (out) =>
      run.pipe(out, async () => {
        if (!(await out.send(chunk({ role: "assistant", content: "" })))) return;
        for await (const text of run.deltas) {
          if (!(await out.send(chunk({ content: text })))) return;
        }
        const result = await run.result;
        if (!(await out.send(chunk({}, result.finishReason)))) return;
        if (request.includeUsage) await out.send({ ...head, choices: [], usage: usage(result.usage) });
      }),
    );
  });
}
