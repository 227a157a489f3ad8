/** Hub options shared by every download call, with defaults from `hubConfig()` (the environment). */
import { readFileSync } from "node:fs";
import { hubConfig } from "../env.js";

export interface HubOptions {
  /** Hub base URL for `<endpoint>/<repo>/resolve/<rev>/<file>`. Default `$HF_ENDPOINT`, else https://huggingface.co. */
  endpoint?: string;
  /**
   * Bearer token for gated or private repos. Default `$HF_TOKEN`, else the file `$HF_HOME/token`.
   * Pass `false` to send none.
   */
  token?: string | false;
  /** Cache root. Default `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`. */
  cacheDir?: string;
  /** Never touch the network; serve from the cache or fail. Default `$HF_HUB_OFFLINE`. */
  offline?: boolean;
  /** Cancels requests and downloads in flight. */
  signal?: AbortSignal;
}

export interface HubSettings {
  endpoint: string;
  token: string | undefined;
  cacheDir: string;
  offline: boolean;
  signal: AbortSignal | undefined;
}

function readTokenFile(file: string): string | undefined {
  try {
    const text = readFileSync(file, "utf8").trim();
    return text === "" ? undefined : text;
  } catch {
    return undefined; // no token file is the common case
  }
}

export function resolveHubSettings(options: HubOptions = {}): HubSettings {
  const env = hubConfig();
  const token =
    options.token === false ? undefined : (options.token ?? env.token ?? readTokenFile(env.tokenFile));
  return {
    endpoint: (options.endpoint ?? env.endpoint).replace(/\/+$/, ""),
    token,
    cacheDir: options.cacheDir ?? env.cacheDir,
    offline: options.offline ?? env.offline,
    signal: options.signal,
  };
}
