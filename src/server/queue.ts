/**
 * A bounded work queue: at most `concurrency` jobs run, at most `maxQueued` wait, and one more is
 * refused at once with BUSY (HTTP 429) instead of piling up memory and latency.
 */
import { AbortError, VlmkitError } from "../errors.js";

export interface WorkQueueOptions {
  /** Jobs running at once. Default 1. */
  concurrency?: number;
  /** Jobs waiting for a slot; 0 means a job runs only if a slot is free. Default 32. */
  maxQueued?: number;
  /** Name used in messages and metrics. Default "work". */
  name?: string;
}

interface Waiter {
  start: () => void;
  cancel: (error: unknown) => void;
}

export class WorkQueue {
  readonly concurrency: number;
  readonly maxQueued: number;
  readonly name: string;
  private readonly listeners: ((queue: WorkQueue) => void)[] = [];
  private readonly waiters: Waiter[] = [];
  private active = 0;

  constructor(options: WorkQueueOptions = {}) {
    this.concurrency = options.concurrency ?? 1;
    this.maxQueued = options.maxQueued ?? 32;
    this.name = options.name ?? "work";
  }

  get waiting(): number {
    return this.waiters.length;
  }

  get running(): number {
    return this.active;
  }

  /**
   * Runs `job` when a slot is free. Rejects with BUSY when the queue is full, and with the signal's
   * reason (or AbortError) when `signal` fires while waiting; a running job gets the signal to stop itself.
   */
  async run<T>(job: (signal?: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) throw abortReason(signal);
    if (this.active >= this.concurrency) await this.wait(signal);
    else this.active++;
    this.changed();
    try {
      return await job(signal);
    } finally {
      this.release();
    }
  }

  private wait(signal?: AbortSignal): Promise<void> {
    if (this.waiters.length >= this.maxQueued) {
      throw new VlmkitError(
        "BUSY",
        `the ${this.name} queue is full (${this.active} running, ${this.waiters.length} waiting); retry later`,
        { details: { running: this.active, waiting: this.waiters.length } },
      );
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => waiter.cancel(abortReason(signal!));
      const waiter: Waiter = {
        // The slot is handed over by release(), so `active` is not decremented between jobs.
        start: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        cancel: (error) => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          signal?.removeEventListener("abort", onAbort);
          this.changed();
          reject(error);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
      this.changed();
    });
  }

  private release(): void {
    const next = this.waiters.shift();
    if (next) next.start();
    else this.active--;
    this.changed();
  }

  /** Calls `listener` whenever the number of waiting or running jobs changes (metrics gauges). */
  subscribe(listener: (queue: WorkQueue) => void): void {
    this.listeners.push(listener);
  }

  private changed(): void {
    for (const listener of this.listeners) listener(this);
  }
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason instanceof VlmkitError
    ? signal.reason
    : new AbortError(undefined, { cause: signal.reason });
}
