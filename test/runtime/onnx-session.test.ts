// The session factory is the one place sessions are created: its options reach onnxruntime (the
// worker threads it starts are counted in /proc), its defaults come from env.ts, and bad input is a
// named error.

import * as ort from "onnxruntime-node";
import { afterEach, describe, expect, it } from "vitest";
import { defaultThreads } from "../../src/env.js";
import { InvalidArgumentError, ModelFormatError } from "../../src/errors.js";
import { Graph, serializeModel } from "../../src/graph/index.js";
import { createOnnxSession, onnxSessionOptions } from "../../src/runtime/onnx-session.js";
import { canCountThreads, liveThreads } from "../helpers/threads.js";

/** y = x + x over [n, 4]. */
function doubler(): Uint8Array {
  const g = new Graph("doubler");
  const x = g.input("x", "float32", ["n", 4]);
  g.output(g.add(x, x), "y");
  return serializeModel(g);
}

const savedProviders = process.env.VLMKIT_EXECUTION_PROVIDERS;
afterEach(() => {
  if (savedProviders === undefined) delete process.env.VLMKIT_EXECUTION_PROVIDERS;
  else process.env.VLMKIT_EXECUTION_PROVIDERS = savedProviders;
});

describe("onnxSessionOptions", () => {
  it("fills the defaults: physical cores, one inter-op thread, every optimization, spinning allowed", () => {
    delete process.env.VLMKIT_EXECUTION_PROVIDERS;
    expect(onnxSessionOptions()).toEqual({
      executionProviders: ["cpu"],
      intraOpNumThreads: defaultThreads(),
      interOpNumThreads: 1,
      graphOptimizationLevel: "all",
      extra: { session: { intra_op: { allow_spinning: "1" } } },
    });
  });

  it("takes threads, spinning and providers from the options, providers by default from the environment", () => {
    process.env.VLMKIT_EXECUTION_PROVIDERS = "cuda, cpu";
    expect(onnxSessionOptions().executionProviders).toEqual(["cuda", "cpu"]);
    const o = onnxSessionOptions({ threads: 3, allowSpinning: false, executionProviders: ["cpu"] });
    expect(o.intraOpNumThreads).toBe(3);
    expect(o.executionProviders).toEqual(["cpu"]);
    expect(o.extra).toEqual({ session: { intra_op: { allow_spinning: "0" } } });
  });

  it("refuses a thread count that is not a positive integer", () => {
    for (const threads of [0, -1, 1.5, Number.NaN]) {
      expect(() => onnxSessionOptions({ threads })).toThrow(InvalidArgumentError);
    }
    expect(() => onnxSessionOptions({ threads: 0 })).toThrow("threads must be a positive integer, got 0");
  });
});

describe("createOnnxSession", () => {
  it("runs a model with spinning off (the config entry is accepted by onnxruntime)", async () => {
    const session = await createOnnxSession(doubler(), { threads: 2, allowSpinning: false });
    try {
      const out = await session.run({
        x: new ort.Tensor("float32", Float32Array.from([1, 2, 3, 4]), [1, 4]),
      });
      expect(Array.from(out.y.data as Float32Array)).toEqual([2, 4, 6, 8]);
    } finally {
      await session.release();
    }
  });

  it.runIf(canCountThreads)("starts threads - 1 intra-op workers and stops them on release", async () => {
    // The first session of a process starts onnxruntime's own environment; count after it.
    await (await createOnnxSession(doubler(), { threads: 1 })).release();
    const before = liveThreads();
    const session = await createOnnxSession(doubler(), { threads: 4 });
    expect(liveThreads() - before).toBe(3);
    await session.release();
    expect(liveThreads()).toBe(before);
    const single = await createOnnxSession(doubler(), { threads: 1 });
    expect(liveThreads()).toBe(before);
    await single.release();
  });

  it("turns onnxruntime's refusal into a ModelFormatError naming the model", async () => {
    await expect(createOnnxSession(Uint8Array.from([1, 2, 3]), {}, "the test graph")).rejects.toThrow(
      ModelFormatError,
    );
    await expect(createOnnxSession(Uint8Array.from([1, 2, 3]), {}, "the test graph")).rejects.toThrow(
      /^onnxruntime could not load the test graph: /,
    );
    await expect(createOnnxSession("/nonexistent/model.onnx")).rejects.toThrow(
      /onnxruntime could not load \/nonexistent\/model\.onnx/,
    );
  });
});
