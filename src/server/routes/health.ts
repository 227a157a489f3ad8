/** `GET /health` (503 until every model is loaded, and while shutting down) and `GET /metrics`. */
import type { Hono } from "hono";
import type { AppEnv, ServerContext } from "../context.js";

export function registerHealthRoutes(app: Hono<AppEnv>, ctx: ServerContext): void {
  app.get("/health", (c) => {
    switch (ctx.models.state) {
      case "ready":
        return c.json({ status: "ok" }, 200);
      case "failed":
        return c.json({ status: "error", error: ctx.models.error?.message ?? "loading models failed" }, 503);
      default:
        return c.json({ status: ctx.models.state }, 503);
    }
  });

  app.get("/metrics", async (c) => {
    const text = await ctx.metrics.registry.metrics();
    return c.body(text, 200, { "Content-Type": ctx.metrics.registry.contentType });
  });
}
