/** `GET /health` (503 until every model is loaded, and while shutting down) and `GET /metrics`. */
import type { Hono } from "hono";
import type { AppEnv, ServerContext } from "../context.js";

export function registerHealthRoutes(app: Hono<AppEnv>, ctx: ServerContext): void {
  // /health answers without authentication, so a load failure (whose message names files and folders)
  // is reported as a generic status; the detail goes to the server log, once per failure.
  let logged: unknown;
  app.get("/health", (c) => {
    switch (ctx.models.state) {
      case "ready":
        return c.json({ status: "ok" }, 200);
      case "failed":
        if (logged !== ctx.models.error) {
          logged = ctx.models.error;
          ctx.logger.error({ err: ctx.models.error }, "loading models failed");
        }
        return c.json(
          { status: "error", error: "loading models failed; the server log has the details" },
          503,
        );
      default:
        return c.json({ status: ctx.models.state }, 503);
    }
  });

  app.get("/metrics", async (c) => {
    const text = await ctx.metrics.registry.metrics();
    return c.body(text, 200, { "Content-Type": ctx.metrics.registry.contentType });
  });
}
