// Child process for test/llm/native-validation.test.ts: feeds the addon every kind of bad input that
// would make llama.cpp abort (GGML_ASSERT) or misbehave if it reached it, and prints one JSON line per
// case with the error code it got. Run apart from the test runner so that an abort fails one test
// instead of killing the runner. Usage: node --import tsx child-native-validation.ts <tiny.gguf>
import { loadNativeLlama } from "../../../src/llm/native-addon.js";

type Case = { name: string; run: () => unknown };

const ggufPath = process.argv[2];
if (!ggufPath) throw new Error("usage: child-native-validation.ts <gguf>");

const { addon } = await loadNativeLlama({ gpu: false });
const model = await addon.loadModel(ggufPath, { gpuLayers: 0, useMmap: true });
const { nVocab, nEmbdInp } = model.info();
const base = {
  contextSize: 256,
  batchSize: 32,
  ubatchSize: 8,
  sequences: 2,
  threads: 2,
  flashAttention: "auto" as const,
  threadpoolPoll: 0,
};
const ctx = new addon.NativeContext(model, { ...base, kvUnified: true });
const split = new addon.NativeContext(model, { ...base, kvUnified: false });

const i32 = (...v: number[]) => Int32Array.from(v);
const range = (n: number, start = 0) => Int32Array.from({ length: n }, (_, i) => start + i);
/** A token batch for seq 0 starting at position 0, logits on the last row. */
const tokenBatch = (tokens: Int32Array, extra: Record<string, unknown> = {}) => ({
  tokens,
  positions: range(tokens.length),
  seqIds: new Int32Array(tokens.length),
  logits: Uint8Array.from({ length: tokens.length }, (_, i) => (i === tokens.length - 1 ? 1 : 0)),
  causal: true,
  ...extra,
});
const embdBatch = (rows: number, extra: Record<string, unknown> = {}) => ({
  embeddings: new Float32Array(rows * nEmbdInp).fill(0.1),
  positions: range(rows),
  seqIds: new Int32Array(rows),
  logits: new Uint8Array(rows).fill(1),
  causal: true,
  ...extra,
});
// biome-ignore lint/suspicious/noExplicitAny: deliberately wrong types, as untyped JavaScript may pass
const anyCtx = ctx as any;
// biome-ignore lint/suspicious/noExplicitAny: see above
const anyAddon = addon as any;

