// Child process for test/llm/decode-thread.test.ts: leaves one context undisposed after a decode and
// disposes another while its decode runs, then returns from the script. The process must exit by
// itself (the decode threads keep the event loop alive only while a decode is outstanding).
// Usage: node --import tsx child-decode-exit.ts <tiny.gguf>
import { NativeModel } from "../../../src/llm/native.js";

const ggufPath = process.argv[2];
if (!ggufPath) throw new Error("usage: child-decode-exit.ts <gguf>");
const model = await NativeModel.load(ggufPath, { gpu: false });
const idle = model.createContext({ contextSize: 256 });
await idle.decode({ tokens: model.tokenize("left alone") });
const busy = model.createContext({ contextSize: 256 });
const running = busy.decode({ tokens: model.tokenize("disposed in flight") });
busy.dispose();
running.then(() => console.log("settled"));
