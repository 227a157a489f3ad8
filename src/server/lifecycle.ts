/**
 * How a running server stops, once, whatever asks first (SIGTERM/SIGINT, a model that fails to load):
 *
 *   /health → 503 "draining" ─ stop accepting; in-flight requests finish (≤ drainTimeoutMs, then their
 *   connections are cut) ─ generations of cut connections stop decoding (≤ engineStopMs) ─ models freed
 *
 * Each wait is woken by the event it waits for (the HTTP server closing, the engines' last request
 * ending) and bounded by one deadline timer; nothing polls.
 */
import type { Logger } from "pino";

/** The listening side: `RunningServer` (`listen`). */
export interface Closable {
  /** Stops accepting and waits for in-flight requests, at most `drainMs`; false when connections were cut. */
  close(drainMs: number): Promise<boolean>;
}

/** The served models: `ServedModels`. */
export interface Drainable {
  /** `/health` answers 503 so load balancers stop sending work. */
  markDraining(): void;
  /** Resolves once no generation runs or waits. */
  idle(): Promise<void>;
  dispose(): Promise<void>;
}

export interface LifecycleOptions {
  logger: Logger;
  /** How long in-flight requests may finish before their connections are cut. Default 30 000 ms. */
  drainTimeoutMs?: number;
  /**
   * After the drain, how long generations whose connections were cut may take to stop decoding (the
   * native context is freed only once none decodes). Default 5 000 ms.
   */
  engineStopMs?: number;
}

export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;
export const DEFAULT_ENGINE_STOP_MS = 5_000;

export class ServerLifecycle {
  #stopping?: Promise<boolean>;
  readonly #drainTimeoutMs: number;
  readonly #engineStopMs: number;

  constructor(
    private readonly server: Closable,
    private readonly models: Drainable,
    private readonly options: LifecycleOptions,
  ) {
    this.#drainTimeoutMs = options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
    this.#engineStopMs = options.engineStopMs ?? DEFAULT_ENGINE_STOP_MS;
  }

  /** The shutdown under way, if one began. */
  get stopping(): Promise<boolean> | undefined {
    return this.#stopping;
  }

  /**
   * Drains and frees everything; `reason` is logged. Resolves true when every request finished, false
   * when connections were cut at the drain deadline. Later calls get the same promise.
   */
  stop(reason: string): Promise<boolean> {
    this.#stopping ??= this.#shutdown(reason);
    return this.#stopping;
  }

  /** Stops on the first of `signals`; resolves with what `stop` resolves. */
  stopOnSignals(signals: readonly NodeJS.Signals[] = ["SIGTERM", "SIGINT"]): Promise<boolean> {
    return new Promise((resolve) => {
      for (const signal of signals) process.once(signal, () => resolve(this.stop(signal)));
    });
  }

  async #shutdown(reason: string): Promise<boolean> {
    const { logger } = this.options;
    const drainTimeoutMs = this.#drainTimeoutMs;
    logger.info({ signal: reason, drainTimeoutMs }, "shutting down: draining requests");
    this.models.markDraining();
    const drained = await this.server.close(drainTimeoutMs);
    // Cut connections abort their generations; wait for the engines to let go of them.
    if (!(await settlesWithin(this.models.idle(), this.#engineStopMs))) {
      logger.warn({ engineStopMs: this.#engineStopMs }, "generations still decoding; freeing the models");
    }
    await this.models.dispose();
    if (drained) logger.info("stopped");
    else logger.warn({ drainTimeoutMs }, "stopped: connections cut at the drain deadline");
    return drained;
  }
}

/** True when `work` settles within `ms`, false at the deadline; the timer never outlives the wait. */
export async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
