import fs from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { InvalidArgumentError } from "../../errors.js";
import { parseOnnxDtype } from "../../hub/dtypes.js";
import { resolveModelDir } from "../../hub/index.js";
import { createApp, readApiKeyFile } from "../../server/app.js";
import { readServeConfig } from "../../server/config-file.js";
import { Gallery } from "../../server/gallery.js";
import { DEFAULT_DRAIN_TIMEOUT_MS, ServerLifecycle } from "../../server/lifecycle.js";
import { DEFAULT_HOST, DEFAULT_LIMITS, DEFAULT_PORT, type ServerLimits } from "../../server/limits.js";
import { listen } from "../../server/listen.js";
import { loadVlms, type VlmParts } from "../../server/load-vlms.js";
import { createLogger, LOG_FORMATS, type LogFormat, logWarnings, routeList } from "../../server/logging.js";
import { createMetrics } from "../../server/metrics.js";
import { ServedModels } from "../../server/models.js";
import { adapterParts } from "../adapter-parts.js";
import { llmPath } from "../llm-arg.js";
import { int } from "../parse.js";

interface ServeArgs {
  host: string;
  port: number;
  encoder: string[];
  config?: string;
  dtype: string;
  threads?: number;
  apiKey?: string;
  apiKeyFile?: string;
  allowedHosts: string[];
  allowedOrigins: string[];
  allowRemoteImages?: boolean;
  allowPrivateImageAddresses?: boolean;
  maxBodyBytes?: number;
  maxImages?: number;
  maxImageBytes?: number;
  maxImagePixels?: number;
  maxRequestPixels?: number;
  concurrency?: number;
  queueSize?: number;
  timeoutMs?: number;
  streamWriteTimeoutMs?: number;
  idleTimeoutMs?: number;
  maxConnections?: number;
  drainTimeoutMs: number;
  logLevel?: string;
  logFormat: string;
  adapter?: string;
  llm?: string;
  name?: string;
  parallel: number;
  ctx: number;
  batchSize?: number;
  gpuLayers?: number;
  gallery?: string;
}

/** A repeatable flag whose values may also be comma-separated. */
function list(value: string, previous: string[]): string[] {
  return [
    ...previous,
    ...value
      .split(",")
      .map((v) => v.trim())
      .filter(Boolean),
  ];
}

/** `name=dir` names an encoder explicitly; otherwise a directory is named by its folder, an id by itself. */
export function encoderSpec(value: string): [name: string, spec: string] {
  const eq = value.indexOf("=");
  if (eq > 0) return [value.slice(0, eq), value.slice(eq + 1)];
  const isPath = value.startsWith(".") || path.isAbsolute(value) || fs.existsSync(value);
  return [isPath ? path.basename(path.resolve(value)) : value, value];
}

