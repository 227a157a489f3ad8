/**
 * zod issues → one 400 whose message starts with the field path, e.g.
 * `messages[0].content[1].image_url.url: expected a data: or http(s) URL`.
 */
import type { z } from "zod";
import { InvalidArgumentError } from "../../errors.js";

type Issue = z.core.$ZodIssue;
type Key = PropertyKey;

/** ["messages", 0, "content"] → "messages[0].content"; the empty path is the body itself. */
export function formatPath(path: readonly Key[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out || "body";
}

/** zod's English without its generic prefixes; a missing field reads "required". */
function issueText(issue: Issue): string {
  const text = issue.message.replace(/^(Invalid input|Invalid option|Too small|Too big): /, "");
  if (issue.code === "invalid_type" && /received undefined$/.test(text))
    return `required (expected ${issue.expected})`;
  return text;
}

/**
 * The most useful issue: inside a union, the branch the value was meant for (the one that got past
 * the type check), so a bad image part says what is wrong with the part, not "invalid input".
 */
function explain(issue: Issue, prefix: readonly Key[]): { path: Key[]; message: string } {
  const path = [...prefix, ...issue.path];
  if (issue.code !== "invalid_union" || issue.errors.length === 0) return { path, message: issueText(issue) };
  const typeOnly = (branch: Issue[]) => branch.every((i) => i.code === "invalid_type" && i.path.length === 0);
  const meant = issue.errors.filter((branch) => branch.length > 0 && !typeOnly(branch));
  if (meant.length === 1) return explain(meant[0][0], path);
  const expected = issue.errors.flatMap((branch) =>
    branch.filter((i) => i.code === "invalid_type").map((i) => (i as { expected: string }).expected),
  );
  const received = /received (\w+)$/.exec(issue.errors[0]?.[0]?.message ?? "")?.[1];
  return {
    path,
    message: expected.length
      ? `expected ${[...new Set(expected)].join(" or ")}${received ? `, received ${received}` : ""}`
      : issueText(issue),
  };
}

/** The first issue as an InvalidArgumentError (HTTP 400) with `details.param` set to the field path. */
export function issuesToError(error: z.ZodError): InvalidArgumentError {
  const first = explain(error.issues[0], []);
  const param = formatPath(first.path);
  const more =
    error.issues.length > 1
      ? ` (and ${error.issues.length - 1} more problem${error.issues.length > 2 ? "s" : ""})`
      : "";
  return new InvalidArgumentError(`${param}: ${first.message}${more}`, {
    details: {
      param,
      issues: error.issues.map((i) => ({ path: formatPath(i.path), message: issueText(i) })),
    },
  });
}

/** Validates `value` against `schema`; throws a 400 naming the field path on the first problem. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw issuesToError(result.error);
  return result.data;
}
