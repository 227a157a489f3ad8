/**
 * One AbortSignal per request that fires when the client goes away or the request deadline passes.
 * Work below (queue waits, image downloads, generation) takes it, so abandoned requests stop costing.
 */
import type { MiddlewareHandler } from "hono";
import { AbortError, VlmkitError } from "../errors.js";
import type { AppEnv } from "./context.js";
import type { ServerLimits } from "./limits.js";

export function requestSignal(
  limits: Pick<ServerLimits, "requestTimeoutMs" | "streamWriteTimeoutMs">,
): MiddlewareHandler<AppEnv> {
  const timeoutMs = limits.requestTimeoutMs;
  return async (c, next) => {
    c.set("streamWriteTimeoutMs", limits.streamWriteTimeoutMs);
    const controller = new AbortController();
    const timer = setTimeout(() => {
      controller.abort(
        new VlmkitError(
          "TIMEOUT",
          `request took longer than ${timeoutMs} ms (the server's request timeout)`,
          {
            details: { timeoutMs },
          },
        ),
      );
    }, timeoutMs);
    timer.unref();
    const clientSignal = c.req.raw.signal;
    const onClientAbort = () => controller.abort(new AbortError("the client closed the connection"));
    if (clientSignal.aborted) onClientAbort();
    else clientSignal.addEventListener("abort", onClientAbort, { once: true });
    const release = () => {
      clearTimeout(timer);
      clientSignal.removeEventListener("abort", onClientAbort);
    };
    let held = false;
    c.set("signal", controller.signal);
    c.set("holdSignal", () => {
      held = true;
      return release;
    });
    try {
      await next();
    } finally {
      if (!held) release();
    }
  };
}

/** Resolves with `work`, or rejects with the signal's reason as soon as it fires (work that cannot be interrupted is left to finish). */
export function raceSignal<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
