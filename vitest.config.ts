import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Native libraries (onnxruntime, llama.cpp) are loaded once per worker; forks isolate aborts.
    pool: "forks",
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // CI also writes a JSON report, from which .ci/run prints the plain "N passed, N failed" line.
    reporters: process.env.CI ? ["default", "json"] : ["default"],
    outputFile: { json: ".ci/vitest-report.json" },
  },
});
