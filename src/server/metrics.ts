/**
 * Prometheus metrics of one app instance, in its own registry (never prom-client's global one), so two
 * apps in one process — tests, or several servers — count separately.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export interface ServerMetricsOptions {
  /** Also collect Node.js process metrics (CPU, memory, event loop lag). Default false. */
  processMetrics?: boolean;
  /** Prefix of every metric name. Default "vlmkit_". */
  prefix?: string;
}

export interface ServerMetrics {
  readonly registry: Registry;
  /** Requests answered, by method, route pattern and status. */
  readonly requests: Counter<"method" | "route" | "status">;
  /** Time from request to response headers, in seconds, by method and route pattern. */
  readonly latency: Histogram<"method" | "route">;
  /** Jobs waiting in a work queue, by queue name. */
  readonly queueDepth: Gauge<"queue">;
  /** Jobs running in a work queue, by queue name. */
  readonly queueRunning: Gauge<"queue">;
  /** Tokens processed by generation routes, by model and kind ("prompt" | "completion"). */
  readonly tokens: Counter<"model" | "kind">;
}

export function createMetrics(options: ServerMetricsOptions = {}): ServerMetrics {
  const prefix = options.prefix ?? "vlmkit_";
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix });
  return {
    registry,
    requests: new Counter({
      name: `${prefix}http_requests_total`,
      help: "HTTP requests answered, by method, route and status",
      labelNames: ["method", "route", "status"],
      registers: [registry],
    }),
    latency: new Histogram({
      name: `${prefix}http_request_duration_seconds`,
      help: "Time to the response headers, in seconds",
      labelNames: ["method", "route"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: `${prefix}queue_depth`,
      help: "Jobs waiting for a slot, by queue",
      labelNames: ["queue"],
      registers: [registry],
    }),
    queueRunning: new Gauge({
      name: `${prefix}queue_running`,
      help: "Jobs running, by queue",
      labelNames: ["queue"],
      registers: [registry],
    }),
    tokens: new Counter({
      name: `${prefix}tokens_total`,
      help: "Tokens processed, by model and kind (prompt or completion)",
      labelNames: ["model", "kind"],
      registers: [registry],
    }),
  };
}
