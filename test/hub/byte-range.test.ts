// fetchByteRange reads a few bytes of a large file, and a server that ignores Range, lies about the
// range or cuts the connection gets a HubError naming it, never a wrong or short result.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fetchJsonFile } from "../../src/hub/download.js";
import { fetchByteRange, hostOf } from "../../src/hub/http.js";
import { resolveHubSettings } from "../../src/hub/settings.js";
import { FakeHub, sha256 } from "./fake-hub.js";

const COMMIT = "e".repeat(40);
const REPO = "acme/blobs";
/** 20 MB whose every byte says where it is (mod 251), so a misplaced slice shows. */
const BIG = Buffer.from(Array.from({ length: 20 << 20 }, (_, i) => i % 251));

let hub: FakeHub;
beforeEach(async () => {
  hub = await new FakeHub().start();
  hub.addRepo(REPO, {
    commit: COMMIT,
    files: {
      "big.bin": BIG,
      "small.bin": BIG.subarray(0, 4 << 20),
      "config.json": Buffer.alloc(2 << 20, 32),
    },
    lfs: ["big.bin"],
  });
});
afterEach(() => hub.stop());

const req = () => ({ tokenHost: hostOf(hub.endpoint) });
const cdnUrl = () => `${hub.cdn}/blobs/${sha256(BIG)}`;
const resolve = (file: string) => `${hub.endpoint}/${REPO}/resolve/${COMMIT}/${file}`;

describe("fetchByteRange", () => {
  it("returns exactly the bytes asked for, by a closed Range", async () => {
    const got = await fetchByteRange(cdnUrl(), 10_000_000, 5, req());
    expect([...got]).toEqual([...BIG.subarray(10_000_000, 10_000_005)]);
    expect(hub.requests.at(-1)?.range).toBe("bytes=10000000-10000004");
  });

  it("reads a server that ignores Range from the start, only up to the range, within 16 MB", async () => {
    // The hub answers small files itself and ignores Range.
    const got = await fetchByteRange(resolve("small.bin"), 1_000_000, 7, req());
    expect([...got]).toEqual([...BIG.subarray(1_000_000, 1_000_007)]);
    hub.addRepo(REPO, { commit: COMMIT, files: { "big.bin": BIG }, lfs: [] });
    await expect(fetchByteRange(resolve("big.bin"), 17 << 20, 4, req())).rejects.toMatchObject({
      code: "HUB_DOWNLOAD_FAILED",
      message: expect.stringMatching(
        /ignored the Range header, and reading 17825796 bytes to reach it is over 16777216/,
      ),
    });
  });

  it("refuses a 206 that starts elsewhere, and a connection cut short", async () => {
    hub.faults = { cdnContentRange: "bytes 0-4/20971520" };
    await expect(fetchByteRange(cdnUrl(), 100, 5, req())).rejects.toThrow(
      /a 206 answer with Content-Range "bytes 0-4\/20971520" for bytes 100–104/,
    );
    hub.faults = { cutAfter: 1000 };
    await expect(fetchByteRange(cdnUrl(), 0, 1 << 20, req())).rejects.toMatchObject({
      code: "HUB_DOWNLOAD_FAILED",
    });
  });
});

describe("fetchJsonFile", () => {
  it("refuses a JSON file over 1 MB", async () => {
    const settings = resolveHubSettings({ endpoint: hub.endpoint, token: false });
    await expect(
      fetchJsonFile({ repo: REPO, revision: COMMIT, file: "config.json" }, settings),
    ).rejects.toThrow(/"config\.json" of acme\/blobs@e{40} is 2097152 bytes; at most 1048576 are read/);
  });
});
