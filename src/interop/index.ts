/** Two-way interop with llama.cpp's multimodal projector files (mmproj GGUF). See docs/interop.md. */
export { type ExportMmprojOptions, type ExportMmprojResult, exportMmproj } from "./export.js";
export { type ImportMmprojOptions, type ImportMmprojResult, importMmproj } from "./import.js";
export { EXPORTABLE_KINDS, PROJECTOR_KIND, PROJECTOR_TYPES, type ProjectorType } from "./mmproj-format.js";
export { MMPROJ_BOUNDS, type Mmproj, readLlmIdentity, readMmproj } from "./mmproj-read.js";
