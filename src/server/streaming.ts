/**
 * Streaming responses for the generation routes: Server-Sent Events (OpenAI: `data: {json}`, then
 * `data: [DONE]`) and NDJSON (Ollama: one JSON object per line). A failure after the headers went out
 * cannot change the status, so it is sent in-band in the family's format: SSE `data: {"error":{…}}`,
 * NDJSON `{"error":"…"}`. Both stop cleanly when the client disconnects: `writer.signal` fires and
 * `send` returns false, so the producer can stop generating.
 */
import type { Context } from "hono";
import { stream as honoStream } from "hono/streaming";
import { AbortError } from "../errors.js";
import type { AppEnv } from "./context.js";
import { errorBody, statusForCode, toVlmkitError } from "./errors.js";

export interface StreamWriter {
  /** Fires when the client disconnects or the request deadline passes. Pass it to the work. */
  readonly signal: AbortSignal;
  /** Writes one event; resolves false once the client is gone (stop producing). */
  send(value: unknown): Promise<boolean>;
}

export type StreamProducer = (writer: StreamWriter) => Promise<void>;

interface Framing {
  contentType: string;
  event: (value: unknown) => string;
  /** Written after a producer that finished without error. */
  end?: string;
  error: (body: Record<string, unknown>) => string;
}

const SSE: Framing = {
  contentType: "text/event-stream; charset=utf-8",
  event: (v) => `data: ${JSON.stringify(v)}\n\n`,
  end: "data: [DONE]\n\n",
  error: (body) => `data: ${JSON.stringify(body)}\n\n`,
};

const NDJSON: Framing = {
  contentType: "application/x-ndjson",
  event: (v) => `${JSON.stringify(v)}\n`,
  error: (body) => `${JSON.stringify(body)}\n`,
};

function respond(
  c: Context<AppEnv>,
  framing: Framing,
  family: "openai" | "ollama",
  produce: StreamProducer,
): Response {
  const release = c.var.holdSignal();
  const requestSignal = c.var.signal;
  c.header("Content-Type", framing.contentType);
  c.header("Cache-Control", "no-cache");
  c.header("X-Accel-Buffering", "no"); // ask reverse proxies not to buffer the stream
  return honoStream(c, async (out) => {
    const controller = new AbortController();
    const stop = (reason: unknown) => {
      if (!controller.signal.aborted) controller.abort(reason);
    };
    out.onAbort(() => stop(new AbortError("the client closed the connection")));
    const onRequestAbort = () => stop(requestSignal.reason);
    if (requestSignal.aborted) onRequestAbort();
    else requestSignal.addEventListener("abort", onRequestAbort, { once: true });
    const writer: StreamWriter = {
      signal: controller.signal,
      async send(value) {
        if (out.aborted || controller.signal.aborted) return false;
        await out.write(framing.event(value));
        return !out.aborted;
      },
    };
    try {
      await produce(writer);
      // A producer that stopped because the deadline passed still owes the client an error.
      if (controller.signal.aborted && !out.aborted) throw controller.signal.reason;
      if (framing.end && !out.aborted) await out.write(framing.end);
    } catch (error) {
      const err = toVlmkitError(error, controller.signal);
      const level = statusForCode(err.code) >= 500 ? "error" : "info";
      c.var.log[level]({ err, code: err.code }, "stream ended with an error");
      if (!out.aborted) await out.write(framing.error(errorBody(err, family)));
    } finally {
      requestSignal.removeEventListener("abort", onRequestAbort);
      release();
    }
  });
}

/** An OpenAI-style SSE response: each `send` is one `data:` event; `data: [DONE]` ends a good stream. */
export function sseResponse(c: Context<AppEnv>, produce: StreamProducer): Response {
  return respond(c, SSE, "openai", produce);
}

/** An Ollama-style NDJSON response: each `send` is one line; an error is a last `{"error":"…"}` line. */
export function ndjsonResponse(c: Context<AppEnv>, produce: StreamProducer): Response {
  return respond(c, NDJSON, "ollama", produce);
}
