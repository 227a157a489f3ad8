/** Collects prompt pieces into segments: runs of control tokens and runs of plain text, split only where needed. */
import type { PromptSegment } from "./types.js";

export class SegmentList {
  readonly segments: PromptSegment[] = [];
  /** When set, the next text starts a new segment even if the last one has the same kind. */
  private sealed = false;

  /** Control tokens (`<bos>`, `<start_of_turn>`...), tokenized with special-token parsing. */
  control(text: string): this {
    return this.text(text, true);
  }

  /** Plain text, tokenized literally. Adjacent plain pieces merge, as one string would tokenize. */
  plain(text: string): this {
    return text === "" ? this : this.text(text, false);
  }

  image(image: number, tokens: number): this {
    this.segments.push({ kind: "image", image, tokens });
    this.sealed = false;
    return this;
  }

  /**
   * Ends the current text segment: the next piece is tokenized separately. Used where the reference
   * tokenizes separately too (PaliGemma prefix / suffix) and where labels or generation begin.
   */
  seal(): this {
    this.sealed = true;
    return this;
  }

  get length(): number {
    return this.segments.length;
  }

  private text(text: string, special: boolean): this {
    const last = this.segments[this.segments.length - 1];
    if (!this.sealed && last?.kind === "text" && last.special === special) {
      this.segments[this.segments.length - 1] = { kind: "text", text: last.text + text, special };
    } else {
      this.segments.push({ kind: "text", text, special });
    }
    this.sealed = false;
    return this;
  }
}
