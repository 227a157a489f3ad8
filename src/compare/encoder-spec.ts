/**
 * Encoder specs as `vlmkit compare --encoders` takes them: `[name=]source[@dtype][:maxPatches]`, comma
 * separated. A source is a registry id, an `org/repo` on the hub, or a directory; `@dtype` picks the
 * ONNX weight variant (fp32, fp16, q8, …); `:maxPatches` sets NaFlex `max_num_patches`.
 */
import path from "node:path";
import { InvalidArgumentError } from "../errors.js";
import { isOnnxDtype, ONNX_DTYPES, type OnnxDtype } from "../hub/dtypes.js";

export interface EncoderSpec {
  /** Label in results and the report. Default: the source's last path part, plus `@dtype` / `:maxPatches` when given. */
  name: string;
  source: string;
  /** Default "fp32". */
  dtype: OnnxDtype;
  /** NaFlex only: `max_num_patches`. Default: the model's `preprocessor_config.json`. */
  maxPatches?: number;
}

/** Parses one `[name=]source[@dtype][:maxPatches]`. */
export function parseEncoderSpec(text: string): EncoderSpec {
  const raw = text.trim();
  if (raw === "") throw new InvalidArgumentError("an encoder spec is empty");
  let rest = raw;
  let name: string | undefined;
  const eq = rest.indexOf("=");
  if (eq > 0) {
    name = rest.slice(0, eq).trim();
    rest = rest.slice(eq + 1).trim();
  }
  let maxPatches: number | undefined;
  const max = /:(\d+)$/.exec(rest);
  if (max) {
    maxPatches = Number(max[1]);
    if (!Number.isSafeInteger(maxPatches) || maxPatches < 1) {
      throw new InvalidArgumentError(`encoder "${raw}": maxPatches ${max[1]}; expected a positive integer`);
    }
    rest = rest.slice(0, max.index);
  }
  let dtype: OnnxDtype = "fp32";
  const at = /@([A-Za-z0-9]+)$/.exec(rest);
  if (at) {
    if (!isOnnxDtype(at[1])) {
      throw new InvalidArgumentError(
        `encoder "${raw}": unknown dtype "${at[1]}"; expected one of ${ONNX_DTYPES.join(", ")}`,
      );
    }
    dtype = at[1];
    rest = rest.slice(0, at.index);
  }
  const source = rest.trim();
  if (source === "") throw new InvalidArgumentError(`encoder "${raw}" names no source`);
  const base = path.basename(source.replace(/[/\\]+$/, "")) || source;
  const defaultName = `${base}${dtype === "fp32" ? "" : `@${dtype}`}${maxPatches ? `:${maxPatches}` : ""}`;
  if (name !== undefined && name === "")
    throw new InvalidArgumentError(`encoder "${raw}": empty name before "="`);
  return { name: name ?? defaultName, source, dtype, ...(maxPatches ? { maxPatches } : {}) };
}

/** Parses a list (comma-separated strings, possibly several, or specs already parsed); names must be unique. */
export function parseEncoderList(items: readonly (string | EncoderSpec)[]): EncoderSpec[] {
  const specs = items.flatMap((item) =>
    typeof item === "string"
      ? item
          .split(",")
          .filter((s) => s.trim() !== "")
          .map(parseEncoderSpec)
      : [item],
  );
  if (specs.length === 0) throw new InvalidArgumentError("no encoder given; expected at least one");
  const seen = new Set<string>();
  for (const s of specs) {
    if (seen.has(s.name)) {
      throw new InvalidArgumentError(
        `two encoders are named "${s.name}"; give each a name with name=source (e.g. a=${s.source})`,
      );
    }
    seen.add(s.name);
  }
  return specs;
}
