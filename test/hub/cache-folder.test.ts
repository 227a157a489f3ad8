// The hub cache folder name is built and parsed in one module (hub/cache.ts); encoderId reads it back.
import path from "node:path";
import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../src/errors.js";
import { cachedRepoOf, repoFolderName, repoFromFolderName } from "../../src/hub/cache.js";
import { encoderId } from "../../src/vlm/encoder-id.js";

describe("hub cache folder names", () => {
  it("round-trips org/name through models--org--name", () => {
    for (const repo of ["google/siglip2-base-patch16-224", "Xenova/siglip-base-patch16-224", "a/b.c_d-e"]) {
      expect(repoFromFolderName(repoFolderName(repo))).toBe(repo);
    }
    expect(repoFolderName("acme/tiny")).toBe("models--acme--tiny");
  });

  it("refuses a bad repo id and reads no repo from another folder name", () => {
    expect(() => repoFolderName("../etc")).toThrow(InvalidArgumentError);
    expect(repoFromFolderName("snapshots")).toBeUndefined();
    expect(repoFromFolderName("datasets--acme--x")).toBeUndefined();
  });

  it("finds the repo of a directory inside a snapshot, and none outside a hub cache", () => {
    const snapshot = path.join("/cache", "hub", "models--acme--tiny-encoder", "snapshots", "abc");
    expect(cachedRepoOf(snapshot)).toBe("acme/tiny-encoder");
    expect(cachedRepoOf(path.join(snapshot, "onnx"))).toBe("acme/tiny-encoder");
    expect(cachedRepoOf(path.join("/models", "siglip"))).toBeUndefined();
  });

  it("gives encoderId the registry id, the repo, or the directory name", () => {
    const inCache = (repo: string) => path.join("/cache", repoFolderName(repo), "snapshots", "0123");
    expect(encoderId(inCache("Xenova/siglip-base-patch16-224"))).toBe("siglip-base-patch16-224");
    expect(encoderId(inCache("acme/tiny-encoder"))).toBe("acme/tiny-encoder");
    expect(encoderId(path.join("/models", "my-siglip"))).toBe("my-siglip");
  });
});
