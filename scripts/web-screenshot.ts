/**
 * Takes docs/images/web-chat.png: `vlmkit serve`'s web page in headless Chromium, chatting with the
 * trained demo VLM (adapters/shapes on models/demo) about an example image.
 *
 *   node --import tsx scripts/web-screenshot.ts
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createApp } from "../src/server/app.js";
import { Gallery } from "../src/server/gallery.js";
import { DEFAULT_LIMITS } from "../src/server/limits.js";
import { listen } from "../src/server/listen.js";
import { loadVlms } from "../src/server/load-vlms.js";
import { createLogger } from "../src/server/logging.js";
import { ServedModels } from "../src/server/models.js";
import { writeFileAtomic } from "../src/util/fs.js";
import { launchBrowser } from "../test/helpers/browser.js";

const ROOT = path.join(import.meta.dirname, "..");
const DEMO = path.join(ROOT, "models", "demo");
const EXAMPLES = path.join(ROOT, "examples", "images");
const OUT = path.join(ROOT, "docs", "images", "web-chat.png");

process.env.VLMKIT_CACHE = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-shot-"));
const models = new ServedModels();
await models.loading(async () => {
  await models.addEncoders({ siglip2: path.join(DEMO, "siglip2"), siglip: path.join(DEMO, "siglip") });
  await loadVlms(models, {
    shapes: {
      encoder: path.join(DEMO, "siglip2"),
      adapter: path.join(ROOT, "adapters", "shapes"),
      llm: path.join(DEMO, "shapes", "gemma3.gguf"),
    },
  });
});
const gallery = new Gallery(EXAMPLES);
await gallery.embed(models.servedEncoders(), DEFAULT_LIMITS);
const { app } = createApp({ models, gallery, apiKey: false, logger: createLogger({ level: "warn" }) });
const server = await listen(app, { port: 0 });
const browser = await launchBrowser();
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 960, height: 480, deviceScaleFactor: 1 });
  await page.goto(`${server.url}/`);
  await page.waitForFunction("document.querySelectorAll('#chat-model option').length > 0");
  const upload = async (file: string) => {
    const input = await page.$("#chat-files");
    // biome-ignore lint/suspicious/noExplicitAny: a file input handle
    await (input as any).uploadFile(path.join(EXAMPLES, file));
    await page.waitForFunction("document.querySelectorAll('#chat-pending img').length > 0");
  };
  await upload("blue-square.png");
  await page.type("#chat-input", "what color is the shape?");
  await page.click("#chat-send");
  await page.waitForFunction(
    "document.querySelectorAll('#chat-log .msg.assistant:not(.streaming)').length === 1",
    { timeout: 60_000 },
  );
  await writeFileAtomic(OUT, await page.screenshot({ type: "png" }));
  console.log(`wrote ${path.relative(ROOT, OUT)}`);
} finally {
  await browser.close();
  await server.close(1000);
  await models.dispose();
}
