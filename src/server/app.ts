/**
 * The HTTP app: hono with OpenAI-style routes under `/v1/` (and Ollama-style under `/api/`), errors
 * rendered in one place, limits and security on by default. `createApp` builds it without listening;
 * `listen` (listen.ts) serves it.
 */
import fs from "node:fs";
import { Hono } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { bodyLimit } from "hono/body-limit";
import { requestId } from "hono/request-id";
import type { Logger } from "pino";
import { serverEnv } from "../env.js";
import { InvalidArgumentError, VlmkitError } from "../errors.js";
import type { AppEnv, ServerContext } from "./context.js";
import { errorResponse, exceptionHeaders, statusForCode, toVlmkitError } from "./errors.js";
import type { Gallery } from "./gallery.js";
import { DEFAULT_HOST, resolveLimits, type ServerLimits } from "./limits.js";
import { createLogger, requestLog } from "./logging.js";
import { createMetrics, type ServerMetrics } from "./metrics.js";
import { ServedModels } from "./models.js";
import { WorkQueue } from "./queue.js";
import { isWildcardBind, requestGuard } from "./request-guard.js";
import { raceSignal, requestSignal } from "./request-signal.js";
import { registerEmbeddingRoutes } from "./routes/embeddings.js";
import { registerEncoderRoutes } from "./routes/encoders.js";
import { registerGalleryRoutes } from "./routes/gallery.js";
import { registerHealthRoutes } from "./routes/health.js";
import { registerModelRoutes } from "./routes/models.js";
import { registerOllamaRoutes } from "./routes/ollama.js";
import { registerOllamaModelRoutes } from "./routes/ollama-models.js";
import { registerOpenAiChatRoutes } from "./routes/openai-chat.js";
import { isPublicWebPath, registerWebRoutes } from "./routes/web.js";

export interface AppOptions {
  /** The models to serve and the readiness state. Default: an empty set, still "loading". */
  models?: ServedModels;
  /** Limits; each field has its own default (see `DEFAULT_LIMITS`). */
  limits?: Partial<ServerLimits>;
  /**
   * Bearer token every route but `/health` and the web page's static files requires. Default `$VLMKIT_API_KEY`; `false` turns auth off
   * even when the variable is set. Unset: no auth (the default host is 127.0.0.1). An empty key, or
   * one with characters outside `[A-Za-z0-9._~+/-]+=*`, throws INVALID_ARGUMENT.
   */
  apiKey?: string | false;
  /**
   * The interface the server binds (as given to `listen`): without an API key, `Host` must name it, a
   * loopback address or an `allowedHosts` entry. Default "127.0.0.1".
   */
  host?: string;
  /** Extra `Host` names accepted without an API key ("*": any). Default none. See request-guard.ts. */
  allowedHosts?: readonly string[];
  /** Extra browser origins accepted besides loopback pages ("*": any). Default none. */
  allowedOrigins?: readonly string[];
  /** Fetch http(s) image URLs given in requests. Default false: only data: URLs and base64. */
  allowRemoteImages?: boolean;
  /**
   * Let remote image fetches reach private, loopback and link-local addresses (after DNS resolution).
   * Default false. For tests and trusted intranets only: it lets clients probe the server's network.
   */
  allowPrivateImageAddresses?: boolean;
  /** Logger for the one-line-per-request log. Default: pino to stdout at `$VLMKIT_LOG_LEVEL` or "info". */
  logger?: Logger;
  /** Metrics registry holder. Default: a fresh one per app (never prom-client's global registry). */
  metrics?: ServerMetrics;
  /** Images searched by text (`/v1/gallery/search`, the page's search tab). Default none. */
  gallery?: Gallery;
  /** Queue bounding encoder work. Default: `encoderConcurrency` running, `maxQueuedJobs` waiting. */
  encoderQueue?: WorkQueue;
}

export interface VlmkitApp {
  app: Hono<AppEnv>;
  /** What the routes share; generation routes registered later get the same object. */
  context: ServerContext;
}

/**
 * Builds the HTTP app (hono) without listening: serve it with `listen`, or call `app.request` in tests.
 *
 * @example
 * ```ts
 * import { createApp, listen } from "vlmkit/server";
 *
 * const { app, context } = createApp({ apiKey: false });
 * const server = await listen(app, { port: 8080 }); // /health answers 503 until the models are ready
 * await context.models.loadEncoders({ siglip2: "models/demo/siglip2" });
 * // POST /v1/classify {"model": "siglip2", "images": ["data:image/png;base64,…"], "labels": ["cat", "dog"]}
 * await server.close();
 * await context.models.dispose();
 * ```
 */
