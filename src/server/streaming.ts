/**
 * Streaming responses for the generation routes: Server-Sent Events (OpenAI: `data: {json}`, then
 * `data: [DONE]`) and NDJSON (Ollama: one JSON object per line). A failure after the headers went out
 * cannot change the status, so it is sent in-band in the family's format: SSE `data: {"error":{…}}`,
 * NDJSON `{"error":"…"}`. Both stop cleanly when the client disconnects: `writer.signal` fires and
 * `send` returns false, so the producer can stop generating.
 *
 * A client that stops reading is dropped rather than kept forever with its socket, stream and
 * buffered text: when one write waits longer than `streamWriteTimeoutMs`, or the stream is still
 * running `DEADLINE_GRACE_MS` after the request deadline passed (time to deliver the error event),
 * the connection is destroyed and the producer stopped.
 */
import type { ServerResponse } from "node:http";
import type { Context } from "hono";
import { stream as honoStream } from "hono/streaming";
import { AbortError, VlmkitError } from "../errors.js";
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

/** How long a stream may still run after the request deadline passed, to write its error event. */
const DEADLINE_GRACE_MS = 1_000;

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
  const writeTimeoutMs = c.var.streamWriteTimeoutMs;
  // The Node response under @hono/node-server; absent for in-process requests (`app.request`).
  const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
  return honoStream(c, async (out) => {
    const controller = new AbortController();
    const stop = (reason: unknown) => {
      if (!controller.signal.aborted) controller.abort(reason);
    };
    out.onAbort(() => stop(new AbortError("the client closed the connection")));
    // Destroys the connection: buffered text is freed, a pending write returns, the producer stops.
    const drop = (why: string) => {
      if (out.aborted) return;
      c.var.log.info({ writeTimeoutMs }, `dropping a streaming client: ${why}`);
      stop(new VlmkitError("TIMEOUT", `the client was dropped: ${why}`));
      outgoing?.destroy();
      out.abort();
    };
    let grace: NodeJS.Timeout | undefined;
    const onRequestAbort = () => {
      stop(requestSignal.reason);
      grace = setTimeout(
        () => drop("the stream was still running after the request deadline"),
        DEADLINE_GRACE_MS,
      );
    };
    if (requestSignal.aborted) onRequestAbort();
    else requestSignal.addEventListener("abort", onRequestAbort, { once: true });
    const write = async (text: string): Promise<boolean> => {
      if (out.aborted) return false;
      const timer = setTimeout(
        () => drop(`a write waited ${writeTimeoutMs} ms for the client to read`),
        writeTimeoutMs,
      );
      try {
        await out.write(text);
      } finally {
        clearTimeout(timer);
      }
      return !out.aborted;
    };
    const writer: StreamWriter = {
      signal: controller.signal,
      async send(value) {
        if (out.aborted || controller.signal.aborted) return false;
        return write(framing.event(value));
      },
    };
    try {
      await produce(writer);
      // A producer that stopped because the deadline passed still owes the client an error.
      if (controller.signal.aborted && !out.aborted) throw controller.signal.reason;
      if (framing.end) await write(framing.end);
    } catch (error) {
      const err = toVlmkitError(error, controller.signal);
      const level = statusForCode(err.code) >= 500 ? "error" : "info";
      c.var.log[level]({ err, code: err.code }, "stream ended with an error");
      await write(framing.error(errorBody(err, family)));
    } finally {
      clearTimeout(grace);
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
