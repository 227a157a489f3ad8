/**
 * Turns generated token pieces into text as it streams: UTF-8 characters split across byte tokens are
 * held until complete, and text that could be the start of a stop string is held until it is known
 * not to be one. When a stop string appears, the text before it is released and the stream ends.
 */
export class TextStream {
  readonly #decoder = new TextDecoder("utf-8", { fatal: false });
  readonly #stops: readonly string[];
  #pending = "";
  #stopped = false;

  constructor(stops: readonly string[] = []) {
    this.#stops = stops.filter((s) => s.length > 0);
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Adds a token's bytes; returns the text that can be released now. */
  push(bytes: Uint8Array): string {
    if (this.#stopped) return "";
    this.#pending += this.#decoder.decode(bytes, { stream: true });
    // The earliest stop string in the text wins, whatever its place in the list.
    let at = -1;
    for (const stop of this.#stops) {
      const i = this.#pending.indexOf(stop);
      if (i >= 0 && (at < 0 || i < at)) at = i;
    }
    if (at >= 0) {
      this.#stopped = true;
      const out = this.#pending.slice(0, at);
      this.#pending = "";
      return out;
    }
    // Hold back the longest tail that is a prefix of some stop string.
    let hold = 0;
    for (const stop of this.#stops) {
      for (let k = Math.min(stop.length - 1, this.#pending.length); k > hold; k--) {
        if (this.#pending.endsWith(stop.slice(0, k))) {
          hold = k;
          break;
        }
      }
    }
    const out = this.#pending.slice(0, this.#pending.length - hold);
    this.#pending = this.#pending.slice(this.#pending.length - hold);
    return out;
  }

  /** Releases whatever is held (end of generation without a stop string). */
  flush(): string {
    if (this.#stopped) return "";
    const out = this.#pending + this.#decoder.decode();
    this.#pending = "";
    return out;
  }
}
