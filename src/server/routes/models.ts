/** `GET /v1/models` and `GET /v1/models/:id` in OpenAI's list format. */
import type { Hono } from "hono";
import type { AppEnv, ServerContext } from "../context.js";
import type { ModelListEntry } from "../models.js";

function modelObject(entry: ModelListEntry) {
  return { id: entry.id, object: "model", created: entry.created, owned_by: "vlmkit", kind: entry.kind };
}

export function registerModelRoutes(app: Hono<AppEnv>, ctx: ServerContext): void {
  app.get("/v1/models", (c) => c.json({ object: "list", data: ctx.models.list().map(modelObject) }));

  app.get("/v1/models/:id{.+}", (c) => {
    return c.json(modelObject(ctx.models.entry(c.req.param("id"))));
  });
}
