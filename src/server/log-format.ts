/**
 * The server's log lines for a person at a terminal: pino's JSON line turned into
 *
 *   10:30:01.234 INFO  request reqId=3 method=POST route=/v1/classify status=200 ms=41.2
 *
 * (time, level, message, then the other fields as key=value; an error's stack on the lines below).
 * Everything but a terminal gets the JSON lines themselves (`createLogger`).
 */

const LEVELS: Record<number, { name: string; color: string }> = {
  10: { name: "TRACE", color: "90" },
  20: { name: "DEBUG", color: "90" },
  30: { name: "INFO", color: "32" },
  40: { name: "WARN", color: "33" },
  50: { name: "ERROR", color: "31" },
  60: { name: "FATAL", color: "35" },
};

/** Fields every line has, shown in the prefix or not at all. */
const HIDDEN = new Set(["level", "time", "msg", "pid", "hostname", "service", "err"]);

export interface TextLogOptions {
  /** ANSI colours for the level. Default false. */
  color?: boolean;
}

function value(v: unknown): string {
  if (typeof v === "string") return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v.join(", ");
  return JSON.stringify(v);
}

function clock(time: unknown): string {
  const d = typeof time === "number" ? new Date(time) : new Date();
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** One pino JSON line → one human-readable line (plus an error's stack); a line that is not JSON passes through. */
export function formatLogLine(line: string, options: TextLogOptions = {}): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line);
  } catch {
    return line.endsWith("\n") ? line : `${line}\n`;
  }
  const level = LEVELS[record.level as number] ?? { name: String(record.level), color: "0" };
  const name = level.name.padEnd(5);
  const shown = options.color ? `\x1b[${level.color}m${name}\x1b[0m` : name;
  const fields = Object.entries(record)
    .filter(([k, v]) => !HIDDEN.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${value(v)}`);
  const err = record.err as { message?: string; stack?: string; type?: string } | undefined;
  if (err?.message) fields.push(`err=${value(err.message)}`);
  const text = [clock(record.time), shown, record.msg, ...fields]
    .filter((x) => x !== undefined && x !== "")
    .join(" ");
  // The stack's first line repeats the message, already shown as err=.
  const frames = err?.stack?.split("\n").slice(1).join("\n");
  const stack = frames ? `\n${frames.replace(/^\s*/gm, "    ")}` : "";
  return `${text}${stack}\n`;
}

/** A pino destination that writes each line formatted for a person to `out`. */
export function textLogDestination(out: NodeJS.WritableStream, options: TextLogOptions = {}) {
  return {
    write(chunk: string): void {
      for (const line of chunk.split("\n")) if (line !== "") out.write(formatLogLine(line, options));
    },
  };
}
