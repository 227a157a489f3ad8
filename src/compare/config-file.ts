/**
 * `compare.json`: the same settings as the command line, in a file (`vlmkit compare --config`):
 *
 *   { "encoders": ["siglip-base-patch16-224", { "name": "naflex", "source": "siglip2-base-patch16-naflex", "maxPatches": 256 }],
 *     "data": "./pets", "tasks": ["zeroshot", "linear-probe"], "out": "./runs/pets", "seed": 0,
 *     "templates": ["a photo of a {}."], "classNames": "./classnames.txt", "testFraction": 0.3,
 *     "vlm": { "llm": "./gemma3.gguf", "question": "what is this?", "epochs": 5 } }
 *
 * Relative paths resolve against the file's folder (an encoder source only when that path exists, since
 * a source may also be a known id or `org/repo`).
 */
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { InvalidArgumentError } from "../errors.js";
import { ONNX_DTYPES } from "../hub/dtypes.js";
import type { CompareOptions } from "./compare.js";
import { type EncoderSpec, parseEncoderSpec } from "./encoder-spec.js";
import { TASKS } from "./types.js";

const EncoderEntry = z.union([
  z.string().min(1),
  z
    .object({
      name: z.string().min(1).optional(),
      source: z.string().min(1),
      dtype: z.enum(ONNX_DTYPES).optional(),
      maxPatches: z.number().int().positive().optional(),
    })
    .strict(),
]);

const CompareConfigSchema = z
  .object({
    encoders: z.preprocess((v) => (typeof v === "string" ? [v] : v), z.array(EncoderEntry).min(1)).optional(),
    data: z.string().min(1).optional(),
    tasks: z.array(z.enum([...TASKS, "all"])).optional(),
    out: z.string().min(1).optional(),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1)
      .optional(),
    templates: z.array(z.string().min(1)).min(1).optional(),
    classNames: z.string().min(1).optional(),
    testFraction: z.number().gt(0).lt(1).optional(),
    vlm: z
      .object({
        llm: z.string().min(1),
        question: z.string().min(1).optional(),
        epochs: z.number().int().positive().optional(),
        lr: z.number().positive().optional(),
        batchSize: z.number().int().positive().optional(),
        testFraction: z.number().gt(0).lt(1).optional(),
        maxTokens: z.number().int().positive().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export type CompareConfig = Partial<Omit<CompareOptions, "encoders">> & {
  encoders?: (string | EncoderSpec)[];
};

interface Issue {
  path: PropertyKey[];
  message: string;
  code?: string;
  errors?: Issue[][];
}

/** For a value that matches no branch of a union, the issue of the branch that got furthest. */
function deepestIssue(issue: Issue): { path: PropertyKey[]; message: string } {
  if (issue.code !== "invalid_union" || !issue.errors?.length) return issue;
  const inner = issue.errors.flat().map(deepestIssue);
  const best = inner.sort((a, b) => b.path.length - a.path.length)[0];
  return best ? { path: [...issue.path, ...best.path], message: best.message } : issue;
}

export function readCompareConfig(file: string): CompareConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (cause) {
    throw new InvalidArgumentError(
      `compare config ${file} cannot be read as JSON: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  const parsed = CompareConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const { path: where, message } = deepestIssue(parsed.error.issues[0]);
    throw new InvalidArgumentError(`compare config ${file}: ${where.join(".") || "(root)"}: ${message}`, {
      details: { issues: parsed.error.issues },
    });
  }
  const c = parsed.data;
  const base = path.dirname(path.resolve(file));
  const local = (p: string) => path.resolve(base, p);
  const source = (s: string) => (fs.existsSync(local(s)) ? local(s) : s);
  const encoders =
    c.encoders === undefined
      ? undefined
      : (typeof c.encoders === "string" ? [c.encoders] : c.encoders).flatMap(
          (e): (string | EncoderSpec)[] => {
            if (typeof e === "string") {
              return e
                .split(",")
                .filter((x) => x.trim() !== "")
                .map((x) => {
                  const spec = parseEncoderSpec(x);
                  return { ...spec, source: source(spec.source) };
                });
            }
            const spec = parseEncoderSpec(e.source);
            return [
              {
                ...spec,
                name: e.name ?? spec.name,
                source: source(spec.source),
                dtype: e.dtype ?? spec.dtype,
                ...(e.maxPatches ? { maxPatches: e.maxPatches } : {}),
              },
            ];
          },
        );
  return {
    ...(encoders ? { encoders } : {}),
    ...(c.data ? { data: local(c.data) } : {}),
    ...(c.tasks ? { tasks: c.tasks } : {}),
    ...(c.out ? { out: local(c.out) } : {}),
    ...(c.seed !== undefined ? { seed: c.seed } : {}),
    ...(c.templates ? { templates: c.templates } : {}),
    ...(c.classNames ? { classNamesFile: local(c.classNames) } : {}),
    ...(c.testFraction !== undefined ? { testFraction: c.testFraction } : {}),
    ...(c.vlm ? { vlm: { ...c.vlm, llm: local(c.vlm.llm) } } : {}),
  };
}
