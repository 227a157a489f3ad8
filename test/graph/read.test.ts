// readModel on bytes that are not an ONNX protobuf: a named error, not the protobuf library's own
// (truncations and bad tags were found by `npm run fuzz -- --format onnx`).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readModel } from "../../src/graph/read.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-graph-read-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const seed = fs.readFileSync("models/demo/siglip2/onnx/vision_model.onnx");

describe("readModel", () => {
  it("reads the demo vision model", async () => {
    expect(
      (await readModel("models/demo/siglip2/onnx/vision_model.onnx")).graph?.node.length,
    ).toBeGreaterThan(10);
  });

  it("names a truncated file or a bad tag as MODEL_FORMAT", async () => {
    const truncated = path.join(dir, "truncated.onnx");
    fs.writeFileSync(truncated, seed.subarray(0, 157));
    await expect(readModel(truncated)).rejects.toMatchObject({
      code: "MODEL_FORMAT",
      message: /truncated\.onnx is not an ONNX model: premature EOF/,
    });
    const tagged = path.join(dir, "tag.onnx");
    fs.writeFileSync(tagged, Buffer.from([0x0f, 0x01, 0x02]));
    await expect(readModel(tagged)).rejects.toMatchObject({ code: "MODEL_FORMAT" });
  });
});
