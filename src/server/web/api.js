// The page's only way to the server: the public HTTP API, with the API key (if any) as a Bearer token.
const KEY = "vlmkit.apiKey";

export const apiKey = {
  get: () => localStorage.getItem(KEY) ?? "",
  set: (key) => (key ? localStorage.setItem(KEY, key) : localStorage.removeItem(KEY)),
};

/** An HTTP error carrying the server's message and status. */
export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/** fetch() against the API: JSON bodies, the key, errors as ApiError with the server's message. */
export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = {};
  const key = apiKey.get();
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      const json = await res.json();
      message = json.error?.message ?? json.error ?? message;
    } catch {}
    throw new ApiError(message, res.status);
  }
  return res;
}

export const getJson = async (path) => (await api(path)).json();
export const postJson = async (path, body) => (await api(path, { method: "POST", body })).json();

/** The `data:` payloads of a server-sent-events response, parsed as JSON, until `[DONE]`. */
export async function* sseData(res) {
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        const data = line.slice(6);
        if (data === "[DONE]") return;
        yield JSON.parse(data);
      }
      end = buffer.indexOf("\n\n");
    }
  }
}
