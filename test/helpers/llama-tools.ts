// llama.cpp's own tools for parity tests and benchmarks, built from node-llama-cpp's bundled source on
// first use and cached outside the clone (scripts/llama-tools.ts):
//   const cli = await llamaTool("llama-mtmd-cli"); // absolute path
export {
  LLAMA_TOOLS,
  type LlamaToolName,
  type LlamaToolsOptions,
  llamaTool,
  llamaToolsBuildInfo,
} from "../../scripts/llama-tools.js";
