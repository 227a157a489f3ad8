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
  /** Seconds from a chat request's arrival to its first generated token, by model. */
  readonly timeToFirstToken: Histogram<"model">;
  /** Seconds from a chat request's arrival to its last token, by model and finish reason. */
  readonly generationDuration: Histogram<"model" | "finish">;
  /** Generation requests per LLM engine, "active" (holding a sequence) or "queued"; read at scrape time. */
  readonly generationLoad: Gauge<"llm" | "state">;
  /** Registers where `generationLoad` reads its values at scrape time: one entry per loaded LLM. */
  watchEngines(source: () => readonly EngineLoad[]): void;
}

export interface EngineLoad {
  /** Label naming the LLM (its GGUF file name). */
  llm: string;
  active: number;
  queued: number;
}

export function createMetrics(options: ServerMetricsOptions = {}): ServerMetrics {
  const prefix = options.prefix ?? "vlmkit_";
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix });
  const sources: (() => readonly EngineLoad[])[] = [];
  // Token-level latencies: tens of milliseconds on small models up to minutes on long answers.
  const generationBuckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
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
    timeToFirstToken: new Histogram({
      name: `${prefix}time_to_first_token_seconds`,
      help: "Time from a chat request's arrival to its first generated token, in seconds",
      labelNames: ["model"],
      buckets: generationBuckets,
      registers: [registry],
    }),
    generationDuration: new Histogram({
      name: `${prefix}generation_duration_seconds`,
      help: "Time from a chat request's arrival to its last generated token, in seconds",
      labelNames: ["model", "finish"],
      buckets: generationBuckets,
      registers: [registry],
    }),
    generationLoad: new Gauge({
      name: `${prefix}generation_requests`,
      help: "Generation requests per LLM engine: active (decoding on a sequence) or queued",
      labelNames: ["llm", "state"],
      registers: [registry],
      collect() {
        for (const source of sources) {
          for (const { llm, active, queued } of source()) {
            this.set({ llm, state: "active" }, active);
            this.set({ llm, state: "queued" }, queued);
          }
        }
      },
    }),
    watchEngines(source) {
      sources.push(source);
    },
  };
}
