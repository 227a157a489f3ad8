/**
 * Text embeddings from a served encoder's SigLIP text tower: OpenAI's `POST /v1/embeddings` and
 * Ollama's `POST /api/embed` (and its older `POST /api/embeddings`). The vectors are unit-norm and
 * live in the same space as `/v1/images/embeddings`, so a text vector's dot product with an image
 * vector ranks images by a text query.
 */
import type { Hono } from "hono";
import { InvalidArgumentError } from "../../errors.js";
import { readBody } from "../body.js";
import type { AppEnv, ServerContext } from "../context.js";
import type { ServedEncoder } from "../models.js";
import { raceSignal } from "../request-signal.js";
import { OllamaEmbeddingsRequest, OllamaEmbedRequest, TextEmbeddingsRequest } from "../schemas/embeddings.js";
import { servedName } from "./ollama.js";

/** A vector as OpenAI returns it: numbers, or base64 of its little-endian float32 bytes. */
export function embeddingValue(v: Float32Array, base64: boolean): number[] | string {
  return base64 ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") : Array.from(v);
}

/** Refuses a `dimensions` other than the model's size: SigLIP vectors are not truncatable. */
export function checkDimensions(requested: number | undefined, dims: number, model: string): void {
  if (requested !== undefined && requested !== dims) {
    throw new InvalidArgumentError(
      `dimensions: ${requested} is not supported; model "${model}" gives ${dims}-dimensional embeddings`,
      { details: { param: "dimensions" } },
    );
  }
}

/**
 * texts → unit-norm text vectors [T][Dt], run in an encoder-queue slot (429 when full) and bounded by
 * the request's deadline. `tokens` is what the tower read: every text is padded to its text length.
 */
export async function embedTexts(
  ctx: ServerContext,
  served: ServedEncoder,
  texts: readonly string[],
  signal: AbortSignal,
): Promise<{ vectors: Float32Array[]; tokens: number }> {
  const vectors = await raceSignal(
    ctx.encoderQueue.run(() => served.model.embedTexts(texts), signal),
    signal,
  );
  return { vectors, tokens: texts.length * served.model.vision.config.textLength };
}

const ns = (ms: number) => Math.round(ms * 1e6);

export function registerEmbeddingRoutes(app: Hono<AppEnv>, ctx: ServerContext): void {
  app.post("/v1/embeddings", async (c) => {
    const body = await readBody(c, TextEmbeddingsRequest);
    const served = ctx.models.encoder(body.model);
    checkDimensions(body.dimensions, served.model.vision.config.textHidden, served.name);
    const texts = typeof body.input === "string" ? [body.input] : body.input;
    const { vectors, tokens } = await embedTexts(ctx, served, texts, c.var.signal);
    const base64 = body.encoding_format === "base64";
    return c.json({
      object: "list",
      data: vectors.map((v, index) => ({ object: "embedding", index, embedding: embeddingValue(v, base64) })),
      model: served.name,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  });

  app.post("/api/embed", async (c) => {
    const start = performance.now();
    const body = await readBody(c, OllamaEmbedRequest);
    const served = ctx.models.encoder(servedName(ctx, body.model));
    checkDimensions(body.dimensions, served.model.vision.config.textHidden, served.name);
    const texts = typeof body.input === "string" ? [body.input] : body.input;
    const { vectors, tokens } = await embedTexts(ctx, served, texts, c.var.signal);
    return c.json({
      model: body.model ?? served.name,
      embeddings: vectors.map((v) => Array.from(v)),
      total_duration: ns(performance.now() - start),
      load_duration: 0, // models are loaded when the server starts
      prompt_eval_count: tokens,
    });
  });

  app.post("/api/embeddings", async (c) => {
    const body = await readBody(c, OllamaEmbeddingsRequest);
    const served = ctx.models.encoder(servedName(ctx, body.model));
    const { vectors } = await embedTexts(ctx, served, [body.prompt], c.var.signal);
    return c.json({ embedding: Array.from(vectors[0]) });
  });
}
