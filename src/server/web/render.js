// Model output and user text are text, never HTML: markdown is rendered by markdown-it with raw HTML
// off (every "<" is escaped), and plain text goes through textContent.
const md = globalThis.markdownit?.({ html: false, linkify: true, breaks: true });
md?.disable("image"); // no requests to addresses a model wrote

/** Renders `text` as markdown into `el` (plain text if markdown-it did not load). */
export function renderMarkdown(el, text) {
  if (!md) {
    el.textContent = text;
    return;
  }
  el.innerHTML = md.render(text);
  for (const a of el.querySelectorAll("a")) {
    a.target = "_blank";
    a.rel = "noopener noreferrer";
  }
}

/** A new element with text content (never parsed as HTML). */
export function textEl(tag, text, className) {
  const el = document.createElement(tag);
  el.textContent = text;
  if (className) el.className = className;
  return el;
}
