// import(export(x)) reproduces x's image embeddings, for every kind that exports; and what does not
// export (linear, NaFlex, partial merge blocks) is refused with a message naming the kinds that do.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAdapterCard } from "../../src/adapter/index.js";
import { InvalidArgumentError } from "../../src/errors.js";
import { exportMmproj, importMmproj, readMmproj } from "../../src/interop/index.js";
import { writeTinySiglip } from "../../src/tiny/siglip.js";
import { spawnCli } from "../helpers/spawn-cli.js";
import {
  DL,
  DV,
  difference,
  type Parts,
  testImage,
  vlmkitEmbeddings,
  writeAdapter,
  writeParts,
} from "./fixtures.js";

let dir: string;
let parts: Parts;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "vlmkit-interop-rt-"));
  parts = await writeParts(dir);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("round trip: import(export(x))", () => {
  for (const [kind, factor, projector] of [
    ["avgpool", 4, "gemma3"],
    ["pixel-shuffle", 2, "idefics3"],
    ["mlp", 1, "mlp"],
  ] as const) {
    it(`${kind} → ${projector} → ${kind}`, async () => {
      const adapter = await writeAdapter(path.join(dir, `adapter-${kind}`), kind, factor);
      const file = path.join(dir, `${kind}.mmproj.gguf`);
      const written = await exportMmproj({ encoder: parts.encoder, adapter, out: file });
      expect(written.projector).toBe(projector);
      const m = await readMmproj(file);
      expect({
        projector: m.projector,
        width: m.hidden,
        dl: m.projectionDim,
        factor: m.factor,
        layers: m.layers,
      }).toEqual({
        projector,
        width: DV,
        dl: DL,
        factor,
        layers: 2,
      });

      const out = path.join(dir, `imported-${kind}`);
      const imported = await importMmproj(file, { out, llm: parts.llm });
      const card = await readAdapterCard(imported.adapterDir);
      expect(card.adapter).toEqual({ kind, factor });

      const image = testImage();
      const original = await vlmkitEmbeddings(parts.encoder, adapter, image);
      const again = await vlmkitEmbeddings(imported.encoderDir, imported.adapterDir, image);
      expect(again.dims).toEqual(original.dims);
      const d = difference(original.data, again.data);
      console.log(
        `round trip ${kind}: max |Δ| ${d.max.toExponential(2)}, mean ${d.mean.toExponential(2)} (rms ${d.rms.toFixed(3)})`,
      );
      // F32 weights are copied exactly into the same graph, so the embeddings are identical (0 in practice).
      expect(d.max).toBe(0);
    });
  }

  it("refuses linear adapters, naming the kinds that export", async () => {
    const adapter = await writeAdapter(path.join(dir, "adapter-linear"), "linear", 1);
    const error = await exportMmproj({
      encoder: parts.encoder,
      adapter,
      out: path.join(dir, "x.gguf"),
    }).catch((e) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toMatch(/avgpool \(gemma3\), pixel-shuffle \(idefics3\), mlp \(mlp\)/);
    expect(fs.existsSync(path.join(dir, "x.gguf"))).toBe(false);
  });

  it("works from the CLI, and refuses linear there too", async () => {
    const adapter = path.join(dir, "adapter-avgpool");
    const out = path.join(dir, "cli.gguf");
    const ok = await spawnCli([
      "export",
      "mmproj",
      "--encoder",
      parts.encoder,
      "--adapter",
      adapter,
      "--out",
      out,
      "--type",
      "f16",
      "--json",
    ]).exited;
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ projector: "gemma3", tokens: 4 });
    expect((await readMmproj(out)).projector).toBe("gemma3");
    const linear = path.join(dir, "adapter-linear");
    const refused = await spawnCli([
      "export",
      "mmproj",
      "--encoder",
      parts.encoder,
      "--adapter",
      linear,
      "--out",
      path.join(dir, "no.gguf"),
    ]).exited;
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/the kinds that export are avgpool \(gemma3\)/);
  });

  it("refuses NaFlex encoders", async () => {
    const naflex = path.join(dir, "naflex");
    await writeTinySiglip(naflex, { variant: "siglip2-naflex", towers: ["vision"] });
    const adapter = await writeAdapter(path.join(dir, "adapter-avgpool-nf"), "avgpool", 4);
    const error = await exportMmproj({ encoder: naflex, adapter, out: path.join(dir, "y.gguf") }).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toMatch(/NaFlex.*avgpool \(gemma3\)/);
  });

  it("refuses a merge factor that does not divide the patch grid", async () => {
    const adapter = await writeAdapter(path.join(dir, "adapter-avgpool-3"), "avgpool", 3);
    const error = await exportMmproj({
      encoder: parts.encoder,
      adapter,
      out: path.join(dir, "z.gguf"),
    }).catch((e) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toMatch(/not a multiple of the avgpool factor 3/);
  });
});
