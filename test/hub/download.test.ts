import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HubError } from "../../src/errors.js";
import { downloadFile } from "../../src/hub/download.js";
import { closedPort, FakeHub, sha256 } from "./fake-hub.js";

const COMMIT = "a".repeat(40);
const REPO = "acme/tiny-encoder";
const weights = randomBytes(256 * 1024 + 17); // several chunks, odd size
const config = Buffer.from(JSON.stringify({ model_type: "siglip" }));

let hub: FakeHub;
let cacheDir: string;

beforeEach(async () => {
  hub = await new FakeHub().start();
  hub.addRepo(REPO, {
    commit: COMMIT,
    files: { "config.json": config, "onnx/vision_model.onnx": weights },
    lfs: ["onnx/vision_model.onnx"],
  });
  hub.addRepo("acme/private", {
    commit: "b".repeat(40),
    files: { "model.gguf": weights },
    lfs: ["model.gguf"],
    token: "hf_secret",
  });
  cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), "vlmkit-hub-"));
});

afterEach(async () => {
  await hub.stop();
  await fs.rm(cacheDir, { recursive: true, force: true });
});

const opts = () => ({ endpoint: hub.endpoint, cacheDir, token: false as const });
const repoDir = () => path.join(cacheDir, "models--acme--tiny-encoder");

async function hubError(p: Promise<unknown>): Promise<HubError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HubError);
  return error as HubError;
}

