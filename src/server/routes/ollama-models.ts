/**
 * Ollama's model-information routes, in the shapes the `ollama` client's types expect (the `ollama`
 * CLI and Open WebUI call them): `GET /api/tags` (the served VLMs), `POST /api/show` (one model's
 * details and capabilities) and `GET /api/ps` (the loaded models: all of them, loaded at startup
 * and kept until the server stops).
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Hono } from "hono";
import { z } from "zod";
import { InvalidArgumentError } from "../../errors.js";
import { readBody } from "../body.js";
import type { AppEnv, ServerContext } from "../context.js";
import type { ModelListEntry, ServedEncoder, ServedVlm } from "../models.js";
import { servedName } from "./ollama.js";

/** Models stay loaded until the server stops; Ollama's clients expect a date, so a far one. */
const NEVER = "9999-12-31T23:59:59Z";

const ShowRequest = z.object({
  /** Optional when the server serves exactly one model. */
  model: z.string().min(1, { message: "expected a model name" }).optional(),
  /** Older clients send `name`. */
  name: z.string().min(1, { message: "expected a model name" }).optional(),
  verbose: z.boolean().optional(),
});

interface ModelSummary {
  name: string;
  model: string;
  modified_at: string;
  size: number;
  digest: string;
  details: {
    parent_model: string;
    format: string;
    family: string;
    families: string[];
    parameter_size: string;
    quantization_level: string;
  };
}

function details(format: string, family: string): ModelSummary["details"] {
  return { parent_model: "", format, family, families: [family], parameter_size: "", quantization_level: "" };
}

function vlmSummary(v: ServedVlm): ModelSummary {
  const size = fs.statSync(v.llmPath).size;
  return {
    name: v.name,
    model: v.name,
    modified_at: new Date(v.created * 1000).toISOString(),
    size,
    // Identifies the assembly (LLM file + adapter), not a content hash of the weights.
    digest: createHash("sha256").update(`${v.llmPath}\n${size}\n${v.adapter}`).digest("hex"),
    details: details("gguf", v.vlm.llm.identity.architecture),
  };
}

/** Bytes of the encoder's ONNX files (both towers and their external data). */
function onnxBytes(dir: string): number {
  const onnx = path.join(dir, "onnx");
  if (!fs.existsSync(onnx)) return 0;
  return fs.readdirSync(onnx).reduce((n, f) => n + fs.statSync(path.join(onnx, f)).size, 0);
}

function encoderSummary(e: ServedEncoder): ModelSummary {
  const size = onnxBytes(e.dir);
  return {
    name: e.name,
    model: e.name,
    modified_at: new Date(e.created * 1000).toISOString(),
    size,
    digest: createHash("sha256")
      .update(`${path.resolve(e.dir)}\n${size}`)
      .digest("hex"),
    details: details("onnx", e.model.vision.config.family),
  };
}

function vlmShow(v: ServedVlm) {
  const { identity, engine } = v.vlm.llm;
  const arch = identity.architecture;
  const encoder = v.vlm.encoder.config;
  return {
    license: "",
    modelfile: `# served by vlmkit\nFROM ${v.llmPath}\nADAPTER ${v.adapter}\n`,
    parameters: "",
    template: "",
    system: "",
    details: vlmSummary(v).details,
    messages: [],
    modified_at: new Date(v.created * 1000).toISOString(),
    model_info: {
      "general.architecture": arch,
      "general.name": identity.name,
      [`${arch}.embedding_length`]: identity.nEmbd,
      [`${arch}.context_length`]: engine.capacity,
      [`${arch}.vocab_size`]: identity.nVocab,
    },
    projector_info: {
      "projector.type": "linear",
      "projector.input_size": encoder.visionHidden,
      "projector.output_size": identity.nEmbd,
      "vision.family": encoder.family,
      "vision.embedding_length": encoder.visionHidden,
      "vision.patch_size": encoder.patchSize,
      ...(encoder.imageSize ? { "vision.image_size": encoder.imageSize } : {}),
    },
    capabilities: ["completion", "vision"],
  };
}

function encoderShow(e: ServedEncoder) {
  const c = e.model.vision.config;
  return {
    license: "",
    modelfile: `# served by vlmkit\nFROM ${e.dir}\n`,
    parameters: "",
    template: "",
    system: "",
    details: encoderSummary(e).details,
    messages: [],
    modified_at: new Date(e.created * 1000).toISOString(),
    model_info: {
      "general.architecture": c.family,
      [`${c.family}.embedding_length`]: c.textHidden,
      [`${c.family}.context_length`]: c.textLength,
      [`${c.family}.vision.embedding_length`]: c.visionHidden,
      [`${c.family}.vision.patch_size`]: c.patchSize,
      ...(c.imageSize ? { [`${c.family}.vision.image_size`]: c.imageSize } : {}),
    },
    capabilities: ["embedding"],
  };
}

/** The named model's list entry, or the only model when no name is given. */
function pick(ctx: ServerContext, name: string | undefined): ModelListEntry {
  if (name !== undefined) return ctx.models.entry(servedName(ctx, name) ?? name);
  const all = ctx.models.list();
  if (all.length === 1) return all[0];
  throw new InvalidArgumentError(
    `model: required when several models are served (${all.map((m) => `"${m.id}"`).join(", ") || "none is loaded"})`,
    { details: { param: "model" } },
  );
}

export function registerOllamaModelRoutes(app: Hono<AppEnv>, ctx: ServerContext): void {
  app.get("/api/tags", (c) => c.json({ models: ctx.models.servedVlms().map(vlmSummary) }));

  app.post("/api/show", async (c) => {
    const body = await readBody(c, ShowRequest);
    const entry = pick(ctx, body.model ?? body.name);
    return c.json(
      entry.kind === "vlm" ? vlmShow(ctx.models.vlm(entry.id)) : encoderShow(ctx.models.encoder(entry.id)),
    );
  });

  app.get("/api/ps", (c) =>
    c.json({
      models: [
        ...ctx.models.servedVlms().map(vlmSummary),
        ...ctx.models.servedEncoders().map(encoderSummary),
      ].map((m) => ({ ...m, expires_at: NEVER, size_vram: 0 })),
    }),
  );
}
