/** Encoder routes: zero-shot classification and image embeddings (SigLIP towers). */
import type { Hono } from "hono";
import { l2Normalize } from "../../encoders/index.js";
import { readBody } from "../body.js";
import type { AppEnv, ServerContext } from "../context.js";
import { decodeRequestImages, fetchRequestImages } from "../images.js";
import { raceSignal } from "../request-signal.js";
import { ClassifyRequest, ImageEmbeddingsRequest } from "../schemas/encoders.js";
import { toImageRef } from "../schemas/image-ref.js";
import { checkDimensions, embeddingValue } from "./embeddings.js";

export function registerEncoderRoutes(app: Hono<AppEnv>, ctx: ServerContext): void {
  app.post("/v1/classify", async (c) => {
    const body = await readBody(c, ClassifyRequest);
    const { model, name } = ctx.models.encoder(body.model);
    const signal = c.var.signal;
    const refs = body.images.map((img, i) => toImageRef(img, `images[${i}]`));
    // Remote images download before the slot (a slow host holds none); the slot is taken before any
    // decode, so decoded pixels exist only for the jobs that run.
    const fetched = await raceSignal(fetchRequestImages(refs, ctx, signal), signal);
    const results = await raceSignal(
      ctx.encoderQueue.run(async () => {
        const images = await decodeRequestImages(fetched, ctx, signal);
        return model.classify(images, body.labels, { template: body.template, signal });
      }, signal),
      signal,
    );
    return c.json({
      object: "list",
      model: name,
      data: results.map((scores, index) => ({ index, results: scores })),
    });
  });

  app.post("/v1/images/embeddings", async (c) => {
    const body = await readBody(c, ImageEmbeddingsRequest);
    const { model, name } = ctx.models.encoder(body.model);
    checkDimensions(body.dimensions, model.vision.hiddenSize, name);
    const field = body.images ? "images" : "input";
    const strings = body.images ?? (typeof body.input === "string" ? [body.input] : body.input!);
    const refs = strings.map((img, i) =>
      toImageRef(img, typeof body.input === "string" ? "input" : `${field}[${i}]`),
    );
    const signal = c.var.signal;
    const fetched = await raceSignal(fetchRequestImages(refs, ctx, signal), signal);
    const features = await raceSignal(
      ctx.encoderQueue.run(async () => {
        const images = await decodeRequestImages(fetched, ctx, signal);
        return model.vision.encode(images, { signal });
      }, signal),
      signal,
    );
    const base64 = body.encoding_format === "base64";
    // Usage counts image patches, the image's tokens for the encoder.
    const patches = features.reduce((n, f) => n + f.grid.rows * f.grid.cols, 0);
    return c.json({
      object: "list",
      data: features.map((f, index) => {
        const v = l2Normalize(f.pooled); // [Dv], unit norm
        return { object: "embedding", index, embedding: embeddingValue(v, base64) };
      }),
      model: name,
      usage: { prompt_tokens: patches, total_tokens: patches },
    });
  });
}
