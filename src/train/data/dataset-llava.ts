/**
 * LLaVA instruction JSON: `[{id, image, conversations: [{from: "human", value: "<image>\n…"},
 * {from: "gpt", value: "…"}, …]}]`. Each human → gpt pair becomes one example with the record's
 * image (the trainer sees one prompt and one answer per example); later turns do not carry the
 * earlier ones as context. Records without an image (text-only rows of the LLaVA mixes) are bad rows.
 */
import fs from "node:fs";
import { DatasetError, quoteValue } from "../../errors.js";
import { splitJsonArray } from "./dataset-json-array.js";
import { type BadRow, idOf, type RawRow } from "./dataset-rows.js";

const HUMAN = new Set(["human", "user"]);
const GPT = new Set(["gpt", "assistant"]);

/** The question without LLaVA's `<image>` marker and the newline that goes with it. */
export function stripImageMarker(text: string): string {
  return text.replace(/\n?<image>\n?/g, " ").trim();
}

export async function readLlavaRows(file: string): Promise<{ rows: RawRow[]; bad: BadRow[] }> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.promises.readFile(file);
  } catch (cause) {
    throw new DatasetError(`dataset file ${file} cannot be read: ${(cause as Error).message}`, { cause });
  }
  const rows: RawRow[] = [];
  const bad: BadRow[] = [];
  for (const { line, text } of splitJsonArray(bytes, file)) {
    const fail = (reason: string) => bad.push({ line, source: file, reason });
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch (cause) {
      fail(`not valid JSON (${(cause as Error).message})`);
      continue;
    }
    if (record === null || typeof record !== "object" || Array.isArray(record)) {
      fail(`expected an object with image and conversations, got ${text.slice(0, 60)}`);
      continue;
    }
    const r = record as Record<string, unknown>;
    if (r.image === undefined) {
      fail(`record ${quoteValue(r.id ?? null)} has no image`);
      continue;
    }
    const turns = r.conversations;
    if (!Array.isArray(turns) || turns.length < 2) {
      fail(`conversations is ${quoteValue(turns, 60)}; expected human/gpt turns`);
      continue;
    }
    const id = idOf(r) ?? `${line}`;
    const pairs: RawRow[] = [];
    let problem: string | undefined;
    for (let t = 0; t < turns.length; t += 2) {
      const q = turns[t] as Record<string, unknown> | null;
      const a = turns[t + 1] as Record<string, unknown> | null | undefined;
      // typeof first: String() of a deeply nested array recurses until the stack overflows.
      const from = (turn: Record<string, unknown> | null | undefined) =>
        typeof turn?.from === "string" ? turn.from : undefined;
      if (!HUMAN.has(from(q) ?? "") || !a || !GPT.has(from(a) ?? "")) {
        problem = `turns ${t}–${t + 1} are from ${quoteValue(q?.from)} and ${quoteValue(a?.from)}; expected "human" then "gpt"`;
        break;
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
    if (problem) fail(problem);
    else rows.push(...pairs);
  }
  return { rows, bad };
}
