import fs from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { InvalidArgumentError } from "../../errors.js";
import { parseOnnxDtype } from "../../hub/dtypes.js";
import { resolveModelDir } from "../../hub/index.js";
import { createApp, readApiKeyFile } from "../../server/app.js";
import { readServeConfig } from "../../server/config-file.js";
import { DEFAULT_DRAIN_TIMEOUT_MS, ServerLifecycle } from "../../server/lifecycle.js";
import { DEFAULT_HOST, DEFAULT_LIMITS, DEFAULT_PORT, type ServerLimits } from "../../server/limits.js";
import { listen } from "../../server/listen.js";
import { loadVlms, type VlmParts } from "../../server/load-vlms.js";
import { createLogger } from "../../server/logging.js";
import { createMetrics } from "../../server/metrics.js";
import { ServedModels } from "../../server/models.js";
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
  adapter?: string;
  llm?: string;
  name?: string;
  parallel: number;
  ctx: number;
  batchSize?: number;
  gpuLayers?: number;
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
      "HTTP API: OpenAI-style /v1/chat/completions, /v1/classify, /v1/images/embeddings, /v1/models; Ollama-style /api/chat, /api/generate, /api/tags; /health, /metrics",
    )
    .option("--host <host>", "interface to bind", DEFAULT_HOST)
    .option("--port <port>", "TCP port (0 picks a free one)", int("--port"), DEFAULT_PORT)
    .option(
      "--encoder <[name=]id|dir>",
      "encoder to serve (repeatable); named by the folder or id unless name= is given. With --adapter: the VLM's encoder",
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option(
      "--config <file.json>",
      'models by name: {"encoders": {name: id|dir}, "vlms": {name: {encoder, adapter, llm}}}',
    )
    .option("--adapter <dir>", "serve a VLM: this adapter on --encoder and --llm")
    .option("--llm <gguf|id|hf:uri>", "the VLM's LLM: a GGUF file, a known id, or an hf: URI")
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
    .action(async (args: ServeArgs) => {
      if (args.apiKey !== undefined && args.apiKeyFile !== undefined)
        throw new InvalidArgumentError("give the API key once: --api-key-file or --api-key, not both");
      const apiKey = args.apiKeyFile !== undefined ? readApiKeyFile(args.apiKeyFile) : args.apiKey;
      const dtype = parseOnnxDtype(args.dtype);
      const config = args.config ? readServeConfig(args.config) : { encoders: {}, vlms: {} };
      const encoders: Record<string, string> = { ...config.encoders };
      // Config VLMs name one of the config's encoders and reuse it; --adapter's VLM has its own.
      const vlms: Record<
        string,
        { encoder: { served: string } | { spec: string }; adapter: string; llm: string }
      > = {};
      for (const [name, entry] of Object.entries(config.vlms))
        vlms[name] = { ...entry, encoder: { served: entry.encoder } };
      if (args.adapter) {
        if (!args.llm) throw new InvalidArgumentError("--adapter needs --llm <gguf|id|hf:uri>");
        if (args.encoder.length !== 1) {
          throw new InvalidArgumentError(
            `--adapter needs exactly one --encoder (the VLM's), got ${args.encoder.length}`,
          );
        }
        const name = args.name ?? path.basename(path.resolve(args.adapter));
        if (name in vlms || name in encoders)
          throw new InvalidArgumentError(`--name "${name}": the name is used twice`);
        vlms[name] = {
          encoder: { spec: encoderSpec(args.encoder[0])[1] },
          adapter: args.adapter,
          llm: args.llm,
        };
      } else {
        if (args.llm || args.name)
          throw new InvalidArgumentError(`${args.llm ? "--llm" : "--name"} needs --adapter <dir>`);
        for (const value of args.encoder) {
          const [name, spec] = encoderSpec(value);
          if (name in encoders)
            throw new InvalidArgumentError(`--encoder "${value}": the name "${name}" is used twice`);
          encoders[name] = spec;
        }
      }
      if (Object.keys(encoders).length + Object.keys(vlms).length === 0) {
        throw new InvalidArgumentError(
          "nothing to serve: pass --encoder <id|dir>, --adapter <dir> --encoder <id|dir> --llm <gguf>, or --config <file.json>",
        );
      }
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

      const logger = createLogger({ level: args.logLevel });
      const models = new ServedModels();
      const { app, context } = createApp({
        models,
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
      logger.info({ url: running.url, host: running.host, port: running.port }, "listening");

      const lifecycle = new ServerLifecycle(running, models, {
        logger,
        drainTimeoutMs: args.drainTimeoutMs,
      });
      const stopped = lifecycle.stopOnSignals();

      try {
        await models.loading(async () => {
          await models.addEncoders(encoders, {
            siglip: { dtype, threads: args.threads },
            resolveDir: (spec) => resolveModelDir(spec, { dtype }),
          });
          const parts: Record<string, VlmParts> = {};
          for (const [name, v] of Object.entries(vlms)) {
            parts[name] = {
              encoder:
                "served" in v.encoder
                  ? models.encoder(v.encoder.served).dir
                  : await resolveModelDir(v.encoder.spec, { dtype }),
              adapter: v.adapter,
              llm: await llmPath(v.llm, { json: true }),
            };
          }
          await loadVlms(models, parts, {
            encoder: { dtype, threads: args.threads },
            llm: {
              sequences: args.parallel,
              contextSize: args.ctx,
              batchSize: args.batchSize,
              gpuLayers: args.gpuLayers,
              threads: args.threads,
              maxQueue: args.queueSize ?? DEFAULT_LIMITS.maxQueuedJobs,
            },
          });
        });
        logger.info({ models: models.list().map((m) => m.id) }, "ready");
      } catch (error) {
        // A shutdown that began while loading wins; otherwise a model that cannot load stops the server.
        if (lifecycle.stopping) return void (await lifecycle.stopping);
        await lifecycle.stop("load-failure");
        throw error;
      }
      const drained = await stopped;
      if (!drained) process.exitCode = 1;
    });
}
