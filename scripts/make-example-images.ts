// Writes the small example images in examples/images/ (coloured shapes drawn as SVG, rendered by sharp).
import path from "node:path";
import sharp from "sharp";

const shapes: Record<string, string> = {
  "red-circle": '<circle cx="64" cy="64" r="40" fill="#d62728"/>',
  "blue-square": '<rect x="28" y="28" width="72" height="72" fill="#1f77b4"/>',
  "green-triangle": '<polygon points="64,20 108,104 20,104" fill="#2ca02c"/>',
};
const out = path.join(import.meta.dirname, "..", "examples", "images");
for (const [name, shape] of Object.entries(shapes)) {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128"><rect width="128" height="128" fill="#f4f1ea"/>${shape}</svg>`;
  await sharp(Buffer.from(svg))
    .png()
    .toFile(path.join(out, `${name}.png`));
}
