/**
 * Soak the HTTP server on the tiny demo models: 16 concurrent clients for N minutes (default 5).
 *
 *   npm run soak -- --minutes 5 [--clients 16] [--seed 1]
 *
 * Prints the problems found (if any) and one JSON line: requests, errors, disconnects, RSS at the end
 * of warm-up and at the end, p50/p99 latency, load average. Exits 1 when a check failed.
 */
import { parseArgs } from "node:util";
import { runSoak } from "../test/soak/soak.js";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "5" },
    clients: { type: "string", default: "16" },
    seed: { type: "string", default: "1" },
  },
});
const report = await runSoak({
  seconds: Math.round(Number(values.minutes) * 60),
  clients: Number(values.clients),
  seed: Number(values.seed),
});
for (const p of report.problems) console.error(p);
const { problems, ...line } = report;
console.log(JSON.stringify({ ...line, problems: problems.length }));
process.exit(problems.length > 0 || report.errors > 0 ? 1 : 0);
