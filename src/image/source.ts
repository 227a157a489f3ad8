/**
 * Turns an image source (bytes, file path, file: URL, data: URL, http(s) URL) into encoded bytes,
 * enforcing the source policy and the byte limit. Decoding happens elsewhere (`decode.ts`).
 */
import { readFile, stat } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { AbortError, ImageError } from "../errors.js";
import { fetchRemote } from "./remote.js";
import type { ImageSource, ResolvedLoadImageOptions } from "./types.js";

/** Encoded image bytes plus a short description of where they came from, for error messages. */
export interface EncodedImage {
  bytes: Uint8Array;
  /** "file /path", "data: URL", "host example.com" or "buffer"; never the data itself. */
  label: string;
}

const SCHEME = /^([a-z][a-z0-9+.-]+):/i;

export async function readSource(
  source: ImageSource,
  options: ResolvedLoadImageOptions,
): Promise<EncodedImage> {
  if (source instanceof Uint8Array) {
    checkSize(source.length, "buffer", options.maxBytes);
    return { bytes: source, label: "buffer" };
  }
  if (source instanceof URL) return readUrl(source, options);
  if (typeof source !== "string") {
    throw new ImageError(
      "IMAGE_UNSUPPORTED",
      `image source must be a path, URL, data: URL or Uint8Array, got ${typeof source}`,
    );
  }
  if (source.length === 0) throw new ImageError("IMAGE_EMPTY", "image source is an empty string");
  if (/^data:/i.test(source)) return { bytes: decodeDataUrl(source, options.maxBytes), label: "data: URL" };
  // Two or more letters before ":" is a scheme; a single letter could be a Windows drive.
  if (SCHEME.test(source)) {
    let url: URL;
    try {
      url = new URL(source);
    } catch (cause) {
      throw new ImageError(
        "IMAGE_FETCH_FAILED",
        `image URL ${JSON.stringify(truncate(source))} is not a valid URL`,
        {
          cause,
        },
      );
    }
    return readUrl(url, options);
  }
  return readLocalFile(source, options);
}

async function readUrl(url: URL, options: ResolvedLoadImageOptions): Promise<EncodedImage> {
  if (url.protocol === "data:")
    return { bytes: decodeDataUrl(url.href, options.maxBytes), label: "data: URL" };
  if (url.protocol === "file:") return readLocalFile(fileURLToPath(url), options);
  if (url.protocol === "http:" || url.protocol === "https:") {
    const label = `host ${url.host}`;
    if (!options.allowRemote) {
      throw new ImageError(
        "IMAGE_SOURCE_NOT_ALLOWED",
        `remote image from ${label} refused: http(s) URLs are not fetched here; download the image and pass its path (a server fetches them when started with --allow-remote-images; the library, with loadImage's allowRemote option)`,
        { details: { host: url.host } },
      );
    }
    const bytes = await fetchRemote(url, options);
    return { bytes, label };
  }
  throw new ImageError(
    "IMAGE_SOURCE_NOT_ALLOWED",
    `image URL scheme ${JSON.stringify(url.protocol)} is not supported; expected a path, data:, file:, http: or https:`,
  );
}

async function readLocalFile(path: string, options: ResolvedLoadImageOptions): Promise<EncodedImage> {
  const label = `file ${path}`;
  if (!options.allowLocalFiles) {
    throw new ImageError(
      "IMAGE_SOURCE_NOT_ALLOWED",
      `image ${label} refused: local files are disabled here; send the image as a data: URL or bytes`,
    );
  }
  if (options.signal?.aborted) throw new AbortError(undefined, { cause: options.signal.reason });
  let size: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new Error("not a regular file");
    size = info.size;
  } catch (cause) {
    const why =
      (cause as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (cause as Error).message;
    throw new ImageError("IMAGE_FETCH_FAILED", `cannot read image ${label}: ${why}`, {
      cause,
      details: { path },
    });
  }
  // Checked before reading so a huge file is never loaded into memory.
  checkSize(size, label, options.maxBytes);
  try {
    return { bytes: await readFile(path, { signal: options.signal }), label };
  } catch (cause) {
    if (options.signal?.aborted) throw new AbortError(undefined, { cause: options.signal.reason });
    throw new ImageError("IMAGE_FETCH_FAILED", `cannot read image ${label}: ${(cause as Error).message}`, {
      cause,
    });
  }
}

/** Decodes `data:[<mediatype>][;base64],<data>`; the size limit is checked before decoding. */
export function decodeDataUrl(url: string, maxBytes: number): Uint8Array {
  const comma = url.indexOf(",");
  if (comma < 0) {
    throw new ImageError("IMAGE_CORRUPT", "data: URL has no ',' separating the media type from the data");
  }
  const meta = url.slice(5, comma);
  const payload = url.slice(comma + 1);
  const isBase64 = /;base64$/i.test(meta);
  if (isBase64) {
    const b64 = payload.replace(/\s+/g, "");
    checkSize(Math.floor((b64.length * 3) / 4), "data: URL", maxBytes);
    // Buffer.from silently skips invalid characters; refuse them so garbage is reported as such.
    if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(b64)) {
      throw new ImageError("IMAGE_CORRUPT", "data: URL payload is not valid base64");
    }
    const bytes = Buffer.from(b64, "base64");
    if (bytes.length === 0) throw new ImageError("IMAGE_EMPTY", "data: URL holds no data");
    return bytes;
  }
  checkSize(payload.length, "data: URL", maxBytes);
  // Percent-escapes are bytes, not UTF-8 text, so decode them byte by byte.
  const bytes = percentDecode(payload);
  if (bytes.length === 0) throw new ImageError("IMAGE_EMPTY", "data: URL holds no data");
  return bytes;
}

function percentDecode(text: string): Buffer {
  const out = Buffer.alloc(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const hex = text[i] === "%" ? text.slice(i + 1, i + 3) : "";
    if (/^[0-9a-f]{2}$/i.test(hex)) {
      out[n++] = Number.parseInt(hex, 16);
      i += 2;
    } else {
      out[n++] = text.charCodeAt(i) & 0xff;
    }
  }
  return out.subarray(0, n);
}

function checkSize(size: number, label: string, maxBytes: number): void {
  if (size > maxBytes) {
    throw new ImageError(
      "IMAGE_TOO_LARGE",
      `image ${label} has ${size} bytes; the limit is maxBytes = ${maxBytes}`,
      {
        details: { size, maxBytes },
      },
    );
  }
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
