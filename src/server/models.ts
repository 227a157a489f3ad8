/**
 * The models a server answers for, by the name clients send in `model`, and the server's readiness:
 * `/health` is 503 while they load (the server listens first so orchestrators see it come up).
 */
import path from "node:path";
import { Siglip, type SiglipOptions } from "../encoders/index.js";
import { InvalidArgumentError, VlmkitError } from "../errors.js";
import type { Vlm } from "../vlm.js";
import type { EngineLoad } from "./metrics.js";

export type ServerState = "loading" | "ready" | "failed" | "draining";

export interface ServedEncoder {
  name: string;
  /** Directory the model was loaded from. */
  dir: string;
  model: Siglip;
  /** Unix seconds when it finished loading (OpenAI's `created`). */
  created: number;
}

/** A vision-language model served for chat; several may share one `Llm` (and so one engine). */
export interface ServedVlm {
  name: string;
  vlm: Vlm;
  /** The adapter directory. */
  adapter: string;
  /** Resolved GGUF path: VLMs with the same one share the loaded LLM. */
  llmPath: string;
  /** Unix seconds when it finished loading. */
  created: number;
}

export interface ModelListEntry {
  id: string;
  kind: "encoder" | "vlm";
  created: number;
}

/** Something the server loaded and must free on shutdown (a shared LLM or encoder). */
export interface Disposable {
  dispose(): Promise<void> | void;
}

export interface LoadEncodersOptions {
  /** Passed to `Siglip.load` (dtype, threads, execution providers). Default {}. */
  siglip?: SiglipOptions;
  /** Turns a name's spec (a directory, or an id to resolve) into a directory. Default: the spec itself. */
  resolveDir?: (spec: string) => Promise<string>;
}

export class ServedModels {
  private readonly encoders = new Map<string, ServedEncoder>();
  private readonly vlms = new Map<string, ServedVlm>();
  /** Shared parts (LLMs, vision encoders) freed after the models that use them. */
  private readonly resources: Disposable[] = [];
  private stateValue: ServerState = "loading";
  private failure?: VlmkitError;

  get state(): ServerState {
    return this.stateValue;
  }

  /** Why loading failed, when `state` is "failed". */
  get error(): VlmkitError | undefined {
    return this.failure;
  }

  /**
   * Loads every encoder (text tower and zero-shot parameters too, so the first request pays nothing and
   * a broken model fails at startup), then marks the server ready. On failure the state is "failed"
   * and the error is rethrown.
   */
  async loadEncoders(specs: Record<string, string>, options: LoadEncodersOptions = {}): Promise<void> {
    return this.loading(() => this.addEncoders(specs, options));
  }

  /** Loads and serves encoders without touching the state (inside `loading`, before VLMs that reuse them). */
  async addEncoders(specs: Record<string, string>, options: LoadEncodersOptions = {}): Promise<void> {
    for (const [name, spec] of Object.entries(specs)) {
      const dir = options.resolveDir ? await options.resolveDir(spec) : spec;
      const model = await Siglip.load(dir, options.siglip);
      await model.logitParams();
      this.addEncoder(name, model, dir);
    }
  }

  /** Runs `load` with the state "loading", then "ready"; on failure "failed" and the error is rethrown. */
  async loading(load: () => Promise<void>): Promise<void> {
    this.stateValue = "loading";
    try {
      await load();
      this.stateValue = "ready";
    } catch (error) {
      this.failure =
        error instanceof VlmkitError
          ? error
          : new VlmkitError("INTERNAL", `loading models failed: ${(error as Error).message}`, {
              cause: error,
            });
      this.stateValue = "failed";
      throw this.failure;
    }
  }

  /** Serves an already loaded encoder under `name`. */
  addEncoder(name: string, model: Siglip, dir = model.dir): void {
    this.checkUnused(name);
    this.encoders.set(name, { name, dir, model, created: Math.floor(Date.now() / 1000) });
  }

  /**
   * Serves a loaded VLM under `name` for the chat routes. The VLM's parts stay the caller's unless
   * handed over with `adopt`.
   */
  addVlm(name: string, vlm: Vlm, info: { adapter: string; llmPath: string }): void {
    this.checkUnused(name);
    this.vlms.set(name, { name, vlm, ...info, created: Math.floor(Date.now() / 1000) });
  }

  /** Frees `resource` on `dispose`, after every model (shared LLMs and encoders). */
  adopt(resource: Disposable): void {
    this.resources.push(resource);
  }

  private checkUnused(name: string): void {
    if (this.encoders.has(name) || this.vlms.has(name)) {
      throw new VlmkitError("INVALID_ARGUMENT", `model name "${name}" is used twice; names must be unique`);
    }
  }

  /** The served encoder whose directory is `dir` (VLMs reuse its vision tower). */
  encoderByDir(dir: string): ServedEncoder | undefined {
    return [...this.encoders.values()].find((e) => path.resolve(e.dir) === path.resolve(dir));
  }

