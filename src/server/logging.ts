/**
 * Structured logs (pino) and request metrics: one line per request with its id, route, status and
 * time; counters and a latency histogram by route pattern (never the raw path, which would let clients
 * create unbounded label values). JSON lines for machines, readable text on a terminal
 * (`log-format.ts`).
 */
import type { Hono, MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import { type Logger, pino } from "pino";
import { serverEnv } from "../env.js";
import { setWarningSink } from "../util/warn.js";
import type { AppEnv } from "./context.js";
import { textLogDestination } from "./log-format.js";
import type { ServerMetrics } from "./metrics.js";

/** `json`: one JSON object per line; `text`: a line for a person (`formatLogLine`); `auto`: text on a terminal. */
export type LogFormat = "auto" | "json" | "text";

export const LOG_FORMATS: readonly LogFormat[] = ["auto", "json", "text"];

export interface LoggerOptions {
  /** pino level. Default `$VLMKIT_LOG_LEVEL` or "info". */
  level?: string;
  /** Where lines go. Default stdout. */
  destination?: NodeJS.WritableStream;
  /** Default "auto": text when the destination is a terminal, JSON lines otherwise. */
  format?: LogFormat;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? serverEnv().logLevel;
  const base = { level, base: { service: "vlmkit" } };
  const out = options.destination ?? process.stdout;
  const isTty = (out as { isTTY?: boolean }).isTTY === true;
  const format = options.format ?? "auto";
  if (format === "text" || (format === "auto" && isTty)) {
    return pino(base, textLogDestination(out, { color: isTty && serverEnv().color }));
  }
  return options.destination ? pino(base, options.destination) : pino(base);
}

/** The app's routes as `METHOD /path` (parameter patterns shortened to `:name`), for the startup line. */
export function routeList(app: Hono<AppEnv>): string[] {
  const routes = app.routes
    .filter((r) => r.method !== "ALL")
    .map((r) => `${r.method} ${r.path.replace(/\{[^}]*\}/g, "")}`);
  return [...new Set(routes)];
}

/**
 * Sends the process's warnings (`warnOnce`: a GPU provider or build missing, work falling back to
 * the CPU) to `logger` as warn lines, so they come out in the log's format; returns the undo.
 */
export function logWarnings(logger: Logger): () => void {
  const previous = setWarningSink((message) => logger.warn(message));
  return () => {
    setWarningSink(previous);
  };
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
