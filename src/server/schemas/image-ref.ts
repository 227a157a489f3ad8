/**
 * Image references in request bodies and the internal `ImageRef` they become. Accepted forms differ per
 * API: OpenAI sends URLs (`data:` or http(s)), Ollama sends bare base64, `/v1/classify` takes either.
 * Whether a remote URL may be fetched is decided later, by the image loader's policy.
 */
import { z } from "zod";

/** An image as the server will load it: a `data:` URL (bare base64 is wrapped) or an http(s) URL. */
export interface ImageRef {
  kind: "data" | "remote";
  url: string;
  /** Where it came from in the request, for error messages: "images[1]", "messages[0].content[2].image_url.url". */
  param: string;
}

const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;
const DATA_URL = /^data:[^,]*,/i;
const REMOTE_URL = /^https?:\/\//i;

function isDataUrl(s: string): boolean {
  if (!DATA_URL.test(s)) return false;
  const comma = s.indexOf(",");
  // A base64 payload must be base64; a percent-encoded one may hold anything.
  return !/;base64$/i.test(s.slice(5, comma)) || BASE64.test(s.slice(comma + 1).replace(/\s+/g, ""));
}

function isRemoteUrl(s: string): boolean {
  if (!REMOTE_URL.test(s)) return false;
  return URL.canParse(s);
}

function isBase64(s: string): boolean {
  return BASE64.test(s.replace(/\s+/g, ""));
}

/** `data:` URL or http(s) URL (OpenAI `image_url.url`). */
export const imageUrlString = z
  .string()
  .refine((s) => isDataUrl(s) || isRemoteUrl(s), { message: "expected a data: or http(s) URL" });

/** Bare base64 image bytes (Ollama `images`); a `data:` URL is accepted as well. */
export const base64ImageString = z
  .string()
  .refine((s) => isDataUrl(s) || isBase64(s), { message: "expected base64-encoded image bytes" });

/** Any of the above (`/v1/classify`, `/v1/images/embeddings`). */
export const anyImageString = z.string().refine((s) => isDataUrl(s) || isRemoteUrl(s) || isBase64(s), {
  message: "expected a data: URL, an http(s) URL or base64-encoded image bytes",
});

/** A validated image string → ImageRef; bare base64 becomes a `data:` URL so one loader reads all forms. */
export function toImageRef(value: string, param: string): ImageRef {
  if (REMOTE_URL.test(value)) return { kind: "remote", url: value, param };
  if (DATA_URL.test(value)) return { kind: "data", url: value, param };
  return { kind: "data", url: `data:application/octet-stream;base64,${value.replace(/\s+/g, "")}`, param };
}