export function register(program: Command): void {
  program
    .command("serve")
    .description(
      "HTTP API and web page: OpenAI-style /v1/chat/completions, /v1/classify, /v1/embeddings, /v1/images/embeddings, /v1/models; Ollama-style /api/chat, /api/generate, /api/embed, /api/tags, /api/show, /api/ps; /health, /metrics; the page at /",
    )
    .option("--host <host>", "interface to bind", DEFAULT_HOST)
    .option("--port <port>", "TCP port, 1-65535 (0 picks a free one)", int("--port", 0, 65535), DEFAULT_PORT)
    .option(
      "--encoder <[name=]id|dir>",
      "encoder to serve for classify and embeddings (repeatable); named by the folder or id unless name= is given. With --adapter, the first is the VLM's encoder",
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option(
      "--config <file.json>",
      'models by name: {"encoders": {name: id|dir}, "vlms": {name: {encoder, adapter, llm}}}',
    )
    .option(
      "--adapter <dir>",
      "serve a VLM: this adapter or bundle (directory or name) on its card's encoder and LLM, or on --encoder and --llm",
    )
    .option(
      "--llm <gguf|id|hf:uri>",
      "the VLM's LLM: a GGUF file, a known id, or an hf: URI (default: the adapter card's)",
    )
    .option("--name <name>", "the VLM's model name (default: the adapter folder's name)")
    .option(
      "--parallel <n>",
      "requests decoded together per LLM (llama.cpp sequences)",
      int("--parallel", 1),
      4,
    )
    .option(
      "--ctx <n>",
      "context size per LLM: positions shared by its parallel requests",
      int("--ctx", 256),
      4096,
    )
    .option(
      "--batch-size <n>",
      "most rows per decode; bounds an image block (default 512)",
      int("--batch-size", 32),
    )
    .option(
      "--gpu-layers <n>",
      "LLM layers to offload to the GPU (-1 = all)",
      int("--gpu-layers", -1, 10_000),
    )
    .option(
      "--gallery <dir>",
      "images to search by text on the web page and POST /v1/gallery/search (embedded at startup by every encoder)",
    )
    .option("--dtype <dtype>", "ONNX weight variant of the encoders", "fp32")
    .option("--threads <n>", "onnxruntime threads (default: physical cores)", int("--threads"))
    .option(
      "--api-key <key>",
      "require `Authorization: Bearer <key>` (default: $VLMKIT_API_KEY). Visible to other users in ps: prefer $VLMKIT_API_KEY or --api-key-file",
    )
    .option("--api-key-file <file>", "read the API key from this file (trailing newline ignored)")
    .option(
      "--allowed-hosts <host>",
      "without an API key, also answer requests whose Host is this name (repeatable or comma-separated; * = any)",
      list,
      [] as string[],
    )
    .option(
      "--allowed-origins <origin>",
      "also accept browser requests from this origin, e.g. https://app.example (repeatable or comma-separated; * = any)",
      list,
      [] as string[],
    )
    .option("--allow-remote-images", "fetch http(s) image URLs given in requests (public addresses only)")
    .option(
      "--allow-private-image-addresses",
      "with --allow-remote-images, also fetch from private/loopback addresses (trusted networks only)",
    )
    .option(
      "--max-body-bytes <n>",
      `largest request body (default ${DEFAULT_LIMITS.maxBodyBytes})`,
      int("--max-body-bytes"),
    )
    .option(
      "--max-images <n>",
      `images per request (default ${DEFAULT_LIMITS.maxImagesPerRequest})`,
      int("--max-images"),
    )
    .option(
      "--max-image-bytes <n>",
      `largest encoded image (default ${DEFAULT_LIMITS.maxImageBytes})`,
      int("--max-image-bytes"),
    )
    .option(
      "--max-image-pixels <n>",
      `largest decoded image (default ${DEFAULT_LIMITS.maxImagePixels})`,
      int("--max-image-pixels"),
    )
    .option(
      "--max-request-pixels <n>",
      `decoded pixels of all a request's images together (default ${DEFAULT_LIMITS.maxRequestPixels})`,
      int("--max-request-pixels"),
    )
    .option(
      "--concurrency <n>",
      `encoder jobs at once (default ${DEFAULT_LIMITS.encoderConcurrency})`,
      int("--concurrency"),
    )
    .option(
      "--queue-size <n>",
      `encoder jobs, and generation requests per LLM, waiting before 429 (default ${DEFAULT_LIMITS.maxQueuedJobs})`,
      int("--queue-size"),
    )
    .option(
      "--timeout-ms <n>",
      `deadline per request (default ${DEFAULT_LIMITS.requestTimeoutMs})`,
      int("--timeout-ms"),
    )
    .option(
      "--stream-write-timeout-ms <n>",
      `drop a streaming client whose write waits this long to be read (default ${DEFAULT_LIMITS.streamWriteTimeoutMs})`,
      int("--stream-write-timeout-ms"),
    )
    .option(
      "--idle-timeout-ms <n>",
      `close a connection idle this long (default ${DEFAULT_LIMITS.socketIdleTimeoutMs})`,
      int("--idle-timeout-ms"),
    )
    .option(
      "--max-connections <n>",
      `open connections at once (default ${DEFAULT_LIMITS.maxConnections})`,
      int("--max-connections"),
    )
    .option(
      "--drain-timeout-ms <n>",
      "on SIGTERM/SIGINT, how long in-flight requests may finish",
      int("--drain-timeout-ms"),
      DEFAULT_DRAIN_TIMEOUT_MS,
    )
    .option("--log-level <level>", "debug, info, warn, error or silent (default: $VLMKIT_LOG_LEVEL or info)")
    .option("--log-format <format>", "auto (text on a terminal, JSON lines otherwise), json or text", "auto")
    .action(async (args: ServeArgs) => {
      if (args.apiKey !== undefined && args.apiKeyFile !== undefined)
        throw new InvalidArgumentError("give the API key once: --api-key-file or --api-key, not both");
      const apiKey = args.apiKeyFile !== undefined ? readApiKeyFile(args.apiKeyFile) : args.apiKey;
      const dtype = parseOnnxDtype(args.dtype);
      const config = args.config ? readServeConfig(args.config) : { encoders: {}, vlms: {} };
      const encoders: Record<string, string> = { ...config.encoders };
      // Each VLM names a served encoder and reuses its vision tower.
      const vlms: Record<string, { encoder: string; adapter: string; llm: string }> = { ...config.vlms };
      // Every --encoder is served for classify and embeddings; --adapter's VLM runs on the first.
      for (const value of args.encoder) {
        const [name, spec] = encoderSpec(value);
        if (name in encoders)
          throw new InvalidArgumentError(
            `--encoder "${value}": the name "${name}" is used twice; give name=${value}`,
          );
        encoders[name] = spec;
      }
      if (args.adapter) {
        // The VLM's encoder and LLM default to the ones its adapter card records; that encoder is served too.
        const recorded = await adapterParts({
          adapter: args.adapter,
          encoder: args.encoder.length > 0 ? encoderSpec(args.encoder[0])[1] : undefined,
          llm: args.llm,
          dtype: args.dtype,
          json: true,
        });
        let encoderName =
          args.encoder.length > 0 ? encoderSpec(args.encoder[0])[0] : recorded.card.encoder.id;
        if (args.encoder.length === 0) {
          if (encoderName in encoders) encoderName = `${encoderName}-encoder`;
          encoders[encoderName] = recorded.encoder;
        }
        const name = args.name ?? path.basename(path.resolve(recorded.adapter));
        if (name in vlms || name in encoders) {
          throw new InvalidArgumentError(
            `the VLM's name "${name}" is used twice; give another with --name, or name the encoder with --encoder other=<dir>`,
          );
        }
        vlms[name] = { encoder: encoderName, adapter: recorded.adapter, llm: args.llm ?? recorded.llm };
      } else if (args.llm || args.name) {
        throw new InvalidArgumentError(`${args.llm ? "--llm" : "--name"} needs --adapter <dir>`);
      }
      if (Object.keys(encoders).length + Object.keys(vlms).length === 0) {
        throw new InvalidArgumentError(
          "nothing to serve: pass --encoder <id|dir>, --adapter <dir> (with --encoder and --llm when its card does not record them), or --config <file.json>",
        );
      }
      if (args.gallery && Object.keys(encoders).length === 0)
        throw new InvalidArgumentError("--gallery needs an --encoder to embed its images");
      const gallery = args.gallery ? new Gallery(args.gallery) : undefined;
      if (args.allowPrivateImageAddresses && !args.allowRemoteImages) {
        throw new InvalidArgumentError("--allow-private-image-addresses needs --allow-remote-images");
      }
      const limits: Partial<ServerLimits> = {
        maxBodyBytes: args.maxBodyBytes,
        maxImagesPerRequest: args.maxImages,
        maxImageBytes: args.maxImageBytes,
        maxImagePixels: args.maxImagePixels,
        maxRequestPixels: args.maxRequestPixels,
        encoderConcurrency: args.concurrency,
        maxQueuedJobs: args.queueSize,
        requestTimeoutMs: args.timeoutMs,
        streamWriteTimeoutMs: args.streamWriteTimeoutMs,
        socketIdleTimeoutMs: args.idleTimeoutMs,
        maxConnections: args.maxConnections,
      };

      if (!(LOG_FORMATS as readonly string[]).includes(args.logFormat)) {
        throw new InvalidArgumentError(
          `--log-format "${args.logFormat}"; expected ${LOG_FORMATS.join(", ")}`,
        );
      }
      const logger = createLogger({ level: args.logLevel, format: args.logFormat as LogFormat });
      // GPU-fallback warnings come out as log lines, in the log's format.
      const restoreWarnings = logWarnings(logger);
      const models = new ServedModels();
      const { app, context } = createApp({
        models,
        gallery,
        limits,
        apiKey,
        host: args.host,
        allowedHosts: args.allowedHosts,
        allowedOrigins: args.allowedOrigins,
        allowRemoteImages: args.allowRemoteImages ?? false,
        allowPrivateImageAddresses: args.allowPrivateImageAddresses ?? false,
        logger,
        metrics: createMetrics({ processMetrics: true }),
      });
      // Listen first so /health can answer 503 while the models load.
      const running = await listen(app, { host: args.host, port: args.port, limits: context.limits });
      logger.info(
        {
          url: running.url,
          host: running.host,
          port: running.port,
          page: `${running.url}/`,
          routes: routeList(app),
        },
        "listening",
      );

      const lifecycle = new ServerLifecycle(running, models, {
        logger,
        drainTimeoutMs: args.drainTimeoutMs,
      });
      const stopped = lifecycle.stopOnSignals();

      try {
        await models.loading(async () => {
          await models.addEncoders(encoders, {
            // A server never spins while it waits (docs/runtime.md): spinning threads turn a busy
            // machine's oversubscription into a collapse.
            siglip: { dtype, threads: args.threads, allowSpinning: false },
            resolveDir: (spec) => resolveModelDir(spec, { dtype }),
          });
          const parts: Record<string, VlmParts> = {};
          for (const [name, v] of Object.entries(vlms)) {
            parts[name] = {
              encoder: models.encoder(v.encoder).dir,
              adapter: v.adapter,
              llm: await llmPath(v.llm, { json: true }),
            };
          }
          await loadVlms(models, parts, {
            encoder: { dtype, threads: args.threads, allowSpinning: false },
            llm: {
              sequences: args.parallel,
              contextSize: args.ctx,
              batchSize: args.batchSize,
              gpuLayers: args.gpuLayers,
              threads: args.threads,
              maxQueue: args.queueSize ?? DEFAULT_LIMITS.maxQueuedJobs,
            },
          });
          await gallery?.embed(models.servedEncoders(), context.limits);
        });
        logger.info({ models: models.list().map((m) => m.id) }, "ready");
      } catch (error) {
        // A shutdown that began while loading wins; otherwise a model that cannot load stops the server.
        if (lifecycle.stopping) return void (await lifecycle.stopping);
        await lifecycle.stop("load-failure");
        throw error;
      }
      const drained = await stopped;
      restoreWarnings();
      if (!drained) process.exitCode = 1;
    });
}
