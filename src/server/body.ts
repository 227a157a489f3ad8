/** Reads a JSON request body and validates it; every failure is a 400 naming what was wrong. */
import type { Context } from "hono";
import type { z } from "zod";
import { InvalidArgumentError } from "../errors.js";
import type { AppEnv } from "./context.js";
import { raceSignal } from "./request-signal.js";
import { parseWith } from "./schemas/issues.js";

/** Parses the body as JSON (the request guard has already required `Content-Type: application/json`). */
export async function readJson(c: Context<AppEnv>): Promise<unknown> {
  // A client that trickles its body must not outlive the request deadline (408) or its own disconnect.
  const text = await raceSignal(c.req.text(), c.var.signal);
  if (text.trim() === "") {
    throw new InvalidArgumentError("request body is empty; expected a JSON object", {
      details: { param: "body" },
    });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new InvalidArgumentError(`request body is not valid JSON: ${(cause as Error).message}`, {
      cause,
      details: { param: "body" },
    });
  }
}

/** Reads and validates the body against a zod schema. */
export async function readBody<S extends z.ZodType>(c: Context<AppEnv>, schema: S): Promise<z.output<S>> {
  return parseWith(schema, await readJson(c));
}
