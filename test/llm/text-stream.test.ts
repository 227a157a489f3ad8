import { describe, expect, it } from "vitest";
import { TextStream } from "../../src/llm/text-stream.js";

const bytes = (s: string) => new TextEncoder().encode(s);

describe("TextStream", () => {
  it("stops at the earliest stop string in the text, whatever the list order", () => {
    const a = new TextStream(["</answer>", "\n"]);
    expect(a.push(bytes("ok\n more</answer>"))).toBe("ok");
    expect(a.stopped).toBe(true);
    const b = new TextStream(["END", "\n\n"]);
    expect(b.push(bytes("abc\n\nxyz END"))).toBe("abc");
  });

  it("holds back a possible start of a stop string until it is known", () => {
    const s = new TextStream(["STOP"]);
    expect(s.push(bytes("hello ST"))).toBe("hello ");
    expect(s.push(bytes("AR"))).toBe("STAR");
    expect(s.push(bytes("t ST"))).toBe("t ");
    expect(s.push(bytes("OP and more"))).toBe("");
    expect(s.stopped).toBe(true);
  });

  it("keeps UTF-8 characters split across tokens whole", () => {
    const s = new TextStream();
    const euro = bytes("€"); // 3 bytes
    expect(s.push(euro.subarray(0, 1))).toBe("");
    expect(s.push(euro.subarray(1))).toBe("€");
    expect(s.flush()).toBe("");
  });
});
