/**
 * The soak's server process: the tiny demo models (two VLMs on one LLM, and a SigLIP 2 encoder)
 * behind `createApp` + `listen` on 127.0.0.1, with a 1 MiB body limit so that oversized bodies are
 * cheap to send. Prints one JSON line with its URL once listening; stops on SIGTERM.
 */
import { Writable } from "node:stream";
import { pino } from "pino";
import { createApp } from "../../src/server/app.js";
import { listen } from "../../src/server/listen.js";
import { demoModels } from "../server/demo.js";

const served = await demoModels({ sequences: 8 }, { encoder: true });
const logger = pino({ level: "warn" }, new Writable({ write: (_c, _e, done) => done() }));
const { app } = createApp({
  models: served.models,
  apiKey: false,
  logger,
  limits: { maxBodyBytes: 1 << 20 },
});
const running = await listen(app, { host: "127.0.0.1", port: 0 });
process.stdout.write(`${JSON.stringify({ url: running.url, pid: process.pid })}\n`);
process.once("SIGTERM", async () => {
  await running.close(5_000);
  await served.cleanup();
  process.exit(0);
});
