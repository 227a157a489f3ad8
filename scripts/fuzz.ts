/**
 * Seeded mutation fuzzing of the file formats vlmkit reads.
 *
 *   npm run fuzz -- --format gguf --cases 5000 [--seed 1] [--from 0] [--rss-mb 1024]
 *   npm run fuzz -- --format all --cases 500
 *   npm run fuzz -- --list
 *
 * Prints each failure (crash, hang, unnamed error, memory) with its case index and mutations, then one
 * JSON line per format; exits 1 when any case failed. Case i of seed s is always the same input.
 */
import { parseArgs } from "node:util";
import { FORMATS } from "../test/fuzz/formats/index.js";
import { runFuzz } from "../test/fuzz/harness/run.js";

const { values } = parseArgs({
  options: {
    format: { type: "string", default: "all" },
    cases: { type: "string" },
    seed: { type: "string", default: "1" },
    from: { type: "string", default: "0" },
    "rss-mb": { type: "string", default: "1024" },
    list: { type: "boolean", default: false },
  },
});

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