describe("downloadFile", () => {
  it("writes the huggingface_hub cache layout: blobs, refs, relative snapshot symlinks", async () => {
    const lfs = await downloadFile({ ...opts(), repo: REPO, file: "onnx/vision_model.onnx" });
    const small = await downloadFile({ ...opts(), repo: REPO, file: "config.json" });

    expect(lfs.path).toBe(path.join(repoDir(), "snapshots", COMMIT, "onnx", "vision_model.onnx"));
    expect(lfs).toMatchObject({
      commit: COMMIT,
      etag: sha256(weights),
      size: weights.length,
      fromCache: false,
    });
    expect(await fs.readFile(path.join(repoDir(), "refs", "main"), "utf8")).toBe(COMMIT);
    expect(await fs.readFile(path.join(repoDir(), "blobs", sha256(weights)))).toEqual(weights);
    const link = await fs.readlink(lfs.path);
    expect(link).toBe(path.join("..", "..", "..", "blobs", sha256(weights)));
    expect(await fs.readFile(lfs.path)).toEqual(weights);
    expect(small.etag).toMatch(/^[0-9a-f]{40}$/); // git blob sha1 for non-LFS files
    expect(await fs.readFile(small.path)).toEqual(config);
    // The LFS bytes came from the CDN host after a 302; the small file straight from the hub.
    expect(hub.count("cdn", "GET")).toBe(1);
    expect(hub.requests.filter((r) => r.server === "hub" && r.method === "GET")).toHaveLength(1);
  });

  it("serves a second call from the cache without transferring bytes", async () => {
    await downloadFile({ ...opts(), repo: REPO, file: "onnx/vision_model.onnx" });
    const progress: number[] = [];
    const again = await downloadFile({
      ...opts(),
      repo: REPO,
      file: "onnx/vision_model.onnx",
      onProgress: (done) => progress.push(done),
    });
    expect(again.fromCache).toBe(true);
    expect(hub.count("cdn")).toBe(1);
    expect(progress).toEqual([weights.length]);
  });

  it("keeps a cut transfer as .incomplete and resumes it with Range on the next call", async () => {
    const half = Math.floor(weights.length / 2);
    hub.faults = { cutAfter: half };
    const error = await hubError(
      downloadFile({ ...opts(), repo: REPO, file: "onnx/vision_model.onnx", retries: 0 }),
    );
    expect(error.code).toBe("HUB_DOWNLOAD_FAILED");
    const incomplete = path.join(repoDir(), "blobs", `${sha256(weights)}.incomplete`);
    const partial = await fs.readFile(incomplete);
    expect(partial.length).toBeGreaterThan(0);
    expect(partial.length).toBeLessThan(weights.length);
    expect(error.message).toContain(`${partial.length} of ${weights.length} bytes`);

    hub.faults = {};
    const done = await downloadFile({ ...opts(), repo: REPO, file: "onnx/vision_model.onnx" });
    const cdnGets = hub.requests.filter((r) => r.server === "cdn");
    expect(cdnGets.at(-1)?.range).toBe(`bytes=${partial.length}-`);
    expect(await fs.readFile(done.path)).toEqual(weights);
    await expect(fs.access(incomplete)).rejects.toThrow();
  });

  it("resumes within one call after a dropped connection", async () => {
    hub.faults = { cutAfter: 1000, cutOnce: true };
    const seen: number[] = [];
    const done = await downloadFile({
      ...opts(),
      repo: REPO,
      file: "onnx/vision_model.onnx",
      onProgress: (d) => seen.push(d),
    });
    const cdnGets = hub.requests.filter((r) => r.server === "cdn");
    expect(cdnGets).toHaveLength(2);
    expect(cdnGets[0].range).toBeUndefined();
    expect(cdnGets[1].range).toMatch(/^bytes=\d+-$/);
    expect(await fs.readFile(done.path)).toEqual(weights);
    expect(seen.at(-1)).toBe(weights.length);
  });

  it("sends the token to the hub host and not to the CDN it redirects to", async () => {
    const done = await downloadFile({
      ...opts(),
      token: "hf_secret",
      repo: "acme/private",
      file: "model.gguf",
    });
    expect(await fs.readFile(done.path)).toEqual(weights);
    const hubHead = hub.requests.find((r) => r.server === "hub");
    const cdnGet = hub.requests.find((r) => r.server === "cdn");
    expect(hubHead?.authorization).toBe("Bearer hf_secret");
    expect(cdnGet).toBeDefined();
    expect(cdnGet?.authorization).toBeUndefined();
  });

  it("fails with HUB_UNAUTHORIZED naming HF_TOKEN when a private repo gets no token", async () => {
    const error = await hubError(downloadFile({ ...opts(), repo: "acme/private", file: "model.gguf" }));
    expect(error.code).toBe("HUB_UNAUTHORIZED");
    expect(error.message).toContain("HF_TOKEN");
    expect(error.message).toContain("acme/private");
  });

  it("fails with NOT_FOUND naming repo, file and revision", async () => {
    const error = await hubError(
      downloadFile({ ...opts(), repo: REPO, file: "onnx/missing.onnx", revision: "v1" }),
    );
    expect(error.code).toBe("NOT_FOUND");
    expect(error.message).toContain(`${REPO}@v1`);
    expect(error.message).toContain("onnx/missing.onnx");
  });

  it("rejects bytes whose sha256 differs from the LFS etag and leaves no blob behind", async () => {
    hub.faults = { corrupt: true };
    const error = await hubError(downloadFile({ ...opts(), repo: REPO, file: "onnx/vision_model.onnx" }));
    expect(error.code).toBe("INTEGRITY_MISMATCH");
    expect(error.message).toContain(sha256(weights));
    const blobs = await fs.readdir(path.join(repoDir(), "blobs"));
    expect(blobs).toEqual([]);
  });

  it("rejects a small file whose bytes differ from its git blob sha1 and leaves no blob behind", async () => {
    hub.faults = { corruptSmall: true };
    const error = await hubError(downloadFile({ ...opts(), repo: REPO, file: "config.json" }));
    expect(error.code).toBe("INTEGRITY_MISMATCH");
    expect(error.message).toMatch(/with git blob sha1 [0-9a-f]{40}/);
    expect(await fs.readdir(path.join(repoDir(), "blobs"))).toEqual([]);
  });

  it("keeps a signed CDN URL's query string and credentials out of errors", async () => {
    hub.faults = { signedQuery: "X-Amz-Signature=s3cr3t&Expires=1", cdnStatus: 403 };
    const error = await hubError(downloadFile({ ...opts(), repo: REPO, file: "onnx/vision_model.onnx" }));
    expect(`${error.message} ${JSON.stringify(error.details)}`).not.toMatch(/s3cr3t|X-Amz/);
    hub.faults = { signedQuery: "sig=s3cr3t", cdnStatus: 500 };
    const failed = await hubError(downloadFile({ ...opts(), repo: REPO, file: "onnx/vision_model.onnx" }));
    expect(failed.code).toBe("HUB_DOWNLOAD_FAILED");
    expect(failed.message).toContain(`${hub.cdn}/blobs/`);
    expect(`${failed.message} ${JSON.stringify(failed.details)}`).not.toContain("s3cr3t");
    const withUser = hub.endpoint.replace("http://", "http://me:pa55@");
    const missing = await hubError(
      downloadFile({ ...opts(), endpoint: withUser, repo: REPO, file: "onnx/missing.onnx" }),
    );
    expect(`${missing.message} ${JSON.stringify(missing.details)}`).not.toContain("pa55");
  });

  it("fails with HUB_OFFLINE naming the host when nothing listens and the cache is empty", async () => {
    const port = await closedPort();
    const error = await hubError(
      downloadFile({ ...opts(), endpoint: `http://127.0.0.1:${port}`, repo: REPO, file: "config.json" }),
    );
    expect(error.code).toBe("HUB_OFFLINE");
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(error.message).toContain("ECONNREFUSED");
    expect(error.message).toContain("does not hold it");
    expect(error.message).toContain("HF_HUB_OFFLINE");
  });

  it("falls back to the cached copy when the hub cannot be reached", async () => {
    await downloadFile({ ...opts(), repo: REPO, file: "config.json" });
    const port = await closedPort();
    const cached = await downloadFile({
      ...opts(),
      endpoint: `http://127.0.0.1:${port}`,
      repo: REPO,
      file: "config.json",
    });
    expect(cached.fromCache).toBe(true);
    expect(await fs.readFile(cached.path)).toEqual(config);
  });

  it("with HF_HUB_OFFLINE serves from the cache with no request, or fails clearly", async () => {
    await downloadFile({ ...opts(), repo: REPO, file: "config.json" });
    const before = hub.requests.length;
    const saved = process.env.HF_HUB_OFFLINE;
    process.env.HF_HUB_OFFLINE = "1";
    try {
      const cached = await downloadFile({ ...opts(), repo: REPO, file: "config.json" });
      expect(cached).toMatchObject({ fromCache: true, commit: COMMIT });
      const error = await hubError(downloadFile({ ...opts(), repo: REPO, file: "onnx/vision_model.onnx" }));
      expect(error.code).toBe("HUB_OFFLINE");
      expect(error.message).toContain("HF_HUB_OFFLINE");
      expect(error.message).toContain("onnx/vision_model.onnx");
    } finally {
      if (saved === undefined) delete process.env.HF_HUB_OFFLINE;
      else process.env.HF_HUB_OFFLINE = saved;
    }
    expect(hub.requests.length).toBe(before);
  });

  it("transfers a blob once when two pulls of the same file run at once (a lock beside the blob)", async () => {
    const [a, b] = await Promise.all([
      downloadFile({ ...opts(), repo: REPO, file: "onnx/vision_model.onnx" }),
      downloadFile({ ...opts(), repo: REPO, file: "onnx/vision_model.onnx" }),
    ]);
    expect(hub.count("cdn", "GET")).toBe(1);
    for (const r of [a, b]) expect(sha256(await fs.readFile(r.path))).toBe(sha256(weights));
    const blobs = await fs.readdir(path.join(repoDir(), "blobs"));
    expect(blobs).toEqual([sha256(weights)]); // no .lock or .incomplete left
  });

  it("takes over a lock whose holder is gone", async () => {
    const blobs = path.join(repoDir(), "blobs");
    await fs.mkdir(blobs, { recursive: true });
    // A pid that cannot be running: the lock of a crashed pull on this host.
    await fs.writeFile(
      path.join(blobs, `${sha256(weights)}.lock`),
      JSON.stringify({ pid: 2 ** 22 + 7, host: os.hostname() }),
    );
    const r = await downloadFile({ ...opts(), repo: REPO, file: "onnx/vision_model.onnx" });
    expect(sha256(await fs.readFile(r.path))).toBe(sha256(weights));
    expect(await fs.readdir(blobs)).toEqual([sha256(weights)]);
  });

  it("refuses file paths that would leave the snapshot folder", async () => {
    await expect(downloadFile({ ...opts(), repo: REPO, file: "../../etc/passwd" })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
  });

  it("refuses an ETag that is not a hash instead of writing the blob outside the cache", async () => {
    for (const etag of ['"../../../../escape-etag"', 'W/"../escape"', '"abc"', `"${"g".repeat(40)}"`]) {
      hub.faults = { headers: { ETag: etag } };
      const error = await downloadFile({ ...opts(), repo: REPO, file: "config.json" }).catch((e) => e);
      expect(error).toBeInstanceOf(HubError);
      expect(error.code).toBe("HUB_DOWNLOAD_FAILED");
      const where = path.resolve(repoDir(), "blobs", etag.replace(/^W\//, "").replaceAll('"', ""));
      for (const p of [where, `${where}.incomplete`])
        expect(await fs.stat(p).catch(() => undefined)).toBeUndefined();
      expect(error.message).toMatch(
        /answered ETag ".*"; expected a git sha1 \(40 hex digits\) or an LFS sha256 \(64\)$/,
      );
    }
    expect(await fs.readdir(repoDir()).catch(() => [])).not.toContain("blobs");
  });

  it("refuses an X-Repo-Commit that is not a commit hash: no symlink or removal outside the cache", async () => {
    const victim = path.join(path.dirname(cacheDir), `escape-victim-${path.basename(cacheDir)}`);
    await fs.mkdir(victim);
    await fs.writeFile(path.join(victim, "config.json"), "keep me");
    try {
      for (const commit of [path.relative(path.join(repoDir(), "snapshots"), victim), "..", "A".repeat(40)]) {
        hub.faults = { headers: { "X-Repo-Commit": commit } };
        const error = await downloadFile({ ...opts(), repo: REPO, file: "config.json" }).catch((e) => e);
        expect(error).toBeInstanceOf(HubError);
        expect(error.message).toContain(
          `answered X-Repo-Commit ${JSON.stringify(commit)}; expected a 40-digit hex commit hash`,
        );
      }
      expect(await fs.readFile(path.join(victim, "config.json"), "utf8")).toBe("keep me");
      expect(await fs.readdir(repoDir()).catch(() => [])).toEqual([]);
    } finally {
      await fs.rm(victim, { recursive: true, force: true });
    }
  });

  it("refuses revisions with . or .. segments before any request", async () => {
    for (const revision of ["..", "../../x", "main/../..", "/abs", "a//b"]) {
      await expect(downloadFile({ ...opts(), repo: REPO, file: "config.json", revision })).rejects.toThrow(
        `invalid revision "${revision}"; expected a branch, tag or commit hash without empty, "." or ".." segments`,
      );
    }
    expect(hub.requests).toEqual([]);
  });
});
