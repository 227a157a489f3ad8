// The web page at `/` in real headless Chromium against a listening server with an API key: the
// trained demo VLM (adapters/shapes, answers colours), two encoders side by side, and a gallery.
// Nothing is stubbed: the page calls the public HTTP API as a user's browser would.
import fs from "node:fs";
import path from "node:path";
import type { Browser, Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/server/app.js";
import { Gallery } from "../../src/server/gallery.js";
import { DEFAULT_LIMITS } from "../../src/server/limits.js";
import { listen, type RunningServer } from "../../src/server/listen.js";
import { loadVlms } from "../../src/server/load-vlms.js";
import { ServedModels } from "../../src/server/models.js";
import { launchBrowser, openPage } from "../helpers/browser.js";
import { captureLogger, tempDir } from "./helpers.js";

// Browser globals, used only inside callbacks that run in the page (this project compiles without the
// DOM library, so they are declared loosely here).
// biome-ignore lint/suspicious/noExplicitAny: page-side values, checked by the assertions
type Dom = any;
declare const document: Dom, window: Dom, localStorage: Dom, DataTransfer: Dom, DragEvent: Dom;
declare const ClipboardEvent: Dom;

const ROOT = path.join(import.meta.dirname, "..", "..");
const DEMO = path.join(ROOT, "models", "demo");
const EXAMPLES = path.join(ROOT, "examples", "images");
const KEY = "web-test-key";
let models: ServedModels;
let running: RunningServer;
let browser: Browser;

beforeAll(async () => {
  process.env.VLMKIT_CACHE = path.join(tempDir("vlmkit-web-"), "cache");
  models = new ServedModels();
  await models.loading(async () => {
    await models.addEncoders(
      { siglip2: path.join(DEMO, "siglip2"), siglip: path.join(DEMO, "siglip") },
      { siglip: { threads: 1 } },
    );
    await loadVlms(
      models,
      {
        shapes: {
          encoder: path.join(DEMO, "siglip2"),
          adapter: path.join(ROOT, "adapters", "shapes"),
          llm: path.join(DEMO, "shapes", "gemma3.gguf"),
        },
        // Random weights: it talks until max_tokens, long enough to be stopped.
        rambler: {
          encoder: path.join(DEMO, "siglip2-naflex"),
          adapter: path.join(DEMO, "adapter-chat"),
          llm: path.join(DEMO, "gemma3.gguf"),
        },
      },
      { llm: { gpu: false, contextSize: 4096, sequences: 2, threads: 1 }, encoder: { threads: 1 } },
    );
  });
  const gallery = new Gallery(EXAMPLES);
  await gallery.embed(models.servedEncoders(), DEFAULT_LIMITS);
  const { app } = createApp({ models, gallery, apiKey: KEY, logger: captureLogger().logger });
  running = await listen(app, { port: 0 });
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await running?.close(1000);
  await models?.dispose();
});

const text = (page: Page, selector: string) => page.$eval(selector, (el) => el.textContent ?? "");

/** Drops `file` on `selector` as a user's drag-and-drop does (a DataTransfer holding the file). */
async function drop(page: Page, selector: string, file: string, event: "drop" | "paste" = "drop") {
  const b64 = fs.readFileSync(file).toString("base64");
  await page.evaluate(
    (selector, b64, name, event) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const data = new DataTransfer();
      data.items.add(new File([bytes], name, { type: "image/png" }));
      const target = document.querySelector(selector)!;
      const e =
        event === "drop"
          ? new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true })
          : new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true });
      target.dispatchEvent(e);
    },
    selector,
    b64,
    path.basename(file),
    event,
  );
}

