/**
 * Parsers for numeric flags: a value that is not a number in range is refused by commander with the
 * flag, the range and the value, instead of becoming NaN and surfacing later as something else.
 */
import { InvalidArgumentError as CommanderArgError } from "commander";

/** A number in [min, max]; with `integer`, a whole number. */
export function num(name: string, min: number, max: number, integer = false) {
  return (v: string): number => {
    const n = v.trim() === "" ? Number.NaN : Number(v);
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      throw new CommanderArgError(
        `${name} must be ${integer ? "an integer" : "a number"} in [${min}, ${max}], got "${v}"`,
      );
    }
    return n;
  };
}

/** An integer in [min, max]; max defaults to the largest safe integer. */
export function int(name: string, min = 0, max = Number.MAX_SAFE_INTEGER) {
  return num(name, min, max, true);
}

/**
 * A repeatable single-value option: `--stop a --stop b` → ["a", "b"]. (A variadic `<v...>` option would
 * swallow the positional arguments after it.) With `choices`, each value must be one of them.
 */
export function repeatable(name: string, choices?: readonly string[]) {
  return (value: string, previous: string[] | undefined): string[] => {
    if (choices && !choices.includes(value)) {
      throw new CommanderArgError(`${name} "${value}"; expected one of ${choices.join(", ")}`);
    }
    return [...(previous ?? []), value];
  };
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length];
}

/** The known flag closest to `typed` (within a third of its length), or undefined. */
export function closestFlag(typed: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(typed.length / 3)) + 1;
  for (const flag of known) {
    const d = distance(typed, flag);
    if (d < bestDistance) [best, bestDistance] = [flag, d];
  }
  return best;
}
