/**
 * Defences against web pages that talk to a local server through the user's browser (cross-site
 * request forgery, DNS rebinding), as Ollama added after CVE-2024-28224:
 * - without an API key, a server bound to a loopback or specific address answers only requests whose
 *   `Host` names a loopback address, the bound host, or an allow-listed host (a rebinding page's
 *   requests carry the attacker's host name);
 * - a request carrying an `Origin` header (browsers send it) is refused unless the origin's host is a
 *   loopback address, the origin is allow-listed, or it is the server's own page (the origin names the
 *   request's `Host`) and that `Host` was checked above or an API key is required — behind a wildcard
 *   bind without a key a rebinding page is "same-origin" too, so there the page works on loopback only;
 * - POST bodies must be `Content-Type: application/json`, which a page cannot send cross-origin
 *   without a CORS preflight (that this server never grants).
 * Clients outside browsers (curl, the `openai` and `ollama` libraries) send no `Origin` and pass.
 */
import net from "node:net";
import type { MiddlewareHandler } from "hono";
import { InvalidArgumentError, VlmkitError } from "../errors.js";
import type { AppEnv } from "./context.js";

export interface RequestGuardOptions {
  /** The interface the server binds (`--host`); its name is an accepted `Host`. Default "127.0.0.1". */
  boundHost?: string;
  /**
   * Extra `Host` names accepted when there is no API key (`--allowed-hosts`), without port; "*"
   * accepts any. Default none. Checked only for loopback or specific binds: a wildcard bind
   * (0.0.0.0, ::) is reached under any name of the machine.
   */
  allowedHosts?: readonly string[];
  /** Extra origins accepted (`--allowed-origins`), e.g. "https://app.example"; "*" accepts any. Default none. */
  allowedOrigins?: readonly string[];
  /** An API key is required: the `Host` check is off (a rebinding page does not have the key). Default false. */
  authenticated?: boolean;
}

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "::1"]);
const WILDCARD_BINDS = new Set(["0.0.0.0", "::"]);

/**
 * Lower-cased host name without port, brackets or trailing dot; undefined when it cannot be parsed.
 * A bare IPv6 address (`::1`, as `--host` takes it) is read as itself, in canonical form.
 */
export function hostName(host: string): string | undefined {
  if (net.isIPv6(host)) host = `[${host}]`;
  try {
    const name = new URL(`http://${host}`).hostname.toLowerCase();
    return name.replace(/^\[(.*)\]$/, "$1").replace(/\.$/, "");
  } catch {
    return undefined;
  }
}

function isLoopback(name: string): boolean {
  return LOOPBACK_NAMES.has(name) || name.endsWith(".localhost") || /^127(\.\d{1,3}){3}$/.test(name);
}

/**
 * The bound interface as a host name: an IP address (IPv6 bare or in brackets) or a DNS name, without
 * port. Anything else throws INVALID_ARGUMENT rather than silently turning the Host check off.
 */
export function bindName(host: string): string {
  const bare = host.replace(/^\[(.*)\]$/, "$1");
  const name = net.isIP(bare) ? hostName(bare) : hostName(host);
  const plain = name !== undefined && (net.isIP(name) !== 0 || /^[a-z0-9.-]+$/.test(name));
  if (!plain || host.includes("/") || (net.isIP(bare) === 0 && host.includes(":"))) {
    throw new InvalidArgumentError(
      `${JSON.stringify(host)} cannot be used as a bind address: give an IPv4 or IPv6 address (e.g. 127.0.0.1, ::1) or a host name`,
      { details: { param: "host", host } },
    );
  }
  return name;
}

/** True for 0.0.0.0 and :: (in any spelling): the server is reached on every interface. */
export function isWildcardBind(host: string): boolean {
  return WILDCARD_BINDS.has(bindName(host));
}

export function requestGuard(options: RequestGuardOptions = {}): MiddlewareHandler<AppEnv> {
  const bound = bindName(options.boundHost ?? "127.0.0.1");
  const hosts = new Set((options.allowedHosts ?? []).map((h) => (h === "*" ? h : (hostName(h) ?? h))));
  const origins = new Set((options.allowedOrigins ?? []).map(normalizeOrigin));
  const checkHost = !options.authenticated && !WILDCARD_BINDS.has(bound) && !hosts.has("*");
  const named = ["localhost", "127.0.0.1", "[::1]", ...(isLoopback(bound) ? [] : [bound])].join(", ");

  return async (c, next) => {
    if (checkHost) {
      // In-process requests (app.request) carry no Host header; their URL holds it.
      const header = c.req.header("host") ?? new URL(c.req.url).host;
      const name = hostName(header);
      if (name === undefined || !(isLoopback(name) || name === bound || hosts.has(name))) {
        throw new VlmkitError(
          "FORBIDDEN",
          `Host ${JSON.stringify(header)} is not accepted: without an API key this server answers only ${named} or a host given with --allowed-hosts`,
          { details: { param: "Host", host: header } },
        );
      }
    }
    const origin = c.req.header("origin");
    const ownPage =
      (checkHost || options.authenticated === true) && isOwnOrigin(origin, c.req.header("host"));
    if (origin !== undefined && !ownPage && !originAllowed(origin, origins)) {
      throw new VlmkitError(
        "FORBIDDEN",
        `Origin ${JSON.stringify(origin)} is not accepted: only pages on localhost, 127.0.0.1 or [::1], or origins given with --allowed-origins, may call this server`,
        { details: { param: "Origin", origin } },
      );
    }
    if (c.req.method === "POST") {
      const type = c.req.header("content-type") ?? "";
      if (type.split(";")[0].trim().toLowerCase() !== "application/json") {
        throw new VlmkitError(
          "UNSUPPORTED_MEDIA_TYPE",
          `Content-Type ${JSON.stringify(type)} is not accepted; send the JSON body with \`Content-Type: application/json\``,
          { details: { param: "Content-Type", contentType: type } },
        );
      }
    }
    await next();
  };
}

function normalizeOrigin(origin: string): string {
  if (origin === "*") return origin;
  try {
    return new URL(origin).origin.toLowerCase();
  } catch {
    return origin.toLowerCase();
  }
}

function originAllowed(origin: string, allowed: ReadonlySet<string>): boolean {
  if (allowed.has("*")) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // "null" (sandboxed frames, file: pages) and garbage
  }
  if ((url.protocol === "http:" || url.protocol === "https:") && isLoopback(hostName(url.host) ?? ""))
    return true;
  return allowed.has(url.origin.toLowerCase());
}

/** The origin is http(s)://<the request's Host>: the server's own page (`/`) calling its API. */
function isOwnOrigin(origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined || host === undefined) return false;
  try {
    const url = new URL(origin);
    return (
      (url.protocol === "http:" || url.protocol === "https:") && url.host === new URL(`http://${host}`).host
    );
  } catch {
    return false;
  }
}
