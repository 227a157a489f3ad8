/**
 * LLaVA instruction JSON: `[{id, image, conversations: [{from: "human", value: "<image>\n…"},
 * {from: "gpt", value: "…"}, …]}]`. Each human → gpt pair becomes one example with the record's
 * image (the trainer sees one prompt and one answer per example); later turns do not carry the
 * earlier ones as context. Records without an image (text-only rows of the LLaVA mixes) are bad rows.
 */
import { quoteValue } from "../../errors.js";
import { JsonArraySplitter } from "./dataset-json-array.js";
import { type BadRow, idOf, type RawRow, type RowElement } from "./dataset-rows.js";

const HUMAN = new Set(["human", "user"]);
const GPT = new Set(["gpt", "assistant"]);

/** The question without LLaVA's `<image>` marker and the newline that goes with it. */
export function stripImageMarker(text: string): string {
  return text.replace(/\n?<image>\n?/g, " ").trim();
}

/** The elements of a LLaVA JSON array, read in chunks: only the element being read is held. */
export async function* llavaElements(
  stream: AsyncIterable<Buffer>,
  file: string,
): AsyncGenerator<RowElement> {
  const splitter = new JsonArraySplitter(file);
  for await (const chunk of stream) yield* splitter.push(chunk);
  splitter.end();
}

/** One LLaVA record as one row per human → gpt pair, or why it is not usable. */
export function parseLlavaRecord(el: RowElement, file: string): RawRow[] | BadRow {
  const { line, text } = el;
  const fail = (reason: string): BadRow => ({ line, source: file, reason });
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch (cause) {
    return fail(`not valid JSON (${(cause as Error).message})`);
  }
  if (record === null || typeof record !== "object" || Array.isArray(record)) {
    return fail(`expected an object with image and conversations, got ${text.slice(0, 60)}`);
  }
  const r = record as Record<string, unknown>;
  if (r.image === undefined) return fail(`record ${quoteValue(r.id ?? null)} has no image`);
  const turns = r.conversations;
  if (!Array.isArray(turns) || turns.length < 2) {
    return fail(`conversations is ${quoteValue(turns, 60)}; expected human/gpt turns`);
  }
  const id = idOf(r) ?? `${line}`;
  const pairs: RawRow[] = [];
  for (let t = 0; t < turns.length; t += 2) {
    const q = turns[t] as Record<string, unknown> | null;
    const a = turns[t + 1] as Record<string, unknown> | null | undefined;
    // typeof first: String() of a deeply nested array recurses until the stack overflows.
    const from = (turn: Record<string, unknown> | null | undefined) =>
      typeof turn?.from === "string" ? turn.from : undefined;
    if (!HUMAN.has(from(q) ?? "") || !a || !GPT.has(from(a) ?? "")) {
      return fail(
        `turns ${t}–${t + 1} are from ${quoteValue(q?.from)} and ${quoteValue(a?.from)}; expected "human" then "gpt"`,
      );
    }
    const k = t / 2;
    pairs.push({
      line,
      id: k === 0 ? id : `${id}#${k + 1}`,
      image: r.image,
      prompt: typeof q?.value === "string" ? stripImageMarker(q.value) : q?.value,
      answer: a.value,
    });
  }
  return pairs;
}
