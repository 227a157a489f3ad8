/** Every fuzzed format, by name. */
import { InvalidArgumentError } from "../../../src/errors.js";
import type { FuzzFormat } from "../harness/format.js";
import { gguf } from "./gguf.js";

export const FORMATS: readonly FuzzFormat[] = [gguf];

export function formatByName(name: string): FuzzFormat {
  const format = FORMATS.find((f) => f.name === name);
  if (!format) {
    throw new InvalidArgumentError(
      `unknown fuzz format "${name}"; expected one of ${FORMATS.map((f) => f.name).join(", ")}`,
    );
  }
  return format;
}
