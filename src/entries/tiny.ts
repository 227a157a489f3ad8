/** `vlmkit/tiny`: writers of tiny random-weight models in the real formats, for tests and demos offline. */
export { type TinyDemo, writeTinyDemo } from "../tiny/demo.js";
export { writeTinyGemma3Gguf } from "../tiny/gemma3.js";
export { writeTinySiglip } from "../tiny/siglip.js";
