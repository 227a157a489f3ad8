/**
 * One error hierarchy for the whole toolkit. Every error carries a stable `code`; the HTTP layer maps
 * codes to statuses in one place (`src/server/errors.ts`), the CLI prints `message` and exits non-zero.
 * Messages quote the offending value and say what was expected.
 */
export type ErrorCode =
  // input given by a caller (HTTP 400)
  | "INVALID_ARGUMENT"
  | "IMAGE_EMPTY"
  | "IMAGE_CORRUPT"
  | "IMAGE_UNSUPPORTED"
  | "IMAGE_TOO_LARGE"
  | "IMAGE_SOURCE_NOT_ALLOWED"
  | "IMAGE_FETCH_FAILED"
  | "PROMPT_MISMATCH"
  | "CONTEXT_OVERFLOW"
  | "DATASET_INVALID"
  // training
  | "CHECKPOINT_MISMATCH"
  | "CHECKPOINT_NOT_FOUND"
  // files on disk that do not fit what was expected (HTTP 500 when serving)
  | "MODEL_FORMAT"
  | "MODEL_INCOMPATIBLE"
  | "CONFIG_INVALID"
  | "SHAPE_MISMATCH"
  // hub
  | "NOT_FOUND"
  | "HUB_UNAUTHORIZED"
  | "HUB_OFFLINE"
  | "HUB_DOWNLOAD_FAILED"
  | "INTEGRITY_MISMATCH"
  // files vlmkit writes (disk full, read-only, no permission)
  | "WRITE_FAILED"
  // runtime
  | "DISPOSED"
  | "ABORTED"
  | "TIMEOUT"
  | "BUSY"
  | "NATIVE"
  | "INTERNAL"
  // HTTP layer
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "PAYLOAD_TOO_LARGE"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "UNAVAILABLE";

export interface VlmkitErrorOptions {
  cause?: unknown;
  /** Machine-readable context (field name, limits, offending value). */
  details?: Record<string, unknown>;
}

export class VlmkitError extends Error {
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: VlmkitErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details;
  }
}

/** A caller passed a value that cannot be used (wrong type, out of range, unknown name). */
export class InvalidArgumentError extends VlmkitError {
  constructor(message: string, options: VlmkitErrorOptions = {}) {
    super("INVALID_ARGUMENT", message, options);
  }
}

/** An image could not be read, decoded, or was refused by a limit or policy. */
export class ImageError extends VlmkitError {}

/** A model, config or adapter file does not have the layout vlmkit expects. */
export class ModelFormatError extends VlmkitError {
  constructor(message: string, options: VlmkitErrorOptions = {}) {
    super("MODEL_FORMAT", message, options);
  }
}

/** Two parts that must agree (encoder, adapter, LLM) do not. */
export class IncompatibleModelError extends VlmkitError {
  constructor(message: string, options: VlmkitErrorOptions = {}) {
    super("MODEL_INCOMPATIBLE", message, options);
  }
}

/** A tensor arrived with dimensions other than the ones required; the message holds both. */
export class ShapeError extends VlmkitError {
  constructor(message: string, options: VlmkitErrorOptions = {}) {
    super("SHAPE_MISMATCH", message, options);
  }
}

/** A training dataset, or one of its rows, cannot be used; `details.line` names the row when there is one. */
export class DatasetError extends VlmkitError {
  constructor(message: string, options: VlmkitErrorOptions = {}) {
    super("DATASET_INVALID", message, options);
  }
}

/** No usable checkpoint to resume from, or one written for another dataset, model or settings. */
export class CheckpointError extends VlmkitError {}

/** Download and cache problems: offline, unauthorized, missing file, integrity. */
export class HubError extends VlmkitError {}

/** The request was cancelled through an AbortSignal. */
export class AbortError extends VlmkitError {
  constructor(message = "the operation was aborted", options: VlmkitErrorOptions = {}) {
    super("ABORTED", message, options);
  }
}

/** A handle (model, context, session) was used after dispose(). */
export class DisposedError extends VlmkitError {
  constructor(what: string) {
    super("DISPOSED", `${what} has been disposed`);
  }
}

export function isVlmkitError(error: unknown): error is VlmkitError {
  return error instanceof VlmkitError;
}

/** Throws AbortError when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
}

/**
 * A value from a file or request, quoted for an error message: JSON, cut to `max` characters. Never
 * throws — a value nested too deeply to stringify (or a cyclic one) is named instead of quoted.
 */
export function quoteValue(value: unknown, max = 80): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    return Array.isArray(value) ? "[a deeply nested array]" : "{a deeply nested value}";
  }
  if (text === undefined) return String(value);
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
}
