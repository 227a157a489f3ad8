// The thread governor's decisions on synthetic step timings (no model: the policy alone).
import { describe, expect, it } from "vitest";
import { ThreadGovernor } from "../../src/llm/thread-governor.js";

/** Runs `steps` token steps whose time per row is `msPerRow(threads)`; returns the threads each step used. */
function drive(g: ThreadGovernor, steps: number, msPerRow: (threads: number) => number, rows = 8): number[] {
  const used: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t = g.next();
    used.push(t);
    g.record(t, msPerRow(t) * rows, rows);
  }
  return used;
}

describe("ThreadGovernor", () => {
  it("stays on all threads when they are faster, probing one thread less and less often", () => {
    const g = new ThreadGovernor(2, { probeEvery: 8, probeSteps: 2, maxProbeEvery: 64 });
    const used = drive(g, 400, (t) => (t === 2 ? 5 : 6)); // quiet machine: 2 threads 17 % faster
    expect(g.current).toBe(2);
    expect(g.switches).toBe(0);
    const probes = used.filter((t) => t === 1).length;
    // intervals 8, 16, 32, 64, 64, …: far fewer probe steps than with a fixed interval of 8 (≈ 80)
    expect(probes).toBeGreaterThan(0);
    expect(probes).toBeLessThan(30);
    // the first probe comes after the first interval
    expect(used.slice(0, 8).every((t) => t === 2)).toBe(true);
    expect(used.slice(8, 10)).toEqual([1, 1]);
  });

  it("moves to one thread when the machine gets busy, and back when it is quiet again", () => {
    const g = new ThreadGovernor(2, { probeEvery: 8, probeSteps: 2 });
    let busy = false;
    const msPerRow = (t: number) => (busy ? (t === 2 ? 40 : 8) : t === 2 ? 5 : 6);
    drive(g, 50, msPerRow);
    expect(g.current).toBe(2);
    busy = true;
    drive(g, 200, msPerRow);
    expect(g.current).toBe(1);
    busy = false;
    drive(g, 600, msPerRow);
    expect(g.current).toBe(2);
    expect(g.switches).toBe(2);
  });

  it("a sudden slowdown starts a probe at once, even after many lost probes", () => {
    const g = new ThreadGovernor(2, { probeEvery: 8, probeSteps: 2, maxProbeEvery: 256 });
    let busy = false;
    const msPerRow = (t: number) => (busy ? (t === 2 ? 40 : 8) : t === 2 ? 5 : 6);
    drive(g, 1000, msPerRow); // quiet: the interval has grown to its maximum
    busy = true;
    const used = drive(g, 8, msPerRow);
    // two slow steps, then a two-step probe on one thread, which wins
    expect(used.slice(0, 4)).toEqual([2, 2, 1, 1]);
    expect(g.current).toBe(1);
  });

  it("does not switch on a difference within the margin", () => {
    const g = new ThreadGovernor(4, { probeEvery: 4, probeSteps: 2, margin: 0.1 });
    drive(g, 300, (t) => (t === 4 ? 10 : 9.5)); // 5 % faster: not enough
    expect(g.current).toBe(4);
    expect(g.switches).toBe(0);
  });

  it("compares steps of equal rows only, so a bigger batch during a probe neither wins nor loses", () => {
    const g = new ThreadGovernor(2, { probeEvery: 4, probeSteps: 2 });
    // Cost per step grows with rows but not in proportion (a fixed part per step).
    const ms = (t: number, rows: number) => (t === 2 ? 1 : 1.2) * (20 + rows);
    for (let i = 0; i < 200; i++) {
      const t = g.next();
      const rows = t === 1 ? 16 : 2; // probes happen to get more rows: per row they would look 4× faster
      g.record(t, ms(t, rows), rows);
    }
    expect(g.current).toBe(2);
    expect(g.switches).toBe(0);
  });

  it("varying rows: the faster count wins when rows are comparable", () => {
    const g = new ThreadGovernor(2, { probeEvery: 4, probeSteps: 4 });
    const ms = (t: number, rows: number) => (t === 2 ? 3 : 1) * (20 + rows); // busy: 1 thread 3× faster
    for (let i = 0; i < 300; i++) {
      const t = g.next();
      g.record(t, ms(t, 1 + (i % 3)), 1 + (i % 3));
    }
    expect(g.current).toBe(1);
  });

  it("with one thread there is nothing to choose", () => {
    const g = new ThreadGovernor(1);
    expect(drive(g, 100, () => 1).every((t) => t === 1)).toBe(true);
  });
});
