// The 30-second soak (`npm run soak` runs minutes): 16 clients against a server process on the demo
// models; see soak.ts for what each client sends and what is checked.
import { describe, expect, it } from "vitest";
import { runSoak } from "./soak.js";

describe("soak", () => {
  it("30 s of 16 mixed clients: no 5xx, greedy answers as alone, bounded RSS, nothing busy at the end", async () => {
    // 30 s is too short for RSS to reach its plateau (290 → 341 MiB was seen once at load 9): the
    // suite bounds growth at 35 %; the < 10 % target belongs to `npm run soak` (minutes).
    const report = await runSoak({ seconds: 30, clients: 16, maxRssGrowth: 0.35 });
    console.log(JSON.stringify({ ...report, problems: report.problems.length }));
    expect(report.problems).toEqual([]);
    expect(report.errors).toBe(0);
    expect(report.busyAtEnd).toBe(0);
    expect(report.requests).toBeGreaterThan(100);
    expect(report.disconnects).toBeGreaterThan(0);
  }, 300_000);
});
