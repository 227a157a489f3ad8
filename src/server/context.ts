/** What every route group shares: models, limits, the work queue, metrics, the logger and image policy. */
import type { Logger } from "pino";
import type { Gallery } from "./gallery.js";
import type { ServerLimits } from "./limits.js";
import type { ServerMetrics } from "./metrics.js";
import type { ServedModels } from "./models.js";
import type { WorkQueue } from "./queue.js";

export interface ImagePolicy {
  /** Fetch http(s) image URLs. */
  allowRemote: boolean;
  /** Let fetches reach private/loopback/link-local addresses (checked after DNS resolution). */
  allowPrivateAddresses: boolean;
}

export interface ServerContext {
  models: ServedModels;
  limits: ServerLimits;
  /** Bounds encoder work (classify, embeddings); 429 when full. */
  encoderQueue: WorkQueue;
  metrics: ServerMetrics;
  logger: Logger;
  images: ImagePolicy;
  /** The images `serve --gallery` was given, searched by text; undefined without one. */
  gallery?: Gallery;
}

/** Per-request values set by the app's middleware, typed for `c.var`. */
export interface AppEnv {
  Variables: {
    /** From `x-request-id` when the client sent a sane one, else a fresh UUID; echoed back. */
    requestId: string;
    /** The request's logger: pino child carrying `reqId`. */
    log: Logger;
    /** Fires when the client disconnects (reason: AbortError) or the deadline passes (reason: TIMEOUT). */
    signal: AbortSignal;
    /**
     * Keeps the deadline and disconnect watch alive after the handler returns (streaming responses);
     * call the returned function when the stream ends.
     */
    holdSignal: () => () => void;
    /** How long one write of a streamed response may wait for the client (`ServerLimits.streamWriteTimeoutMs`). */
    streamWriteTimeoutMs: number;
  };
}
