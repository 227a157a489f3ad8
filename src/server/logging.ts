/**
 * Structured logs (pino, JSON lines) and request metrics: one line per request with its id, route,
 * status and time; counters and a latency histogram by route pattern (never the raw path, which would
 * let clients create unbounded label values).
 */
import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import { type Logger, pino } from "pino";
import { serverEnv } from "../env.js";
import type { AppEnv } from "./context.js";
import type { ServerMetrics } from "./metrics.js";

export interface LoggerOptions {
  /** pino level. Default `$VLMKIT_LOG_LEVEL` or "info". */
  level?: string;
  /** Where lines go. Default stdout. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? serverEnv().logLevel;
  const base = { level, base: { service: "vlmkit" } };
  return options.destination ? pino(base, options.destination) : pino(base);
}

export function requestLog(logger: Logger, metrics: ServerMetrics): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const start = performance.now();
    const log = logger.child({ reqId: c.var.requestId });
    c.set("log", log);
    await next();
    const ms = performance.now() - start;
    // The handler's pattern ("/v1/models/:id{.+}"); requests that only middleware ("*") matched share one label.
    const matched = routePath(c, -1);
    const route = matched && !matched.includes("*") ? matched : "unmatched";
    const status = c.res.status;
    metrics.requests.inc({ method: c.req.method, route, status: String(status) });
    metrics.latency.observe({ method: c.req.method, route }, ms / 1000);
    const line = { method: c.req.method, route, path: c.req.path, status, ms: Math.round(ms * 10) / 10 };
    if (status >= 500 && status !== 503) log.error(line, "request");
    else log.info(line, "request");
  };
}
