// The search tab: the gallery the server was started with (`serve --gallery <dir>`), ranked by a text
// query through POST /v1/gallery/search. Thumbnails are fetched with the API key, shown as blob: URLs.
import { ApiError, api, getJson, postJson } from "./api.js";
import { textEl } from "./render.js";

const $ = (id) => document.getElementById(id);
const thumbnails = new Map();

async function thumbnail(index) {
  if (!thumbnails.has(index)) {
    thumbnails.set(
      index,
      api(`/v1/gallery/images/${index}`).then(async (res) => URL.createObjectURL(await res.blob())),
    );
  }
  return thumbnails.get(index);
}

async function search() {
  const out = $("search-results");
  try {
    const res = await postJson("/v1/gallery/search", {
      model: $("search-model").value || undefined,
      query: $("search-query").value,
      top_k: 24,
    });
    const cards = res.data.map((hit) => {
      const li = document.createElement("li");
      const img = document.createElement("img");
      img.alt = hit.name;
      thumbnail(hit.index).then((url) => {
        img.src = url;
      });
      li.append(img, textEl("span", hit.name, "name"), textEl("span", hit.score.toFixed(4), "score"));
      return li;
    });
    out.replaceChildren(...cards);
    $("search-info").textContent =
      `${res.data.length} images, by cosine similarity to the query (${res.model})`;
  } catch (error) {
    out.replaceChildren();
    $("search-info").textContent = error.message;
  }
}

export async function setupSearch({ encoders }) {
  $("search-model").replaceChildren(...encoders.map((id) => new Option(id, id)));
  try {
    const { data } = await getJson("/v1/gallery");
    $("search-info").textContent = `The gallery holds ${data.length} images.`;
    $("search-form").hidden = false;
  } catch (error) {
    $("search-form").hidden = true;
    $("search-info").textContent =
      error instanceof ApiError && error.status === 404
        ? "No gallery: start the server with --gallery <dir> to search a folder of images by text."
        : error.message;
  }
}

export function initSearch() {
  $("search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    search();
  });
}
