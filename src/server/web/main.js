// Tabs, the API key field and the model lists; each tab lives in its own module.
import { ApiError, apiKey, getJson } from "./api.js";
import { initChat, setupChat } from "./chat.js";
import { initClassify, setupClassify } from "./classify.js";
import { initSearch, setupSearch } from "./search.js";

const $ = (id) => document.getElementById(id);
const tabs = [...document.querySelectorAll("[role=tab]")];
const shown = (name) => () => !$(`tab-${name}`).hidden;

function select(name) {
  for (const tab of tabs) {
    const on = tab.dataset.tab === name;
    tab.setAttribute("aria-selected", String(on));
    $(`tab-${tab.dataset.tab}`).hidden = !on;
  }
}

function notice(text) {
  $("notice").textContent = text ?? "";
  $("notice").hidden = !text;
}

async function refresh() {
  try {
    const { data } = await getJson("/v1/models");
    notice();
    const ids = (kind) => data.filter((m) => m.kind === kind).map((m) => m.id);
    setupChat({ vlms: ids("vlm") });
    setupClassify({ encoders: ids("encoder") });
    await setupSearch({ encoders: ids("encoder") });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      notice("This server needs an API key: enter it above (it is kept in this browser).");
      $("api-key").focus();
    } else notice(error.message);
  }
}

for (const tab of tabs) tab.addEventListener("click", () => select(tab.dataset.tab));
$("api-key").value = apiKey.get();
$("api-key").addEventListener("change", () => {
  apiKey.set($("api-key").value.trim());
  refresh();
});
initChat({ active: shown("chat") });
initClassify({ active: shown("classify") });
initSearch();
refresh();
