/**
 * Warnings about a degraded setup (a GPU provider or build that is missing, so work falls back to the
 * CPU): each said once per process, on stderr by default; a server redirects them to its logger.
 */
const said = new Set<string>();

let sink = (message: string): void => {
  process.stderr.write(`vlmkit: warning: ${message}\n`);
};

/** Says `message` unless a warning with this `key` was said already in this process. */
export function warnOnce(key: string, message: string): void {
  if (said.has(key)) return;
  said.add(key);
  sink(message);
}

/** Sends the warnings elsewhere; returns the previous sink. */
export function setWarningSink(next: (message: string) => void): (message: string) => void {
  const previous = sink;
  sink = next;
  return previous;
}
