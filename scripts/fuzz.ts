/**
 * Seeded mutation fuzzing of the file formats vlmkit reads.
 *
 *   npm run fuzz -- --format gguf --cases 5000 [--seed 1] [--from 0] [--rss-mb 1024]
 *   npm run fuzz -- --format all --cases 500
 *   npm run fuzz -- --list
 *   npm run fuzz -- --format tokenizer --repro 11 [--save case.bin]   (one case in this process, with its stack)
 *
 * Prints each failure (crash, hang, unnamed error, memory) with its case index and mutations, then one
 * JSON line per format; exits 1 when any case failed. Case i of seed s is always the same input.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { FORMATS, formatByName } from "../test/fuzz/formats/index.js";
import { mutateCase } from "../test/fuzz/harness/mutate.js";
import { runFuzz } from "../test/fuzz/harness/run.js";

const { values } = parseArgs({
  options: {
    format: { type: "string", default: "all" },
    cases: { type: "string" },
    seed: { type: "string", default: "1" },
    from: { type: "string", default: "0" },
    "rss-mb": { type: "string", default: "1024" },
    list: { type: "boolean", default: false },
    repro: { type: "string" },
    save: { type: "string" },
  },
});

if (values.repro !== undefined) {
  await reproduce(values.format!, Number(values.seed), Number(values.repro), values.save);
  process.exit(0);
}

if (values.list) {
  for (const f of FORMATS) console.log(`${f.name.padEnd(16)} ${f.target}`);
  process.exit(0);
}
const names = values.format === "all" ? FORMATS.map((f) => f.name) : values.format!.split(",");
let failed = 0;
for (const format of names) {
  const report = await runFuzz({
    format,
    cases: values.cases === undefined ? undefined : Number(values.cases),
    seed: Number(values.seed),
    from: Number(values.from),
    rssMb: Number(values["rss-mb"]),
  });
  for (const f of report.failures) {
    console.error(
      `${format} case ${f.index} [${f.kind}] seed ${f.seed} (${f.mutations.join(", ")}): ${f.detail}`,
    );
  }
  failed += report.failures.length;
  console.log(JSON.stringify({ ...report, failures: report.failures.length }));
}
process.exit(failed > 0 ? 1 : 0);

/** Runs one case in this process and prints how it ended, with the stack of an error. */
async function reproduce(name: string, seed: number, index: number, save: string | undefined): Promise<void> {
  const format = formatByName(name);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `vlmkit-fuzz-repro-${name}-`));
  try {
    await format.prepare(dir);
    const input = mutateCase(await format.seeds(dir), seed, index);
    if (save) fs.writeFileSync(save, input.bytes);
    console.log(`case ${index}: seed ${input.seed.name}, ${input.mutations.join(", ")}`);
    const t0 = performance.now();
    try {
      await format.run(input, dir);
      console.log(`ok in ${Math.round(performance.now() - t0)} ms`);
    } catch (error) {
      console.log(`threw after ${Math.round(performance.now() - t0)} ms:`, error);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
