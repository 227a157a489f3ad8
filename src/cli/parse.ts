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
