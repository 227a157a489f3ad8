/**
 * The models a server answers for, by the name clients send in `model`, and the server's readiness:
 * `/health` is 503 while they load (the server listens first so orchestrators see it come up).
 */
import { Siglip, type SiglipOptions } from "../encoders/index.js";
import { VlmkitError } from "../errors.js";

export type ServerState = "loading" | "ready" | "failed" | "draining";

export interface ServedEncoder {
  name: string;
  /** Directory the model was loaded from. */
  dir: string;
  model: Siglip;
  /** Unix seconds when it finished loading (OpenAI's `created`). */
  created: number;
}

export interface ModelListEntry {
  id: string;
  kind: "encoder";
  created: number;
}

export interface LoadEncodersOptions {
  /** Passed to `Siglip.load` (dtype, threads, execution providers). Default {}. */
  siglip?: SiglipOptions;
  /** Turns a name's spec (a directory, or an id to resolve) into a directory. Default: the spec itself. */
  resolveDir?: (spec: string) => Promise<string>;
}

export class ServedModels {
  private readonly encoders = new Map<string, ServedEncoder>();
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
    this.stateValue = "loading";
    try {
      for (const [name, spec] of Object.entries(specs)) {
        const dir = options.resolveDir ? await options.resolveDir(spec) : spec;
        const model = await Siglip.load(dir, options.siglip);
        await model.logitParams();
        this.addEncoder(name, model, dir);
      }
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
    if (this.encoders.has(name)) {
      throw new VlmkitError("INVALID_ARGUMENT", `model name "${name}" is used twice; names must be unique`);
    }
    this.encoders.set(name, { name, dir, model, created: Math.floor(Date.now() / 1000) });
  }

  /** Marks the server ready without loading anything (models added with `addEncoder`). */
  markReady(): void {
    this.stateValue = "ready";
  }

  /** Marks the server as shutting down: `/health` answers 503 so load balancers stop sending work. */
  markDraining(): void {
    this.stateValue = "draining";
  }

  /** The encoder served as `name`; NOT_FOUND (404) naming the models that exist otherwise. */
  encoder(name: string): ServedEncoder {
    const entry = this.encoders.get(name);
    if (entry) return entry;
    throw this.notFound(name);
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
    return [...this.encoders.values()].map((e) => ({
      id: e.name,
      kind: "encoder" as const,
      created: e.created,
    }));
  }

  async dispose(): Promise<void> {
    const all = [...this.encoders.values()];
    this.encoders.clear();
    await Promise.all(all.map((e) => e.model.dispose()));
  }
}
