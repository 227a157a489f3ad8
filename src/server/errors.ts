/**
 * Errors in one place: every failure becomes a VlmkitError, its stable `code` picks the HTTP status, and
 * the route family picks the body format — OpenAI `{"error":{message,type,param,code}}` under `/v1/`,
 * Ollama `{"error":"…"}` under `/api/`.
 */
import type { Context, Env } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { AbortError, type ErrorCode, isVlmkitError, VlmkitError } from "../errors.js";

/** Non-standard but widely understood (nginx): the client closed the connection before the answer. */
export const CLIENT_CLOSED_REQUEST = 499;

const STATUS: Partial<Record<ErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  IMAGE_EMPTY: 400,
  IMAGE_CORRUPT: 400,
  IMAGE_UNSUPPORTED: 400,
  IMAGE_FETCH_FAILED: 400,
  PROMPT_MISMATCH: 400,
  CONTEXT_OVERFLOW: 400,
  DATASET_INVALID: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  IMAGE_SOURCE_NOT_ALLOWED: 403,
  NOT_FOUND: 404,
  TIMEOUT: 408,
  IMAGE_TOO_LARGE: 413,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  BUSY: 429,
  ABORTED: CLIENT_CLOSED_REQUEST,
  UNAVAILABLE: 503,
};

/** HTTP status for an error code; codes about files, the runtime or bugs are the server's fault (500). */
export function statusForCode(code: ErrorCode): number {
  return STATUS[code] ?? 500;
}

/** OpenAI's `error.type` family for a status. */
function openAiType(status: number): string {
  switch (status) {
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 429:
      return "rate_limit_error";
    case 408:
    case CLIENT_CLOSED_REQUEST:
      return "timeout_error";
    case 503:
      return "service_unavailable";
    default:
      return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

export type ErrorFamily = "openai" | "ollama";

/** `/api/*` speaks Ollama; everything else (`/v1/*`, `/health`, unknown paths) speaks OpenAI. */
export function errorFamily(path: string): ErrorFamily {
  return path === "/api" || path.startsWith("/api/") ? "ollama" : "openai";
}

/**
 * Any thrown value → VlmkitError. hono's HTTPExceptions (body limit, bearer auth) keep their status
 * through a code; unknown errors become INTERNAL with a message that does not leak internals.
 */
export function toVlmkitError(error: unknown, signal?: AbortSignal): VlmkitError {
  // Work cancelled by the request deadline or a client disconnect reports why the signal fired.
  if (signal?.aborted && isVlmkitError(signal.reason)) {
    if (!isVlmkitError(error) || error instanceof AbortError || error.code === "ABORTED")
      return signal.reason;
  }
  if (isVlmkitError(error)) return error;
  if (error instanceof HTTPException) {
    if (error.status === 413) {
      return new VlmkitError("PAYLOAD_TOO_LARGE", error.message || "request body is too large", {
        cause: error,
      });
    }
    if (error.status === 401) {
      return new VlmkitError(
        "UNAUTHORIZED",
        "missing or invalid API key: send `Authorization: Bearer <key>`",
        {
          cause: error,
        },
      );
    }
    if (error.getResponse().headers.get("WWW-Authenticate")?.includes("invalid_request")) {
      return new VlmkitError("INVALID_ARGUMENT", "malformed Authorization header: expected `Bearer <key>`", {
        cause: error,
        details: { param: "Authorization" },
      });
    }
    if (error.status < 500) {
      return new VlmkitError("INVALID_ARGUMENT", error.message || "bad request", { cause: error });
    }
  }
  return new VlmkitError("INTERNAL", "internal server error", { cause: error });
}

/** The JSON body of an error in the family's format. */
export function errorBody(error: VlmkitError, family: ErrorFamily): Record<string, unknown> {
  if (family === "ollama") return { error: error.message };
  const param = typeof error.details?.param === "string" ? error.details.param : null;
  return {
    error: { message: error.message, type: openAiType(statusForCode(error.code)), param, code: error.code },
  };
}

/** Renders an error as the response for this request, keeping headers a middleware asked for. */
export function errorResponse<E extends Env>(c: Context<E>, error: VlmkitError): Response {
  const status = statusForCode(error.code) as ContentfulStatusCode;
  return c.json(errorBody(error, errorFamily(c.req.path)), status);
}

/** Extra response headers an HTTPException carried (WWW-Authenticate from bearer auth). */
export function exceptionHeaders(error: unknown): Headers | undefined {
  if (!(error instanceof HTTPException)) return undefined;
  const challenge = error.getResponse().headers.get("WWW-Authenticate");
  return challenge ? new Headers({ "WWW-Authenticate": challenge }) : undefined;
}
