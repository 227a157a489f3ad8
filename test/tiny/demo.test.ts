// models/demo is what `vlmkit tiny` writes: the bundled files must stay in step with the generators.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeTinyDemo } from "../../src/tiny/demo.js";

const bundled = path.join(import.meta.dirname, "..", "..", "models", "demo");
const fresh = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-demo-"));
afterAll(() => fs.rmSync(fresh, { recursive: true, force: true }));

function files(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

describe("bundled demo models", () => {
  it("equal, byte for byte, a fresh `vlmkit tiny` (regenerate with `vlmkit tiny models/demo`)", async () => {
    await writeTinyDemo(fresh);
    expect(files(bundled)).toEqual(files(fresh));
    for (const f of files(fresh)) {
      expect(fs.readFileSync(path.join(bundled, f)).equals(fs.readFileSync(path.join(fresh, f))), f).toBe(true);
    }
  });
});
