// GPU fallback for real: this machine has no CUDA provider for onnxruntime (its shared library is not
// installed), so asking for it really fails, and vlmkit must fall back with one warning naming the
// install step. The same for the LLM's GPU layers on a CPU-only node-llama-cpp build.
import { describe, expect, it } from "vitest";
import { loadNativeLlama } from "../../src/llm/native-addon.js";
import { spawnCli } from "../helpers/spawn-cli.js";

const classify = [
  "classify",
  "examples/images/red-circle.png",
  "--labels",
  "red circle,blue square",
  "--encoder",
  "models/demo/siglip2",
];
const cpuOnly = (await loadNativeLlama()).llama.gpu === false;
const warnings = (stderr: string) => stderr.split("\n").filter((l) => l.includes("warning"));

describe("execution provider fallback", () => {
  it("cuda,cpu without the CUDA provider: one warning with the install step, then the CPU answers", async () => {
    const r = await spawnCli(classify, { VLMKIT_EXECUTION_PROVIDERS: "cuda,cpu" }).exited;
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("red circle");
    // Two sessions (vision and text tower) were created; the warning is said once.
    expect(warnings(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/execution provider "cuda" is not available .*ONNXRUNTIME_NODE_INSTALL=cuda12/);
    expect(r.stderr).not.toContain("[E:onnxruntime");
  });

  it("cuda alone fails with the install step and how to fall back", async () => {
    const r = await spawnCli(classify, { VLMKIT_EXECUTION_PROVIDERS: "cuda" }).exited;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /could not start execution provider "cuda".*ONNXRUNTIME_NODE_INSTALL=cuda12.*cuda,cpu/,
    );
  });

  it.runIf(cpuOnly)(
    "--gpu-layers on a CPU-only llama.cpp build: one warning, the layers run on the CPU",
    async () => {
      const r = await spawnCli([
        "ask",
        "examples/images/red-circle.png",
        "what color is the shape?",
        "--adapter",
        "shapes",
        "--gpu-layers",
        "4",
        "--max-tokens",
        "4",
      ]).exited;
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe("red");
      expect(warnings(r.stderr)).toHaveLength(1);
      expect(r.stderr).toMatch(
        /CPU-only llama\.cpp .*4 GPU layers run on the CPU.*source download --gpu cuda/,
      );
    },
  );
});