  /** Marks the server ready without loading anything (models added with `addEncoder`). */
  markReady(): void {
    this.stateValue = "ready";
  }

  /** Marks the server as shutting down: `/health` answers 503 so load balancers stop sending work. */
  markDraining(): void {
    this.stateValue = "draining";
  }

  /**
   * The encoder served as `name` (the only one served when `name` is undefined); NOT_FOUND (404)
   * naming the models that exist otherwise.
   */
  encoder(name: string | undefined): ServedEncoder {
    if (name === undefined) return this.sole(this.encoders, "encoder");
    const entry = this.encoders.get(name);
    if (entry) return entry;
    if (this.vlms.has(name)) {
      throw new InvalidArgumentError(
        `model "${name}" is a vision-language model; this route needs an encoder (${this.names("encoder")})`,
        { details: { param: "model", model: name } },
      );
    }
    throw this.notFound(name);
  }

  /**
   * The VLM served as `name` (the only one served when `name` is undefined); 400 when it is an
   * encoder, 404 when nothing has that name.
   */
  vlm(name: string | undefined): ServedVlm {
    if (name === undefined) return this.sole(this.vlms, "vlm");
    const entry = this.vlms.get(name);
    if (entry) return entry;
    if (this.encoders.has(name)) {
      throw new InvalidArgumentError(
        `model "${name}" is an image encoder and cannot chat; chat needs a vision-language model (${this.names("vlm")})`,
        { details: { param: "model", model: name } },
      );
    }
    throw this.notFound(name);
  }

  /** The one model of `kind`, for requests that leave `model` out; 400 when there are several or none. */
  private sole<T>(byName: Map<string, T>, kind: ModelListEntry["kind"]): T {
    if (byName.size === 1) return [...byName.values()][0];
    if (this.stateValue === "loading") {
      throw new VlmkitError("UNAVAILABLE", "models are not loaded yet; retry when /health answers 200", {
        details: { param: "model" },
      });
    }
    const what = kind === "vlm" ? "vision-language model" : "encoder";
    throw new InvalidArgumentError(
      byName.size === 0
        ? `model: required; no ${what} is served here, and this route needs one`
        : `model: required when several ${what}s are served (${this.names(kind)})`,
      { details: { param: "model" } },
    );
  }

  /** Every served encoder. */
  servedEncoders(): ServedEncoder[] {
    return [...this.encoders.values()];
  }

  /** Every served VLM. */
  servedVlms(): ServedVlm[] {
    return [...this.vlms.values()];
  }

  /** Requests decoding and waiting on each distinct LLM engine, labelled by GGUF file name. */
  engineLoads(): EngineLoad[] {
    const byPath = new Map(this.servedVlms().map((v) => [v.llmPath, v.vlm.llm.engine]));
    return [...byPath].map(([file, engine]) => ({ llm: path.basename(file), ...engine.load }));
  }

  /**
   * Resolves once no generation request runs or waits on any served LLM (what a drained server waits
   * for before freeing them): woken by each engine when its last request ends.
   */
  async idle(): Promise<void> {
    const engines = new Set(this.servedVlms().map((v) => v.vlm.llm.engine));
    await Promise.all([...engines].map((engine) => engine.idle()));
  }

  private names(kind: ModelListEntry["kind"]): string {
    const names = this.list()
      .filter((m) => m.kind === kind)
      .map((m) => `"${m.id}"`);
    return names.length ? `served: ${names.join(", ")}` : `none is served`;
  }

  /** The list entry of any served model; NOT_FOUND (404) otherwise. */
  entry(id: string): ModelListEntry {
    const found = this.list().find((m) => m.id === id);
    if (found) return found;
    throw this.notFound(id);
  }

  private notFound(name: string): VlmkitError {
    if (this.stateValue === "loading") {
      return new VlmkitError(
        "UNAVAILABLE",
        `model "${name}" is not loaded yet; retry when /health answers 200`,
        {
          details: { param: "model", model: name },
        },
      );
    }
    const known = this.list().map((m) => `"${m.id}"`);
    return new VlmkitError(
      "NOT_FOUND",
      `model "${name}" is not served here; ${known.length ? `models: ${known.join(", ")}` : "no model is loaded"}`,
      { details: { param: "model", model: name } },
    );
  }

  list(): ModelListEntry[] {
    return [
      ...[...this.encoders.values()].map((e) => ({
        id: e.name,
        kind: "encoder" as const,
        created: e.created,
      })),
      ...[...this.vlms.values()].map((v) => ({ id: v.name, kind: "vlm" as const, created: v.created })),
    ];
  }

  async dispose(): Promise<void> {
    const vlms = [...this.vlms.values()];
    const all = [...this.encoders.values()];
    const resources = this.resources.splice(0);
    this.vlms.clear();
    this.encoders.clear();
    await Promise.all(vlms.map((v) => v.vlm.dispose()));
    await Promise.all(all.map((e) => e.model.dispose()));
    for (const r of resources.reverse()) await r.dispose();
  }
}
