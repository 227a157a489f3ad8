/** Shared setup for the server tests: a tiny SigLIP written to a temp dir, PNG images, JSON requests. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import type { Hono } from "hono";
import { pino } from "pino";
import sharp from "sharp";
import type { AppEnv } from "../../src/server/context.js";
import { writeTinySiglip } from "../../src/tiny/siglip.js";

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Writes a tiny fixed-resolution SigLIP (32 px, 32 wide) and points the logit-param cache at `root`. */
export async function tinyEncoder(root: string, variant: "siglip" | "siglip2" | "siglip2-naflex" = "siglip") {
  process.env.VLMKIT_CACHE = path.join(root, "cache");
  const dir = path.join(root, variant);
  await writeTinySiglip(dir, { variant, seed: 3 });
  return dir;
}

export async function pngBase64(width = 40, height = 30, rgb = { r: 200, g: 30, b: 10 }): Promise<string> {
  const png = await sharp({ create: { width, height, channels: 3, background: rgb } })
    .png()
    .toBuffer();
  return png.toString("base64");
}

/** Random pixels compress badly, so the PNG is large: for byte-limit tests. */
export async function noisyPng(width: number, height: number): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
  return sharp(data, { raw: { width, height, channels: 3 } })
    .png({ compressionLevel: 0 })
    .toBuffer();
}

export interface JsonReply {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: test responses are inspected field by field
  body: any;
}

/** A response body as JSON, typed loosely for field-by-field assertions. */
export async function json(res: Response): Promise<JsonReply["body"]> {
  return res.json();
}

export async function post(
  app: Hono<AppEnv>,
  route: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<JsonReply> {
  const res = await app.request(route, {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: { "content-type": "application/json", ...headers },
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

/** A pino logger whose JSON lines land in `lines` (to assert the one-line-per-request log). */
export function captureLogger() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split("\n")) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: "info" }, sink), lines };
}
