/**
 * The web page at `/`: plain HTML, CSS and JavaScript modules from `src/server/web/` (shipped in the
 * package, no build step, no CDN) and markdown-it's browser build from its package, under `/web/`.
 * The page only calls the public HTTP API. A strict Content-Security-Policy allows scripts, styles and
 * requests to this origin alone, so even injected markup could not run code.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Hono } from "hono";
import type { AppEnv } from "../context.js";

/** The page's files: `src/server/web/` at the package root, from source and from `dist/` alike. */
export const WEB_DIR = fileURLToPath(new URL("../../../src/server/web/", import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

const HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

/** Paths served without the API key: the page and its static files (they hold no data). */
export function isPublicWebPath(p: string): boolean {
  return p === "/" || p.startsWith("/web/");
}

/** name → file for every servable file: the web folder's own files, then markdown-it's browser build. */
function webFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const name of fs.readdirSync(WEB_DIR)) {
    if (path.extname(name) in TYPES) files.set(name, path.join(WEB_DIR, name));
  }
  const require = createRequire(import.meta.url);
  files.set("markdown-it.min.js", require.resolve("markdown-it/browser"));
  return files;
}

export function registerWebRoutes(app: Hono<AppEnv>): void {
  const files = webFiles();
  const cache = new Map<string, Buffer>();
  const send = async (name: string) => {
    const file = files.get(name);
    if (!file) return undefined;
    let bytes = cache.get(name);
    if (!bytes) {
      bytes = await fs.promises.readFile(file);
      cache.set(name, bytes);
    }
    const type = TYPES[path.extname(file)] ?? "application/octet-stream";
    return new Response(new Uint8Array(bytes), { headers: { ...HEADERS, "content-type": type } });
  };
  app.get("/", async (c) => (await send("index.html")) ?? c.notFound());
  app.get("/web/:name", async (c) => (await send(c.req.param("name"))) ?? c.notFound());
}