export function createApp(options: AppOptions = {}): VlmkitApp {
  const limits = resolveLimits(options.limits);
  const metrics = options.metrics ?? createMetrics();
  const encoderQueue =
    options.encoderQueue ??
    new WorkQueue({
      name: "encoder",
      concurrency: limits.encoderConcurrency,
      maxQueued: limits.maxQueuedJobs,
    });
  const onQueueChange = (queue: WorkQueue) => {
    metrics.queueDepth.set({ queue: queue.name }, queue.waiting);
    metrics.queueRunning.set({ queue: queue.name }, queue.running);
  };
  encoderQueue.subscribe(onQueueChange);
  onQueueChange(encoderQueue);
  const ctx: ServerContext = {
    models: options.models ?? new ServedModels(),
    limits,
    encoderQueue,
    metrics,
    logger: options.logger ?? createLogger(),
    images: {
      allowRemote: options.allowRemoteImages ?? false,
      allowPrivateAddresses: options.allowPrivateImageAddresses ?? false,
    },
    gallery: options.gallery,
  };

  metrics.watchEngines(() => ctx.models.engineLoads());

  const app = new Hono<AppEnv>();
  app.use(requestId({ headerName: "X-Request-Id" }));
  app.use(requestLog(ctx.logger, metrics));
  app.use(requestSignal(limits));
  const apiKey = resolveApiKey(options.apiKey);
  const boundHost = options.host ?? DEFAULT_HOST;
  if (apiKey === undefined && isWildcardBind(boundHost)) {
    ctx.logger.warn(
      { host: boundHost },
      "serving on every interface without an API key: anyone who can reach this machine may use the server (set $VLMKIT_API_KEY or --api-key-file)",
    );
  }
  app.use(
    requestGuard({
      boundHost,
      allowedHosts: options.allowedHosts,
      allowedOrigins: options.allowedOrigins,
      authenticated: apiKey !== undefined,
    }),
  );
  if (apiKey !== undefined) {
    const auth = bearerAuth<AppEnv>({ token: apiKey });
    // The page and its static files hold no data: a browser must load them before it can send the key.
    const open = (p: string) => p === "/health" || isPublicWebPath(p);
    app.use(async (c, next) => (open(c.req.path) ? next() : auth(c, next)));
  }
  const limitBody = bodyLimit({
    maxSize: limits.maxBodyBytes,
    onError: () => {
      throw new VlmkitError(
        "PAYLOAD_TOO_LARGE",
        `request body is larger than the server's limit of ${limits.maxBodyBytes} bytes`,
        { details: { limit: limits.maxBodyBytes } },
      );
    },
  });
  // bodyLimit reads a body sent without Content-Length before the route runs: the request deadline
  // and disconnect watch must cover that read too, or a trickling client holds the request forever.
  app.use((c, next) => raceSignal(limitBody(c, next), c.var.signal));

  registerHealthRoutes(app, ctx);
  registerModelRoutes(app, ctx);
  registerEncoderRoutes(app, ctx);
  registerEmbeddingRoutes(app, ctx);
  registerOpenAiChatRoutes(app, ctx);
  registerOllamaRoutes(app, ctx);
  registerOllamaModelRoutes(app, ctx);
  registerGalleryRoutes(app, ctx);
  registerWebRoutes(app);

  app.notFound((c) =>
    errorResponse(
      c,
      new VlmkitError("NOT_FOUND", `no route for ${c.req.method} ${c.req.path}`, { details: {} }),
    ),
  );
  app.onError((error, c) => {
    const err = toVlmkitError(error, c.var.signal);
    if (statusForCode(err.code) >= 500) c.var.log?.error({ err: error }, err.message);
    const res = errorResponse(c, err);
    for (const [key, value] of exceptionHeaders(error) ?? []) res.headers.set(key, value);
    return res;
  });
  return { app, context: ctx };
}

/**
 * The API key stored in `file` (`--api-key-file`), without surrounding whitespace or the trailing
 * newline an editor adds. A key given as a flag shows in `ps` to every user of the machine; a file (or
 * `$VLMKIT_API_KEY`) does not.
 */
export function readApiKeyFile(file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (cause) {
    throw new InvalidArgumentError(`cannot read --api-key-file ${file}: ${(cause as Error).message}`, {
      cause,
      details: { param: "apiKeyFile" },
    });
  }
  const key = text.trim();
  if (key === "") {
    throw new InvalidArgumentError(`--api-key-file ${file} is empty; write the key into it`, {
      details: { param: "apiKeyFile" },
    });
  }
  return key;
}

/** What `Authorization: Bearer` can carry (RFC 6750 b64token, as hono's bearerAuth matches it). */
const TOKEN68 = /^[A-Za-z0-9._~+/-]+=*$/;

/**
 * The key to require, or undefined for none. An explicit key (even "") wins over the environment; a
 * key no client could send is refused at startup rather than locking every client out (or, when
 * empty, silently turning auth off).
 */
export function resolveApiKey(option: string | false | undefined): string | undefined {
  if (option === false) return undefined;
  const key = option ?? serverEnv().apiKey;
  if (key === undefined) return undefined;
  const from = option === undefined ? "$VLMKIT_API_KEY" : "the API key";
  if (key === "") {
    throw new InvalidArgumentError(
      `${from} is empty; give a non-empty key, or leave it unset to serve without authentication`,
      { details: { param: "apiKey" } },
    );
  }
  if (!TOKEN68.test(key)) {
    const bad = [...new Set(key.replace(/[A-Za-z0-9._~+/=-]/g, ""))].join("");
    throw new InvalidArgumentError(
      `${from} holds characters a Bearer token cannot carry (${JSON.stringify(bad || "=")}); use letters, digits and . _ ~ + / - (then = padding only at the end)`,
      { details: { param: "apiKey" } },
    );
  }
  return key;
}
