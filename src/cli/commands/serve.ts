import fs from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { InvalidArgumentError, VlmkitError } from "../../errors.js";
import { parseOnnxDtype } from "../../hub/dtypes.js";
import { resolveModelDir } from "../../hub/index.js";
import { createApp } from "../../server/app.js";
import { readServeConfig } from "../../server/config-file.js";
import { DEFAULT_HOST, DEFAULT_LIMITS, DEFAULT_PORT, type ServerLimits } from "../../server/limits.js";
import { listen } from "../../server/listen.js";
import { createLogger } from "../../server/logging.js";
import { createMetrics } from "../../server/metrics.js";
import { ServedModels } from "../../server/models.js";

interface ServeArgs {
  host: string;
  port: number;
  encoder: string[];
  config?: string;
  dtype: string;
  threads?: number;
  apiKey?: string;
  allowRemoteImages?: boolean;
  allowPrivateImageAddresses?: boolean;
  maxBodyBytes?: number;
  maxImages?: number;
  maxImageBytes?: number;
  maxImagePixels?: number;
  concurrency?: number;
  queueSize?: number;
  timeoutMs?: number;
  drainTimeoutMs: number;
  logLevel?: string;
}

function int(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < 0)
      throw new InvalidArgumentError(`${flag} "${value}": expected an integer ≥ 0`);
    return n;
  };
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
    .description("HTTP API: OpenAI-style /v1/classify, /v1/images/embeddings, /v1/models; /health, /metrics")
    .option("--host <host>", "interface to bind", DEFAULT_HOST)
    .option("--port <port>", "TCP port (0 picks a free one)", int("--port"), DEFAULT_PORT)
    .option(
      "--encoder <[name=]id|dir>",
      "encoder to serve (repeatable); named by the folder or id unless name= is given",
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option(
      "--config <file.json>",
      'models by name: {"encoders": {name: id|dir}, "vlms": {name: {encoder, adapter, llm}}}',
    )
    .option("--dtype <dtype>", "ONNX weight variant of the encoders", "fp32")
    .option("--threads <n>", "onnxruntime threads (default: physical cores)", int("--threads"))
    .option("--api-key <key>", "require `Authorization: Bearer <key>` (default: $VLMKIT_API_KEY)")
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
      "--concurrency <n>",
      `encoder jobs at once (default ${DEFAULT_LIMITS.encoderConcurrency})`,
      int("--concurrency"),
    )
    .option(
      "--queue-size <n>",
      `encoder jobs waiting before 429 (default ${DEFAULT_LIMITS.maxQueuedJobs})`,
      int("--queue-size"),
    )
    .option(
      "--timeout-ms <n>",
      `deadline per request (default ${DEFAULT_LIMITS.requestTimeoutMs})`,
      int("--timeout-ms"),
    )
    .option(
      "--drain-timeout-ms <n>",
      "on SIGTERM/SIGINT, how long in-flight requests may finish",
      int("--drain-timeout-ms"),
      30_000,
    )
    .option("--log-level <level>", "debug, info, warn, error or silent (default: $VLMKIT_LOG_LEVEL or info)")
    .action(async (args: ServeArgs) => {
      const dtype = parseOnnxDtype(args.dtype);
      const config = args.config ? readServeConfig(args.config) : { encoders: {}, vlms: {} };
      const encoders: Record<string, string> = { ...config.encoders };
      for (const value of args.encoder) {
        const [name, spec] = encoderSpec(value);
        if (name in encoders)
          throw new InvalidArgumentError(`--encoder "${value}": the name "${name}" is used twice`);
        encoders[name] = spec;
      }
      const vlmNames = Object.keys(config.vlms);
      if (vlmNames.length > 0) {
        throw new VlmkitError(
          "CONFIG_INVALID",
          `${args.config} lists vlms (${vlmNames.join(", ")}), but this version of vlmkit serve answers encoder routes only; remove "vlms" to serve the encoders`,
        );
      }
      if (Object.keys(encoders).length === 0) {
        throw new InvalidArgumentError("nothing to serve: pass --encoder <id|dir> or --config <file.json>");
      }
      if (args.allowPrivateImageAddresses && !args.allowRemoteImages) {
        throw new InvalidArgumentError("--allow-private-image-addresses needs --allow-remote-images");
      }
      const limits: Partial<ServerLimits> = {
        maxBodyBytes: args.maxBodyBytes,
        maxImagesPerRequest: args.maxImages,
        maxImageBytes: args.maxImageBytes,
        maxImagePixels: args.maxImagePixels,
        encoderConcurrency: args.concurrency,
        maxQueuedJobs: args.queueSize,
        requestTimeoutMs: args.timeoutMs,
      };

      const logger = createLogger({ level: args.logLevel });
      const models = new ServedModels();
      const { app } = createApp({
        models,
        limits,
        apiKey: args.apiKey,
        allowRemoteImages: args.allowRemoteImages ?? false,
        allowPrivateImageAddresses: args.allowPrivateImageAddresses ?? false,
        logger,
        metrics: createMetrics({ processMetrics: true }),
      });
      // Listen first so /health can answer 503 while the models load.
      const running = await listen(app, { host: args.host, port: args.port });
      logger.info({ url: running.url, host: running.host, port: running.port }, "listening");

      let stopping: Promise<boolean> | undefined;
      const stop = (signal: string) => {
        stopping ??= (async () => {
          logger.info({ signal, drainTimeoutMs: args.drainTimeoutMs }, "shutting down: draining requests");
          models.markDraining();
          const drained = await running.close(args.drainTimeoutMs);
          await models.dispose();
          if (drained) logger.info("stopped");
          else
            logger.warn(
              { drainTimeoutMs: args.drainTimeoutMs },
              "stopped: connections cut at the drain deadline",
            );
          return drained;
        })();
        return stopping;
      };
      const stopped = new Promise<boolean>((resolve) => {
        for (const signal of ["SIGTERM", "SIGINT"] as const)
          process.once(signal, () => resolve(stop(signal)));
      });

      try {
        await models.loadEncoders(encoders, {
          siglip: { dtype, threads: args.threads },
          resolveDir: (spec) => resolveModelDir(spec, { dtype }),
        });
        logger.info({ models: models.list().map((m) => m.id) }, "ready");
      } catch (error) {
        // A shutdown that began while loading wins; otherwise a model that cannot load stops the server.
        if (stopping) return void (await stopping);
        await stop("load-failure");
        throw error;
      }
      const drained = await stopped;
      if (!drained) process.exitCode = 1;
    });
}