describe("the web page", () => {
  it("asks for the API key, then chats about a dropped image with a streamed answer", async () => {
    const { page, errors } = await openPage(browser);
    await page.goto(`${running.url}/`);
    // Without the key, /v1/models answers 401 and the page says what to do.
    await page.waitForSelector("#notice:not([hidden])");
    expect(await text(page, "#notice")).toMatch(/needs an API key/);
    expect(errors.every((e) => /status of 401/.test(e))).toBe(true);
    errors.length = 0;

    await page.type("#api-key", KEY);
    await page.$eval("#api-key", (el) => el.dispatchEvent(new Event("change")));
    await page.waitForFunction(() => document.querySelectorAll("#chat-model option").length > 0);
    expect(await page.$$eval("#chat-model option", (o) => o.map((x) => x.textContent))).toEqual([
      "shapes",
      "rambler",
    ]);

    // Two images in (one dropped, one pasted), the pasted one removed again by clicking it.
    await drop(page, "#chat-form", path.join(EXAMPLES, "blue-square.png"));
    await page.focus("#chat-input");
    await drop(page, "#chat-input", path.join(EXAMPLES, "red-circle.png"), "paste");
    await page.waitForFunction(() => document.querySelectorAll("#chat-pending img").length === 2);
    await page.click("#chat-pending img:nth-child(2)");
    expect(await page.$$eval("#chat-pending img", (i) => i.length)).toBe(1);

    // The answer arrives as server-sent events from the OpenAI route.
    const streamed = page.waitForResponse((r) => r.url().endsWith("/v1/chat/completions"));
    await page.type("#chat-input", "what color is the shape?");
    await page.click("#chat-send");
    const response = await streamed;
    expect(JSON.parse(response.request().postData()!)).toMatchObject({ model: "shapes", stream: true });
    expect(response.headers()["content-type"]).toMatch(/^text\/event-stream/);
    await page.waitForFunction(
      () => document.querySelectorAll("#chat-log .msg.assistant:not(.streaming)").length === 1,
      { timeout: 60_000 },
    );
    expect((await text(page, "#chat-log .msg.assistant .body")).trim()).toBe("blue");
    expect(await page.$$eval("#chat-log .msg.user img", (i) => i.length)).toBe(1);
    expect(await page.$eval("#chat-stop", (b: Dom) => b.hidden)).toBe(true);

    // The conversation survives a reload (localStorage), image included.
    await page.reload();
    await page.waitForFunction(() => document.querySelectorAll("#chat-log .msg").length === 2);
    expect((await text(page, "#chat-log .msg.assistant .body")).trim()).toBe("blue");
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it("stops a streaming answer with the stop button, keeping what arrived", async () => {
    const { page, errors } = await openPage(browser);
    await page.evaluateOnNewDocument((key) => localStorage.setItem("vlmkit.apiKey", key), KEY);
    await page.goto(`${running.url}/`);
    await page.waitForFunction(() => document.querySelectorAll("#chat-model option").length === 2);
    await page.select("#chat-model", "rambler");
    await page.$eval("#chat-max-tokens", (el: Dom) => {
      el.value = "4000"; // a few seconds of decoding
    });
    await page.type("#chat-input", "tell me a long story");
    await page.click("#chat-send");
    await page.waitForFunction(
      () => (document.querySelector("#chat-log .msg.streaming .body")?.textContent ?? "").length > 0,
      { polling: "mutation", timeout: 60_000 },
    );
    await page.$eval("#chat-stop", (b: Dom) => {
      if (b.hidden) throw new Error("the answer ended before the stop button was pressed");
      b.click();
    });
    await page.waitForFunction(() => document.querySelectorAll("#chat-log .msg.streaming").length === 0);
    expect(await page.$eval("#chat-send", (b: Dom) => b.hidden)).toBe(false);
    expect(await page.$$eval("#chat-log .msg.error", (m) => m.length)).toBe(0);
    const kept = await page.evaluate(() => JSON.parse(localStorage.getItem("vlmkit.chat")).messages);
    expect(kept.map((m: { role: string }) => m.role)).toEqual(["user", "assistant"]);
    expect(kept[1].text.length).toBeGreaterThan(0);
    // The server stopped generating when the page let go of the stream.
    await expect
      .poll(() => models.engineLoads().reduce((n, l) => n + l.active + l.queued, 0), { timeout: 10_000 })
      .toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);

  it("shows user text and stored model text as text, never as HTML", async () => {
    const { page, errors } = await openPage(browser);
    const payload = '<img src=x onerror="window.__xss=1">';
    await page.evaluateOnNewDocument(
      (key, payload) => {
        localStorage.setItem("vlmkit.apiKey", key);
        // A model answer as the page stores it: rendered through the same function as streamed text.
        localStorage.setItem(
          "vlmkit.chat",
          JSON.stringify({
            model: "shapes",
            messages: [
              { role: "user", text: payload, images: [] },
              { role: "assistant", text: `**bold** ${payload} [x](javascript:alert(1))` },
            ],
          }),
        );
      },
      KEY,
      payload,
    );
    await page.goto(`${running.url}/`);
    await page.waitForFunction(() => document.querySelectorAll("#chat-log .msg").length === 2);
    expect(await text(page, "#chat-log .msg.user .body")).toBe(payload);
    expect(await text(page, "#chat-log .msg.assistant .body")).toContain(payload);
    expect(await page.$$eval("#chat-log .body img", (i) => i.length)).toBe(0);
    expect(await page.$eval("#chat-log .msg.assistant strong", (b) => b.textContent)).toBe("bold");
    expect(await page.$$eval("#chat-log a", (a) => a.length)).toBe(0); // javascript: links are not linked
    expect(await page.evaluate(() => (window as { __xss?: number }).__xss)).toBeUndefined();
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it("classifies with two encoders side by side as score bars", async () => {
    const { page, errors } = await openPage(browser);
    await page.evaluateOnNewDocument((key) => localStorage.setItem("vlmkit.apiKey", key), KEY);
    await page.goto(`${running.url}/`);
    await page.click('[data-tab="classify"]');
    await page.waitForFunction(() => document.querySelectorAll("#classify-a option").length === 2);
    const input = await page.$<Dom>("#classify-file");
    await input!.uploadFile(path.join(EXAMPLES, "green-triangle.png"));
    await page.waitForSelector("#classify-preview:not([hidden])");
    await page.click("#classify-run");
    await page.waitForFunction(() => document.querySelectorAll("#classify-results .column").length === 2);
    const columns = await page.$$eval("#classify-results .column", (cols) =>
      cols.map((c) => ({
        title: c.querySelector("h3")!.textContent,
        labels: [...c.querySelectorAll(".label")].map((l: Dom) => l.textContent).sort(),
        bars: c.querySelectorAll(".bar").length,
      })),
    );
    const labels = ["a blue square", "a green triangle", "a red circle"];
    expect(columns).toEqual([
      { title: "siglip2", labels, bars: 3 },
      { title: "siglip", labels, bars: 3 },
    ]);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it("searches the gallery by text and shows the images", async () => {
    const { page, errors } = await openPage(browser);
    await page.evaluateOnNewDocument((key) => localStorage.setItem("vlmkit.apiKey", key), KEY);
    await page.goto(`${running.url}/`);
    await page.click('[data-tab="search"]');
    await page.waitForFunction(() =>
      /holds 3 images/.test(document.getElementById("search-info")!.textContent!),
    );
    await page.type("#search-query", "a blue square");
    await page.click("#search-form button[type=submit]");
    await page.waitForFunction(
      () =>
        document.querySelectorAll("#search-results img").length === 3 &&
        [...document.querySelectorAll("#search-results img")].every(
          (i: Dom) => i.complete && i.naturalWidth > 0,
        ),
    );
    const names = await page.$$eval("#search-results .name", (n) => n.map((x) => x.textContent).sort());
    expect(names).toEqual(["blue-square.png", "green-triangle.png", "red-circle.png"]);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});
