// The classify tab: one image, labels one per line, sigmoid scores as bars from POST /v1/classify —
// two encoders side by side when two are served (e.g. SigLIP vs SigLIP 2).
import { postJson } from "./api.js";
import { acceptImages } from "./images.js";
import { textEl } from "./render.js";

const $ = (id) => document.getElementById(id);
let image;

function column(title, results) {
  const col = document.createElement("div");
  col.className = "column";
  col.append(textEl("h3", title));
  const list = document.createElement("ol");
  list.className = "bars";
  for (const { label, score } of results) {
    const li = document.createElement("li");
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.style.width = `${Math.max(0.5, score * 100)}%`;
    li.append(textEl("span", label, "label"), bar, textEl("span", score.toPrecision(3), "score"));
    list.append(li);
  }
  col.append(list);
  return col;
}

async function run() {
  const labels = $("classify-labels")
    .value.split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  const out = $("classify-results");
  if (!image) return out.replaceChildren(textEl("p", "Drop, paste or pick an image first.", "muted"));
  if (!labels.length) return out.replaceChildren(textEl("p", "Give at least one label.", "muted"));
  const models = [...new Set([$("classify-a").value, $("classify-b").value].filter(Boolean))];
  out.replaceChildren(textEl("p", "Classifying…", "muted"));
  const columns = await Promise.all(
    models.map(async (model) => {
      try {
        const res = await postJson("/v1/classify", { model, images: [image], labels });
        return column(model, res.data[0].results);
      } catch (error) {
        const col = column(model, []);
        col.append(textEl("p", error.message, "error-text"));
        return col;
      }
    }),
  );
  out.replaceChildren(...columns);
}

function show(url) {
  image = url;
  $("classify-preview").src = url;
  $("classify-preview").hidden = false;
  $("classify-hint").hidden = true;
}

export function setupClassify({ encoders }) {
  $("classify-a").replaceChildren(...encoders.map((id) => new Option(id, id)));
  $("classify-b").replaceChildren(new Option("(none)", ""), ...encoders.map((id) => new Option(id, id)));
  $("classify-b").value = encoders[1] ?? "";
  $("classify-run").disabled = encoders.length === 0;
}

export function initClassify({ active }) {
  acceptImages({
    target: $("classify-drop"),
    input: $("classify-file"),
    active,
    onImages: (urls) => show(urls[0]),
  });
  $("classify-run").addEventListener("click", run);
}
