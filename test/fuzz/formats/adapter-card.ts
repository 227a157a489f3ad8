/**
 * adapter.json: `loadAdapter` on a copy of the demo adapter folder whose card is mutated (the card
 * schema, compatibility checks, the weights read and the projection session built from them).
 */
import fs from "node:fs";
import path from "node:path";
import { loadAdapter } from "../../../src/adapter/adapter-files.js";
import { type FuzzFormat, fileSeeds, withMember } from "../harness/format.js";

export const adapterCard: FuzzFormat = {
  name: "adapter-card",
  target: "loadAdapter (adapter.json schema, compatibility, weights, projection session)",
  suiteCases: 100,
  timeoutMs: 10_000,
  async prepare(dir) {
    fs.cpSync("models/demo/adapter", path.join(dir, "adapter"), { recursive: true });
    fs.cpSync("models/demo/adapter-chat", path.join(dir, "adapter-chat"), { recursive: true });
  },
  async seeds(dir) {
    return fileSeeds(dir, ["adapter/adapter.json", "adapter-chat/adapter.json"], "json");
  },
  async run(input, work) {
    await withMember(work, input.seed.name, input.bytes, async () => {
      const loaded = await loadAdapter(path.join(work, path.dirname(input.seed.name)));
      await loaded.projection.dispose();
    });
  },
};
