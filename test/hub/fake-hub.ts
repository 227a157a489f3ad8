/**
 * A local stand-in for huggingface.co and its CDN: two node:http servers on 127.0.0.1 (different
 * ports, so different hosts) serving the resolve-URL layout from in-memory repos.
 *
 * hub: HEAD/GET /<org>/<repo>/resolve/<rev>/<file>  — small files answered directly (ETag = git sha1),
 *      LFS files answered with 302 → cdn and X-Linked-Etag (sha256) / X-Linked-Size; X-Repo-Commit always.
 *      GET /api/models/<org>/<repo>/revision/<rev> — the file listing.
 * cdn: GET /blobs/<sha256> with Range support (206, open or closed ranges), and fault modes to cut or corrupt a transfer.
 */
import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeRepo {
  commit: string;
  files: Record<string, Buffer>;
  /** Paths stored in LFS (redirected to the CDN). */
  lfs: string[];
  /** Requires `Authorization: Bearer <token>` on the hub host. */
  token?: string;
}

export interface RecordedRequest {
  server: "hub" | "cdn";
  method: string;
  url: string;
  authorization?: string;
  range?: string;
}

export interface FaultModes {
  /** Destroy the CDN socket after this many body bytes (then clear itself when `once`). */
  cutAfter?: number;
  cutOnce?: boolean;
  /** Flip the first body byte the CDN sends. */
  corrupt?: boolean;
  /** Flip the first body byte of a small (non-LFS) file the hub sends itself. */
  corruptSmall?: boolean;
  /** Append this query string to the CDN Location, as a signed CDN URL carries (e.g. `X-Amz-Signature=…`). */
  signedQuery?: string;
  /** The CDN answers every GET with this status and no body. */
  cdnStatus?: number;
  /** The CDN sends this Content-Range on 206 answers instead of the true one (a broken or hostile CDN). */
  cdnContentRange?: string;
  /** Headers that replace the hub's own on resolve answers (a hostile or broken endpoint). */
  headers?: Record<string, string>;
}

export const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const gitSha1 = (b: Buffer) =>
  createHash("sha1")
    .update(Buffer.concat([Buffer.from(`blob ${b.length}\0`), b]))
    .digest("hex");

function listen(server: http.Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    );
  });
}

export class FakeHub {
  readonly repos = new Map<string, FakeRepo>();
  readonly requests: RecordedRequest[] = [];
  faults: FaultModes = {};
  /** Called for every resolve request (HEAD or GET) before it is answered: to change a repo mid-pull. */
  onResolve?: (repo: string, file: string) => void;
  endpoint = "";
  cdn = "";
  private readonly blobs = new Map<string, Buffer>();
  private readonly hubServer = http.createServer((req, res) => this.onHub(req, res));
  private readonly cdnServer = http.createServer((req, res) => this.onCdn(req, res));

  async start(): Promise<this> {
    this.endpoint = await listen(this.hubServer);
    this.cdn = await listen(this.cdnServer);
    return this;
  }

  async stop(): Promise<void> {
    this.hubServer.closeAllConnections();
    this.cdnServer.closeAllConnections();
    await Promise.all([
      new Promise((r) => this.hubServer.close(r)),
      new Promise((r) => this.cdnServer.close(r)),
    ]);
  }

  addRepo(name: string, repo: FakeRepo): void {
    this.repos.set(name, repo);
    for (const p of repo.lfs) this.blobs.set(sha256(repo.files[p]), repo.files[p]);
  }

  count(server: "hub" | "cdn", method?: string): number {
    return this.requests.filter((r) => r.server === server && (!method || r.method === method)).length;
  }

  private record(server: "hub" | "cdn", req: http.IncomingMessage): void {
    this.requests.push({
      server,
      method: req.method ?? "",
      url: req.url ?? "",
      authorization: req.headers.authorization,
      range: req.headers.range,
    });
  }

  private onHub(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.record("hub", req);
    const url = decodeURIComponent(req.url ?? "");
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url);
    const repoName = api?.[1] ?? resolve?.[1];
    const repo = repoName ? this.repos.get(repoName) : undefined;
    if (!repo) {
      res.writeHead(404, { "X-Error-Code": "RepoNotFound" }).end();
      return;
    }
    if (repo.token && req.headers.authorization !== `Bearer ${repo.token}`) {
      res.writeHead(401, { "X-Error-Code": "RepoNotFound" }).end();
      return;
    }
    if (api) {
      const body = JSON.stringify({
        sha: repo.commit,
        siblings: Object.keys(repo.files).map((rfilename) => ({ rfilename })),
      });
      res.writeHead(200, { "Content-Type": "application/json" }).end(body);
      return;
    }
    const file = resolve![3];
    this.onResolve?.(repoName!, file);
    // A revision that is a commit hash stays that commit, as on the real hub (files do not change here).
    const commit = /^[0-9a-f]{40}$/.test(resolve![2]) ? resolve![2] : repo.commit;
    const data = repo.files[file];
    const writeHead = res.writeHead.bind(res);
    const overrides = this.faults.headers;
    if (overrides) {
      res.writeHead = ((status: number, headers: Record<string, string>) =>
        writeHead(status, { ...headers, ...overrides })) as typeof res.writeHead;
    }
    if (!data) {
      res.writeHead(404, { "X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit }).end();
      return;
    }
    if (repo.lfs.includes(file)) {
      const sha = sha256(data);
      res
        .writeHead(302, {
          Location: `${this.cdn}/blobs/${sha}${this.faults.signedQuery ? `?${this.faults.signedQuery}` : ""}`,
          "X-Repo-Commit": commit,
          "X-Linked-Etag": `"${sha}"`,
          "X-Linked-Size": String(data.length),
          ETag: `W/"redirect-${sha.slice(0, 8)}"`,
        })
        .end();
      return;
    }
    res.writeHead(200, {
      "X-Repo-Commit": commit,
      ETag: `"${gitSha1(data)}"`,
      "Content-Length": String(data.length),
    });
    const body = this.faults.corruptSmall
      ? Buffer.concat([Buffer.from([data[0] ^ 0xff]), data.subarray(1)])
      : data;
    res.end(req.method === "HEAD" ? undefined : body);
  }

  private onCdn(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.record("cdn", req);
    if (this.faults.cdnStatus !== undefined) {
      res.writeHead(this.faults.cdnStatus).end();
      return;
    }
    const data = this.blobs.get(new URL(req.url ?? "/", "http://cdn").pathname.replace(/^\/blobs\//, ""));
    if (!data) {
      res.writeHead(404).end();
      return;
    }
    // `bytes=a-` or `bytes=a-b` (b clamped to the last byte), as a CDN answers them.
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    const start = m ? Number(m[1]) : 0;
    if (start >= data.length && m) {
      res.writeHead(416, { "Content-Range": `bytes */${data.length}` }).end();
      return;
    }
    const end = m?.[2] ? Math.min(Number(m[2]), data.length - 1) : data.length - 1;
    let body = data.subarray(start, end + 1);
    if (this.faults.corrupt) body = Buffer.concat([Buffer.from([body[0] ^ 0xff]), body.subarray(1)]);
    res.writeHead(m ? 206 : 200, {
      "Content-Length": String(body.length),
      ...(m
        ? { "Content-Range": this.faults.cdnContentRange ?? `bytes ${start}-${end}/${data.length}` }
        : {}),
    });
    const cut = this.faults.cutAfter;
    if (cut !== undefined && cut < body.length) {
      if (this.faults.cutOnce) this.faults = {};
      res.write(body.subarray(0, cut), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    res.end(body);
  }
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await listen(server);
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}
