/**
 * Seeded mutations of file contents. Every case is a pure function of (run seed, case index), so a
 * failure found in a run of 5000 is reproduced by its index alone.
 *
 * Binary inputs: bit flips, interesting bytes, truncation, removed / duplicated chunks, inflated u32 /
 * u64 words at random offsets and, where the format names its fields (`Field`), boundary values in
 * exactly those length, count, type and dim fields. JSON inputs: the parsed tree is mutated (values of
 * the wrong type, huge numbers and dims, negative and fractional numbers, long strings, long arrays,
 * deep nesting, removed keys), then sometimes the text too.
 */
import { SeededRandom } from "../../../src/util/random.js";

/** A field of a seed file that a structure-aware mutation may overwrite. */
export interface Field {
  offset: number;
  /** Little-endian integer width in bytes. */
  width: 4 | 8;
  kind: "length" | "count" | "type" | "dim" | "offset";
}

export interface Seed {
  /** Name of the file (or member of a model directory) this seed stands for. */
  name: string;
  bytes: Buffer;
  /** How to mutate it: bytes, or the JSON tree then bytes, or lines of JSON. */
  kind: "binary" | "json" | "jsonl";
  fields?: readonly Field[];
  /** Builds the file from the mutated bytes (e.g. a mutated JSON header put back in front of its data). */
  wrap?: (mutated: Buffer) => Buffer;
}

/** One case's input: the seed it came from and the mutated bytes. */
export interface FuzzInput {
  seed: Seed;
  bytes: Buffer;
  /** What was done, for the report. */
  mutations: string[];
}

/** Deterministic PRNG for case `index` of a run seeded with `seed`. */
export function caseRandom(seed: number, index: number): SeededRandom {
  return new SeededRandom(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35));
}

export function mutateCase(seeds: readonly Seed[], seed: number, index: number): FuzzInput {
  const rng = caseRandom(seed, index);
  const s = seeds[rng.int(seeds.length)];
  const mutations: string[] = [];
  let bytes: Buffer;
  if (s.kind === "json" && rng.next() < 0.75) {
    bytes = mutateJsonText(s.bytes, rng, mutations);
    if (rng.next() < 0.2) bytes = mutateBytes(bytes, undefined, rng, mutations, 1);
  } else if (s.kind === "jsonl" && rng.next() < 0.75) {
    bytes = mutateJsonLines(s.bytes, rng, mutations);
  } else {
    bytes = mutateBytes(s.bytes, s.fields, rng, mutations, 1 + rng.int(3));
  }
  return { seed: s, bytes: s.wrap ? s.wrap(bytes) : bytes, mutations };
}

const U32_VALUES = [
  0, 1, 2, 3, 4, 7, 8, 9, 12, 13, 30, 255, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff,
];
const U64_VALUES = [
  0n,
  1n,
  2n,
  8n,
  0x7fffffffn,
  0xffffffffn,
  0x100000000n,
  0x7fffffffffffffffn,
  0x8000000000000000n,
  0xffffffffffffffffn,
];

function mutateBytes(
  input: Buffer,
  fields: readonly Field[] | undefined,
  rng: SeededRandom,
  log: string[],
  rounds: number,
): Buffer {
  let b = Buffer.from(input);
  for (let r = 0; r < rounds; r++) {
    if (b.length === 0) break;
    const op = fields && fields.length > 0 && rng.next() < 0.4 ? "field" : pick(rng, BYTE_OPS);
    switch (op) {
      case "field": {
        const f = fields![rng.int(fields!.length)];
        if (f.offset + f.width > b.length) break;
        const value = fieldValue(f, b, rng);
        if (f.width === 4) b.writeUInt32LE(Number(value & 0xffffffffn), f.offset);
        else b.writeBigUInt64LE(value, f.offset);
        log.push(`${f.kind}@${f.offset}=${value}`);
        break;
      }
      case "bitflip": {
        const n = 1 + rng.int(8);
        for (let i = 0; i < n; i++) {
          const at = rng.int(b.length);
          b[at] ^= 1 << rng.int(8);
        }
        log.push(`bitflip×${n}`);
        break;
      }
      case "byte": {
        const at = rng.int(b.length);
        b[at] = pick(rng, [0, 0xff, 0x7f, 0x80, 0x20, 0x22, 0x5c, 0x7b]);
        log.push(`byte@${at}`);
        break;
      }
      case "truncate": {
        const at = rng.next() < 0.5 ? rng.int(Math.min(b.length, 256)) : rng.int(b.length);
        b = b.subarray(0, at);
        log.push(`truncate@${at}`);
        break;
      }
      case "cut": {
        const at = rng.int(b.length);
        const n = 1 + rng.int(Math.min(64, b.length - at));
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + n)]);
        log.push(`cut@${at}+${n}`);
        break;
      }
      case "duplicate": {
        const at = rng.int(b.length);
        const n = 1 + rng.int(Math.min(256, b.length - at));
        b = Buffer.concat([b.subarray(0, at + n), b.subarray(at, at + n), b.subarray(at + n)]);
        log.push(`duplicate@${at}+${n}`);
        break;
      }
      case "word": {
        if (b.length < 8) break;
        const at = rng.int(b.length - 7);
        if (rng.next() < 0.5) b.writeUInt32LE(pick(rng, U32_VALUES), at);
        else b.writeBigUInt64LE(pick(rng, U64_VALUES), at);
        log.push(`word@${at}`);
        break;
      }
    }
  }
  return b;
}

