// The chat tab: a conversation with a served VLM through POST /v1/chat/completions (streamed), kept
// in localStorage. Images are attached by drag-and-drop, paste or the file picker.
import { api, sseData } from "./api.js";
import { acceptImages, thumb } from "./images.js";
import { renderMarkdown, textEl } from "./render.js";

const STORE = "vlmkit.chat";
const $ = (id) => document.getElementById(id);

/** { model, messages: [{ role: "user"|"assistant", text, images: [dataUrl] }] } */
function load() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORE) ?? "null");
    if (saved && Array.isArray(saved.messages)) return saved;
  } catch {}
  return { model: "", messages: [] };
}

let chat = load();
let pending = [];
let running;

function save() {
  try {
    localStorage.setItem(STORE, JSON.stringify(chat));
  } catch {
    // Over the storage quota (images are large): keep the text, drop the images of older turns.
    const light = { ...chat, messages: chat.messages.map((m) => ({ ...m, images: [] })) };
    try {
      localStorage.setItem(STORE, JSON.stringify(light));
    } catch {}
  }
}

function bubble(message) {
  const li = document.createElement("li");
  li.className = `msg ${message.role}`;
  if (message.images?.length) {
    const row = document.createElement("div");
    row.className = "thumbs";
    for (const url of message.images) row.append(thumb(url));
    li.append(row);
  }
  const body = document.createElement("div");
  body.className = "body";
  // The user's words are shown as typed; the model's answer as markdown (escaped, never HTML).
  if (message.role === "assistant") renderMarkdown(body, message.text);
  else body.textContent = message.text;
  li.append(body);
  return li;
}

/** Keeps the newest message in view; the log scrolls on its own, the composer stays put. */
function scrollToEnd() {
  const log = $("chat-log");
  log.scrollTop = log.scrollHeight;
}

function redraw() {
  $("chat-log").replaceChildren(...chat.messages.map(bubble));
  scrollToEnd();
}

function drawPending() {
  $("chat-pending").replaceChildren(
    ...pending.map((url, i) => {
      const img = thumb(url, "attached image (click to remove)");
      img.addEventListener("click", () => {
        pending.splice(i, 1);
        drawPending();
      });
      return img;
    }),
  );
}

/** OpenAI messages: images first in a user turn, then its text. */
function requestMessages() {
  return chat.messages.map((m) =>
    m.role === "assistant"
      ? { role: "assistant", content: m.text }
      : {
          role: "user",
          content: [
            ...m.images.map((url) => ({ type: "image_url", image_url: { url } })),
            { type: "text", text: m.text },
          ],
        },
  );
}

function setRunning(on) {
  $("chat-send").hidden = on;
  $("chat-stop").hidden = !on;
}

async function send() {
  const text = $("chat-input").value.trim();
  if (!text && pending.length === 0) return;
  chat.model = $("chat-model").value;
  chat.messages.push({ role: "user", text, images: pending });
  pending = [];
  $("chat-input").value = "";
  drawPending();
  save();
  redraw();

  const answer = { role: "assistant", text: "" };
  const li = bubble(answer);
  li.classList.add("streaming");
  $("chat-log").append(li);
  scrollToEnd();
  const body = li.querySelector(".body");
  running = new AbortController();
  setRunning(true);
  try {
    const res = await api("/v1/chat/completions", {
      method: "POST",
      signal: running.signal,
      body: {
        model: chat.model || undefined,
        messages: requestMessages(),
        max_tokens: Number($("chat-max-tokens").value) || undefined,
        stream: true,
      },
    });
    for await (const chunk of sseData(res)) {
      answer.text += chunk.choices?.[0]?.delta?.content ?? "";
      renderMarkdown(body, answer.text);
      scrollToEnd();
    }
  } catch (error) {
    if (error.name !== "AbortError") {
      li.classList.add("error");
      li.append(textEl("p", error.message, "error-text"));
    }
  } finally {
    running = undefined;
    setRunning(false);
    li.classList.remove("streaming");
  }
  if (answer.text) {
    chat.messages.push(answer);
    save();
  }
}

export function setupChat({ vlms }) {
  const select = $("chat-model");
  select.replaceChildren(...vlms.map((id) => new Option(id, id)));
  if (vlms.includes(chat.model)) select.value = chat.model;
  select.disabled = vlms.length === 0;
  $("chat-send").disabled = vlms.length === 0;
  redraw();
}

export function initChat({ active }) {
  acceptImages({
    target: $("chat-form"),
    input: $("chat-files"),
    active,
    onImages: (urls) => {
      pending.push(...urls);
      drawPending();
    },
  });
  $("chat-form").addEventListener("submit", (e) => {
    e.preventDefault();
    if (!running) send();
  });
  $("chat-input").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      if (!running) send();
    }
  });
  $("chat-stop").addEventListener("click", () => running?.abort());
  $("chat-clear").addEventListener("click", () => {
    running?.abort();
    chat = { model: $("chat-model").value, messages: [] };
    save();
    redraw();
  });
  redraw();
}
