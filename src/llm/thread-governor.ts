/**
 * Chooses how many compute threads each token step of the generation engine uses, so that a busy
 * machine slows generation down instead of collapsing it.
 *
 * ggml's CPU threads meet at a spinning barrier after every operation of a graph. When another process
 * holds one of the cores, the thread scheduled beside it waits out a scheduler slice at each barrier:
 * on a 2-core machine next to one busy-looping process, a 270M-shaped model decoded 5–10 tokens/s with
 * 2 threads and 31–42 with 1 thread (73 and 63 on the quiet machine). No fixed count is right for both.
 *
 * The governor decodes at the current count and, every `probeEvery` steps, runs `probeSteps` steps at
 * the other count (1 when at the maximum, the maximum when at 1), then `probeSteps` steps at the current
 * count again, so both are measured under the same conditions. Each probe step is compared with the
 * confirming steps of the same rows; it moves to the other count when the median of those ratios is
 * below 1 − `margin`. A probe that loses doubles the interval to the next probe (up to `maxProbeEvery`), so a
 * setting that keeps winning costs little; a switch resets it. Two steps in a row slower than
 * `slowdown` × the recent median of their rows (the machine just got busier) start a
 * probe at once and reset the interval.
 */

export interface ThreadGovernorOptions {
  /** Steps at the current count between probes, at first and after each switch. Default 32. */
  probeEvery?: number;
  /** Steps per probe. Default 4. */
  probeSteps?: number;
  /** Longest interval between probes after losing probes. Default 256. */
  maxProbeEvery?: number;
  /** How much faster (0.1 = 10 %) the other count must be to switch. Default 0.1. */
  margin?: number;
  /** A step time, as a multiple of the recent median for its rows, that counts as a slowdown. Default 1.5. */
  slowdown?: number;
}

interface Sample {
  rows: number;
  ms: number;
}

/** Recent samples kept for the current count. */
const RECENT = 16;

export class ThreadGovernor {
  readonly max: number;
  readonly #probeSteps: number;
  readonly #baseInterval: number;
  readonly #maxInterval: number;
  readonly #margin: number;
  #current: number;
  #interval: number;
  #sinceProbe = 0;
  readonly #slowdown: number;
  /** Consecutive steps slower than `slowdown` × the recent median. */
  #slow = 0;
  /** normal: decoding at the current count; probe: at the other; confirm: at the current, for comparison. */
  #phase: "normal" | "probe" | "confirm" = "normal";
  #probe: Sample[] = [];
  #confirm: Sample[] = [];
  #recent: Sample[] = [];
  #switches = 0;

  /** `max`: the threads the context was created with. */
  constructor(max: number, options: ThreadGovernorOptions = {}) {
    this.max = Math.max(1, Math.floor(max));
    this.#baseInterval = options.probeEvery ?? 32;
    this.#probeSteps = options.probeSteps ?? 4;
    this.#maxInterval = options.maxProbeEvery ?? 256;
    this.#margin = options.margin ?? 0.1;
    this.#slowdown = options.slowdown ?? 1.5;
    this.#current = this.max;
    this.#interval = this.#baseInterval;
  }

  /** The count decodes run at outside probes. */
  get current(): number {
    return this.#current;
  }

  /** Times the governor changed its current count. */
  get switches(): number {
    return this.#switches;
  }

  get #other(): number {
    return this.#current === this.max ? 1 : this.max;
  }

  /** Threads for the next token step. */
  next(): number {
    if (this.max === 1) return 1;
    if (this.#phase === "normal" && this.#sinceProbe >= this.#interval && this.#recent.length > 0) {
      this.#phase = "probe";
      this.#probe = [];
      this.#confirm = [];
    }
    return this.#phase === "probe" ? this.#other : this.#current;
  }

  /**
   * Records a generation step just decoded with `threads` threads: its wall time and rows. Only steps
   * of generating rows alone are comparable (a step that also carries prompt tokens costs less per
   * row): the engine records just those, and times are compared between steps of equal rows.
   */
  record(threads: number, ms: number, rows: number): void {
    if (this.max === 1) return;
    const sample = { rows, ms };
    if (this.#phase === "probe" && threads === this.#other) {
      this.#probe.push(sample);
      if (this.#probe.length >= this.#probeSteps) this.#phase = "confirm";
      return;
    }
    if (threads !== this.#current) return;
    if (this.#phase === "confirm") {
      // The current count measured right after the probe: both see the machine as it is now.
      this.#confirm.push(sample);
      if (this.#confirm.length >= this.#probeSteps) this.#decide();
    } else {
      const usual = this.#usual(rows);
      if (usual !== undefined && ms > this.#slowdown * usual) {
        if (++this.#slow >= 2) {
          this.#slow = 0;
          this.#interval = this.#baseInterval;
          this.#sinceProbe = this.#interval; // probe at the next step
        }
      } else this.#slow = 0;
      this.#sinceProbe++;
    }
    this.#recent.push(sample);
    if (this.#recent.length > RECENT) this.#recent.shift();
  }

  /** The median time of recent steps at the current count with `rows` rows; undefined if too few. */
  #usual(rows: number): number | undefined {
    const same = this.#recent.filter((s) => s.rows === rows).map((s) => s.ms);
    return same.length >= 3 ? median(same) : undefined;
  }

  #decide(): void {
    this.#phase = "normal";
    this.#sinceProbe = 0;
    // Each probe step against the confirming steps of its own row count, then the median of the ratios.
    const ratios = this.#probe.flatMap((p) => {
      const same = this.#confirm.filter((c) => c.rows === p.rows).map((c) => c.ms);
      return same.length === 0 ? [] : [p.ms / median(same)];
    });
    if (ratios.length === 0) return; // nothing comparable (the batch changed): probe again later
    if (median(ratios) < 1 - this.#margin) {
      this.#recent = [...this.#probe];
      this.#current = this.#other;
      this.#interval = this.#baseInterval;
      this.#switches++;
    } else {
      this.#interval = Math.min(this.#interval * 2, this.#maxInterval);
    }
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}
