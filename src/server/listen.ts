/**
 * Serves an app on a TCP port with @hono/node-server and shuts it down gracefully: stop accepting,
 * let in-flight requests finish (up to a deadline), then close what is left.
 */
import type { Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { Hono } from "hono";
import { VlmkitError } from "../errors.js";
import type { AppEnv } from "./context.js";
import { DEFAULT_HOST, DEFAULT_LIMITS, DEFAULT_PORT, type ServerLimits } from "./limits.js";

export interface ListenOptions {
  /** Interface to bind. Default 127.0.0.1: reachable from this machine only. */
  host?: string;
  /** TCP port; 0 picks a free one. Default 8080. */
  port?: number;
  /** The connection limits of the app's `ServerLimits` (`socketIdleTimeoutMs`, `maxConnections`). Default `DEFAULT_LIMITS`. */
  limits?: Pick<ServerLimits, "socketIdleTimeoutMs" | "maxConnections">;
}

export interface RunningServer {
  readonly server: Server;
  readonly host: string;
  readonly port: number;
  /** `http://host:port` (IPv6 hosts in brackets). */
  readonly url: string;
  /**
   * Stops accepting connections and waits for in-flight requests, at most `drainMs` (default 30 000).
   * Resolves true when everything finished, false when connections had to be cut.
   */
  close(drainMs?: number): Promise<boolean>;
}

export function listen(app: Hono<AppEnv>, options: ListenOptions = {}): Promise<RunningServer> {
  const host = options.host ?? DEFAULT_HOST;
  const port = options.port ?? DEFAULT_PORT;
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: host, port }) as Server;
    // Node's own bounds on receiving a request (not on answering it), set here rather than left to the
    // Node version's defaults: headers within 30 s, the whole request within 5 min. The app's
    // per-request deadline (`requestTimeoutMs`) covers reading the body too.
    server.headersTimeout = 30_000;
    server.requestTimeout = 300_000;
    let closing = false;
    // Once closing, a keep-alive connection closes as soon as its response ends (Node would keep it
    // open until its keep-alive timeout, holding up `close`).
    server.on("request", (_req, res: ServerResponse) =>
      res.once("close", () => {
        if (closing) server.closeIdleConnections();
      }),
    );
    // A socket with no traffic either way (an idle client, or one that stopped reading a large answer)
    // is closed; connections beyond the cap are closed as they arrive.
    const limits = options.limits ?? DEFAULT_LIMITS;
    server.timeout = limits.socketIdleTimeoutMs;
    server.maxConnections = limits.maxConnections;
    server.once("error", (cause: NodeJS.ErrnoException) => {
      const why = cause.code === "EADDRINUSE" ? "the port is in use" : cause.message;
      reject(new VlmkitError("INVALID_ARGUMENT", `cannot listen on ${host}:${port}: ${why}`, { cause }));
    });
    server.once("listening", () => {
      const bound = (server.address() as AddressInfo).port;
      const url = `http://${host.includes(":") ? `[${host}]` : host}:${bound}`;
      resolve({
        server,
        host,
        port: bound,
        url,
        close: (drainMs) => {
          closing = true;
          return closeGracefully(server, drainMs ?? 30_000);
        },
      });
    });
  });
}

function closeGracefully(server: Server, drainMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve(true);
    const deadline = setTimeout(() => {
      server.closeAllConnections();
      finish(false);
    }, drainMs);
    let done = false;
    const finish = (drained: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      resolve(drained);
    };
    server.close(() => finish(true));
    server.closeIdleConnections();
  });
}
