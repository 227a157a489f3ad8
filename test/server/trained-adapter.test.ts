// The adapter vlmkit trained (adapters/shapes, see scripts/train-demo-adapter.ts), served over the
// OpenAI and Ollama routes: the answers are the colours of the example images.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/server/app.js";
import { loadVlms } from "../../src/server/load-vlms.js";
import { ServedModels } from "../../src/server/models.js";
import { post } from "./helpers.js";

const demo = path.join(import.meta.dirname, "..", "..", "models", "demo");
const examples = path.join(import.meta.dirname, "..", "..", "examples", "images");
let models: ServedModels;
let app: ReturnType<typeof createApp>["app"];

const dataUrl = (file: string) =>
  `data:image/png;base64,${fs.readFileSync(path.join(examples, file)).toString("base64")}`;

beforeAll(async () => {
  models = new ServedModels();
  await models.loading(() =>
    loadVlms(
      models,
      {
        shapes: {
          encoder: path.join(demo, "siglip2"),
          adapter: path.join(demo, "..", "..", "adapters", "shapes"),
          llm: path.join(demo, "..", "..", "adapters", "shapes", "gemma3.gguf"),
        },
      },
      { llm: { gpu: false, contextSize: 1024, sequences: 2, threads: 1 }, encoder: { threads: 1 } },
    ),
  );
  ({ app } = createApp({ models, apiKey: false }));
});

afterAll(async () => {
  await models?.dispose();
});

describe("a trained adapter behind the HTTP API", () => {
  it("answers the colour over /v1/chat/completions", async () => {
    for (const [file, colour] of [
      ["red-circle.png", "red"],
      ["blue-square.png", "blue"],
      ["green-triangle.png", "green"],
    ]) {
      const res = await post(app, "/v1/chat/completions", {
        model: "shapes",
        max_tokens: 6,
        messages: [
          {
            role: "user",
            content: [
              { type: "image_url", image_url: { url: dataUrl(file) } },
              { type: "text", text: "what color is the shape?" },
            ],
          },
        ],
      });
      expect(res.status).toBe(200);
      const body = res.body as { choices: { message: { content: string } }[] };
      expect(body.choices[0].message.content.trim()).toBe(colour);
    }
  });

  it("answers the colour over Ollama's /api/generate", async () => {
    const res = await post(app, "/api/generate", {
      model: "shapes",
      prompt: "what color is the shape?",
      images: [fs.readFileSync(path.join(examples, "blue-square.png")).toString("base64")],
      stream: false,
      options: { num_predict: 6 },
    });
    expect(res.status).toBe(200);
    expect((res.body as { response: string }).response.trim()).toBe("blue");
  });
});