const BYTE_OPS = ["bitflip", "bitflip", "byte", "truncate", "cut", "duplicate", "word", "word"] as const;

function fieldValue(f: Field, b: Buffer, rng: SeededRandom): bigint {
  const current = f.width === 4 ? BigInt(b.readUInt32LE(f.offset)) : b.readBigUInt64LE(f.offset);
  const near = [
    current + 1n,
    current > 0n ? current - 1n : 0n,
    current * 2n,
    current * 1000n,
    BigInt(b.length),
  ];
  const all = f.width === 4 ? [...U32_VALUES.map(BigInt), ...near] : [...U64_VALUES, ...near];
  const mask = f.width === 4 ? 0xffffffffn : 0xffffffffffffffffn;
  return pick(rng, all) & mask;
}

/** A value of another type or an extreme of the same type, sized so that building it stays cheap. */
function hostileValue(rng: SeededRandom, original: unknown): unknown {
  const choices: (() => unknown)[] = [
    () => null,
    () => true,
    () => "",
    () => "x".repeat(1 + rng.int(200_000)),
    () => pick(rng, [0, -1, 1, 0.5, -0.5, 1e308, -1e308, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 63, 1e-300]),
    () => Number.MAX_SAFE_INTEGER,
    () => [],
    () => ({}),
    () => Array.from({ length: 1 + rng.int(50_000) }, (_, i) => i),
    () => [pick(rng, [1e9, 65536, 2 ** 31]), pick(rng, [1e9, 65536, 2 ** 31])],
    () => nest(1 + rng.int(5000)),
    () => "\u0000\ud800{}\\",
  ];
  if (typeof original === "number") {
    choices.push(
      () => original * 1000,
      () => -original,
      () => original + 0.5,
      () => String(original),
    );
  }
  if (typeof original === "string") {
    // at most ~1 M characters, so that a value mutated twice stays a fuzz case rather than a large file
    const times = Math.max(
      1,
      Math.min(1 + rng.int(1000), Math.floor(1_000_000 / Math.max(1, original.length))),
    );
    choices.push(
      () => original.repeat(times),
      () => Number(original),
    );
  }
  if (Array.isArray(original))
    choices.push(
      () => original.slice(1),
      () => [...original, ...original],
    );
  return pick(rng, choices)();
}

/** Deep nesting is spliced into the text after `JSON.stringify`, which would overflow the stack on it. */
const NEST = "\u0001nest:";

function nest(depth: number): unknown {
  return `${NEST}${depth}`;
}

function stringify(root: unknown): string {
  return JSON.stringify(root).replace(
    /"\\u0001nest:(\d+)"/g,
    (_, n) => `${"[".repeat(Number(n))}1${"]".repeat(Number(n))}`,
  );
}

/** Every container path of a JSON tree (bounded), to pick a mutation site from. */
function paths(root: unknown, limit = 5000): (string | number)[][] {
  const out: (string | number)[][] = [];
  const walk = (v: unknown, p: (string | number)[]) => {
    if (out.length >= limit) return;
    out.push(p);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) if (i < 64 || i % 97 === 0) walk(v[i], [...p, i]);
    } else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) walk(x, [...p, k]);
  };
  walk(root, []);
  return out;
}

function mutateJsonTree(root: unknown, rng: SeededRandom, log: string[]): unknown {
  const ps = paths(root);
  const n = 1 + rng.int(3);
  for (let i = 0; i < n; i++) {
    const p = ps[rng.int(ps.length)];
    if (p.length === 0) {
      root = hostileValue(rng, root);
      log.push("root");
      continue;
    }
    let parent: unknown = root;
    for (const k of p.slice(0, -1)) parent = (parent as Record<string | number, unknown>)?.[k];
    if (!parent || typeof parent !== "object") continue;
    const key = p[p.length - 1];
    const obj = parent as Record<string | number, unknown>;
    if (rng.next() < 0.15 && !Array.isArray(parent)) {
      delete obj[key];
      log.push(`delete ${p.join(".")}`);
    } else {
      obj[key] = hostileValue(rng, obj[key]);
      log.push(`set ${p.join(".")}`);
    }
  }
  return root;
}

function mutateJsonText(bytes: Buffer, rng: SeededRandom, log: string[]): Buffer {
  let root: unknown;
  try {
    root = JSON.parse(bytes.toString("utf8"));
  } catch {
    return mutateBytes(bytes, undefined, rng, log, 1);
  }
  return Buffer.from(stringify(mutateJsonTree(root, rng, log)));
}

function mutateJsonLines(bytes: Buffer, rng: SeededRandom, log: string[]): Buffer {
  const lines = bytes.toString("utf8").split("\n");
  const n = 1 + rng.int(3);
  for (let i = 0; i < n; i++) {
    const at = rng.int(lines.length);
    const op = rng.int(5);
    if (op === 0) {
      lines.splice(at, 1);
      log.push(`drop line ${at}`);
    } else if (op === 1) {
      lines.splice(at, 0, lines[at] ?? "");
      log.push(`repeat line ${at}`);
    } else if (op === 2) {
      lines[at] = mutateBytes(Buffer.from(lines[at] ?? ""), undefined, rng, log, 1).toString("utf8");
    } else {
      lines[at] = mutateJsonText(Buffer.from(lines[at] ?? "{}"), rng, log).toString("utf8");
    }
  }
  return Buffer.from(lines.join("\n"));
}

function pick<T>(rng: SeededRandom, items: readonly T[]): T {
  return items[rng.int(items.length)];
}