const cases: Case[] = [
  { name: "non-causal batch longer than ubatch", run: () => ctx.decode(embdBatch(16, { causal: false })) },
  { name: "batch longer than n_batch", run: () => ctx.decode(tokenBatch(new Int32Array(40).fill(5))) },
  { name: "token id = n_vocab", run: () => ctx.decode(tokenBatch(i32(2, nVocab))) },
  { name: "negative token id", run: () => ctx.decode(tokenBatch(i32(-1))) },
  {
    name: "embedding width != n_embd",
    run: () => ctx.decode({ ...embdBatch(1), embeddings: new Float32Array(nEmbdInp - 1) }),
  },
  {
    name: "non-finite embedding",
    run: () => ctx.decode({ ...embdBatch(1), embeddings: new Float32Array(nEmbdInp).fill(Number.NaN) }),
  },
  { name: "seq id >= n_seq_max", run: () => ctx.decode(tokenBatch(i32(2), { seqIds: i32(2) })) },
  { name: "negative seq id", run: () => ctx.decode(tokenBatch(i32(2), { seqIds: i32(-1) })) },
  { name: "position beyond n_ctx", run: () => ctx.decode(tokenBatch(i32(2), { positions: i32(256) })) },
  { name: "negative position", run: () => ctx.decode(tokenBatch(i32(2), { positions: i32(-3) })) },
  { name: "positions with a gap", run: () => ctx.decode(tokenBatch(i32(2, 5), { positions: i32(0, 2) })) },
  { name: "positions length mismatch", run: () => ctx.decode(tokenBatch(i32(2, 5), { positions: i32(0) })) },
  { name: "empty batch", run: () => ctx.decode(tokenBatch(new Int32Array(0))) },
  { name: "tokens and embeddings together", run: () => ctx.decode({ ...embdBatch(1), tokens: i32(2) }) },
  { name: "tokens as a plain array", run: () => anyCtx.decode({ ...tokenBatch(i32(2)), tokens: [2] }) },
  {
    name: "positions as Float32Array",
    run: () => anyCtx.decode({ ...tokenBatch(i32(2)), positions: new Float32Array(1) }),
  },
  { name: "batch is null", run: () => anyCtx.decode(null) },
  { name: "logits of a row without logits", run: () => ctx.logits(0) },
  { name: "logits row as a string", run: () => anyCtx.logits("0") },
  { name: "seq op on seq id >= n_seq_max", run: () => ctx.seqPosMax(2) },
  { name: "reversed range", run: () => ctx.seqRemove(0, 5, 2) },
  { name: "partial seqCopy without a unified KV cache", run: () => split.seqCopy(0, 1, 0, 4) },
  {
    name: "contextSize is a string",
    run: () => new anyAddon.NativeContext(model, { ...base, kvUnified: true, contextSize: "big" }),
  },
  {
    name: "ubatch larger than batch",
    run: () => new addon.NativeContext(model, { ...base, kvUnified: true, ubatchSize: 64 }),
  },
  {
    name: "unknown flashAttention",
    run: () => new anyAddon.NativeContext(model, { ...base, kvUnified: true, flashAttention: "yes" }),
  },
  {
    name: "threadpool polling level out of range",
    run: () => new addon.NativeContext(model, { ...base, kvUnified: true, threadpoolPoll: 101 }),
  },
  { name: "context of a non-model", run: () => new anyAddon.NativeContext({}, { ...base, kvUnified: true }) },
  {
    name: "sampler without a final choice",
    run: () => new addon.NativeSampler(model, [{ type: "topK", k: 5 }]),
  },
  {
    name: "sampler top-p above 1",
    run: () => new addon.NativeSampler(model, [{ type: "topP", p: 2 }, { type: "greedy" }]),
  },
  { name: "sampler unknown stage", run: () => new anyAddon.NativeSampler(model, [{ type: "mirostat" }]) },
  {
    name: "sampler penalties lastN beyond the bound",
    run: () =>
      new addon.NativeSampler(model, [
        { type: "penalties", lastN: 2 ** 31 - 1, repeat: 1.1, frequency: 0, presence: 0 },
        { type: "greedy" },
      ]),
  },
  {
    name: "sampler stage type read once (a getter cannot drop the final choice)",
    run: () => {
      let reads = 0;
      const sneaky = {
        get type() {
          reads++;
          return reads === 1 ? "greedy" : "topK";
        },
        k: 1,
      };
      const s = new anyAddon.NativeSampler(model, [sneaky]);
      s.dispose();
      return reads === 1
        ? undefined
        : Promise.reject(Object.assign(new Error(`type read ${reads} times`), { code: "READ_TWICE" }));
    },
  },
  {
    name: "a batch getter that disposes the context",
    run: () => {
      const victim = new addon.NativeContext(model, { ...base, kvUnified: true });
      return victim.decode({
        get tokens() {
          victim.dispose();
          return i32(2, 5);
        },
        positions: range(2),
        seqIds: new Int32Array(2),
        logits: Uint8Array.of(0, 1),
        causal: true,
      } as never);
    },
  },
  {
    // The getter runs while the addon reads the batch: it detaches `positions` (transferring its
    // buffer to a new owner that overwrites it). The addon must read every property before it takes
    // any typed array's data, so it sees the detached (empty) array rather than freed memory.
    name: "a batch getter that detaches an array read earlier",
    run: () => {
      const victim = new addon.NativeContext(model, { ...base, kvUnified: true });
      const positions = range(2);
      return victim.decode({
        tokens: i32(2, 5),
        positions,
        seqIds: new Int32Array(2),
        logits: Uint8Array.of(0, 1),
        get causal() {
          const moved = structuredClone(positions.buffer, { transfer: [positions.buffer] });
          new Int32Array(moved).fill(100_000);
          return true;
        },
      } as never);
    },
  },
  {
    name: "a batch getter that detaches the array read just before it",
    run: () => {
      const victim = new addon.NativeContext(model, { ...base, kvUnified: true });
      const seqIds = new Int32Array(2);
      return victim.decode({
        tokens: i32(2, 5),
        positions: range(2),
        seqIds,
        get logits() {
          const moved = structuredClone(seqIds.buffer, { transfer: [seqIds.buffer] });
          new Int32Array(moved).fill(7);
          return Uint8Array.of(0, 1);
        },
        causal: true,
      } as never);
    },
  },
  {
    name: "sample a row without logits",
    run: () => new addon.NativeSampler(model, [{ type: "greedy" }]).sample(ctx, 0),
  },
  {
    name: "accept token out of range",
    run: () => new addon.NativeSampler(model, [{ type: "greedy" }]).accept(nVocab),
  },
  {
    name: "tokenize a number",
    run: () =>
      (model as unknown as { tokenize: (x: unknown, a: boolean, b: boolean) => unknown }).tokenize(
        5,
        false,
        false,
      ),
  },
  { name: "detokenize token out of range", run: () => model.detokenize(i32(nVocab + 3), false, false) },
  { name: "tokenText of token -1", run: () => model.tokenText(-1) },
  { name: "construct a model directly", run: () => new anyAddon.NativeModel() },
  {
    name: "load a missing file",
    run: () => addon.loadModel("/nonexistent/model.gguf", { gpuLayers: 0, useMmap: true }),
  },
  {
    name: "second decode while one runs",
    run: async () => {
      const first = ctx.decode(tokenBatch(i32(2, 5, 6)));
      let refused: unknown;
      try {
        await ctx.decode(tokenBatch(i32(7), { positions: i32(3) }));
      } catch (error) {
        refused = error;
      }
      await first;
      ctx.seqRemove(0, -1, -1);
      if (refused) throw refused;
    },
  },
  {
    name: "KV cache full",
    run: async () => {
      const big = new addon.NativeContext(model, {
        ...base,
        batchSize: 256,
        ubatchSize: 256,
        kvUnified: true,
      });
      await big.decode({ ...tokenBatch(new Int32Array(200).fill(5)) });
      const rows = 100;
      return big.decode({
        tokens: new Int32Array(rows).fill(6),
        positions: range(rows),
        seqIds: new Int32Array(rows).fill(1),
        logits: new Uint8Array(rows),
        causal: true,
      });
    },
  },
  {
    name: "disposed sampler",
    run: () => {
      const other = new addon.NativeSampler(model, [{ type: "greedy" }]);
      other.dispose();
      return other.reset();
    },
  },
];

for (const c of cases) {
  let code = "NONE";
  let message = "";
  try {
    await c.run();
  } catch (error) {
    const e = error as Error & { code?: string };
    code = e.code ?? "NO_CODE";
    message = e.message;
  }
  console.log(JSON.stringify({ name: c.name, code, message }));
}

// After every refusal the context still works.
await ctx.decode(tokenBatch(i32(2, 5, 6)));
console.log(
  JSON.stringify({ name: "valid decode afterwards", code: "OK", message: String(ctx.logits(2).length) }),
);
model.dispose();
for (const [name, fn] of [
  ["tokenize after model dispose", () => model.tokenize("a", false, false)],
  ["context of a disposed model", () => new addon.NativeContext(model, { ...base, kvUnified: true })],
] as const) {
  console.log(JSON.stringify({ name, code: catchCode(fn), message: "" }));
}

function catchCode(fn: () => unknown): string {
  try {
    fn();
    return "NONE";
  } catch (error) {
    return (error as { code?: string }).code ?? "NO_CODE";
  }
}
