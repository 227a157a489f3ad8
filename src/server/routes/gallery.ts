/**
 * The image gallery a server was started with (`serve --gallery <dir>`), searched by text:
 * `GET /v1/gallery` (its images), `POST /v1/gallery/search` (ranked by a text query through an
 * encoder's text tower) and `GET /v1/gallery/images/{index}` (one image's bytes).
 */
import type { Hono } from "hono";
import { z } from "zod";
import { textProblem } from "../../encoders/text-input.js";
import { VlmkitError } from "../../errors.js";
import { readBody } from "../body.js";
import type { AppEnv, ServerContext } from "../context.js";
import type { Gallery } from "../gallery.js";
import { embedTexts } from "./embeddings.js";

/** Most results one search returns. */
export const MAX_GALLERY_RESULTS = 100;

const SearchRequest = z.object({
  /** Encoder name; optional when one encoder is served. */
  model: z.string().min(1, { message: "expected a model name" }).optional(),
  query: z.string().superRefine((t, ctx) => {
    const problem = textProblem(t);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  }),
  /** How many images to return, best first. Default 12. */
  top_k: z.number().int().min(1).max(MAX_GALLERY_RESULTS).optional(),
});

function gallery(ctx: ServerContext): Gallery {
  if (ctx.gallery) return ctx.gallery;
  throw new VlmkitError("NOT_FOUND", "this server has no gallery; start it with --gallery <dir>", {
    details: {},
  });
}

export function registerGalleryRoutes(app: Hono<AppEnv>, ctx: ServerContext): void {
  app.get("/v1/gallery", (c) =>
    c.json({ object: "list", data: gallery(ctx).names.map((name, index) => ({ index, name })) }),
  );

  app.post("/v1/gallery/search", async (c) => {
    const body = await readBody(c, SearchRequest);
    const images = gallery(ctx);
    const served = ctx.models.encoder(body.model);
    const { vectors } = await embedTexts(ctx, served, [body.query], c.var.signal);
    return c.json({
      object: "list",
      model: served.name,
      query: body.query,
      data: images.rank(served.name, vectors[0], body.top_k ?? 12),
    });
  });

  app.get("/v1/gallery/images/:index{[0-9]+}", async (c) => {
    const { bytes, contentType } = await gallery(ctx).image(Number(c.req.param("index")));
    return c.body(new Uint8Array(bytes), 200, {
      "content-type": contentType,
      "cache-control": "private, max-age=3600",
      "x-content-type-options": "nosniff",
    });
  });
}
