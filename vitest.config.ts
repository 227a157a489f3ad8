import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Native libraries (onnxruntime, llama.cpp) are loaded once per worker; forks isolate aborts.
    pool: "forks",
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
