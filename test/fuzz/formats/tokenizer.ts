/**
 * tokenizer.json and tokenizer_config.json: `SiglipTextTokenizer.load` on copies of the demo SigLIP
 * and SigLIP 2 folders, then one encode of a short and a long text.
 */
import fs from "node:fs";
import path from "node:path";
import { SiglipTextTokenizer } from "../../../src/encoders/text-tokenizer.js";
import { type FuzzFormat, fileSeeds, withMember } from "../harness/format.js";

const TEXTS = ["a photo of a red circle", "word ".repeat(2000)];

export const tokenizer: FuzzFormat = {
  name: "tokenizer",
  target: "SiglipTextTokenizer.load (tokenizer.json, tokenizer_config.json) + encode",
  suiteCases: 150,
  timeoutMs: 10_000,
  async prepare(dir) {
    for (const f of ["siglip", "siglip2"]) {
      fs.mkdirSync(path.join(dir, f));
      for (const name of ["tokenizer.json", "tokenizer_config.json"]) {
        fs.copyFileSync(path.join("models/demo", f, name), path.join(dir, f, name));
      }
    }
  },
  async seeds(dir) {
    const names = ["siglip", "siglip2"].flatMap((f) => [`${f}/tokenizer.json`, `${f}/tokenizer_config.json`]);
    return fileSeeds(dir, names, "json");
  },
  async run(input, work) {
    await withMember(work, input.seed.name, input.bytes, async () => {
      const folder = input.seed.name.split("/")[0];
      const t = SiglipTextTokenizer.load(
        path.join(work, folder),
        folder === "siglip" ? "siglip" : "siglip2",
        64,
      );
      t.encode(TEXTS);
    });
  },
};
